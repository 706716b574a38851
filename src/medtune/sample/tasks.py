"""Raw rows for the tasks built on the synthetic patients: reranker, cot, ner, nli.

Every builder returns clean rows in one of the task's *accepted* input formats (cot: chat and instruct;
ner: all five GLiNER2 formats), each with a `group` (patient/document) and `meta` (templates and entity
names used, holdout flag) that the split stage uses to report seen vs unseen test rows.
Each task draws its own patients, so no patient note is shared between tasks (build-base pretrains on
every task's train split, which would otherwise leak another task's test notes).
"""

from __future__ import annotations

import random

from medtune import prompts
from medtune.sample import lexicon as lx
from medtune.sample import world
from medtune.sample.world import Patient, Sentence, fill


def _patients(rng: random.Random, prefix: str, holdout_fraction: float):
    index = 0
    while True:
        index += 1
        holdout = rng.random() < holdout_fraction
        yield world.make_patient(rng, f"{prefix}-{index:05d}", holdout)


def _meta(templates: list[str], names: list[str], holdout: bool, **extra) -> dict:
    return {"templates": sorted(set(templates)), "names": sorted(set(names)), "holdout": holdout, **extra}


def _criteria_rows(rng: random.Random, n: int, holdout_fraction: float, prefix: str, per_patient: tuple[int, int]):
    """(patient, note, criterion, verdict) tuples; about half the criteria concern facts the note reports."""
    patients = _patients(rng, prefix, holdout_fraction)
    produced = 0
    while produced < n:
        p = next(patients)
        note = world.render_note(rng, p)
        seen_texts: set[str] = set()
        for i in range(min(rng.randint(*per_patient), n - produced)):
            c = world.make_criterion(rng, p, about_patient=rng.random() < 0.5)
            if c.text in seen_texts:
                continue
            seen_texts.add(c.text)
            produced += 1
            yield p, note, c, world.evaluate(c, p)


def generate_reranker(rng: random.Random, n: int, holdout_fraction: float) -> list[dict]:
    rows = []
    for p, note, c, verdict in _criteria_rows(rng, n, holdout_fraction, "rr", (6, 10)):
        names = p.names + [c.text[a:b] for a, b, _ in c.spans]
        rows.append({
            "patient_text": note.text,
            "criterion": c.text,
            "label": "Yes" if verdict.informative else "No",
            "group": p.pid,
            "meta": _meta(note.templates + [c.template], names, p.holdout, kind=c.kind),
        })
    return rows


def generate_cot(rng: random.Random, n: int, holdout_fraction: float, instruct_share: float = 0.3) -> list[dict]:
    """Chat rows (`messages`) and instruct rows (`instruction`/`input`/`output`) built from the same prompt."""
    rows = []
    for p, note, c, verdict in _criteria_rows(rng, n, holdout_fraction, "cot", (3, 6)):
        prompt = prompts.cot_messages(note.text, c.text)
        answer = prompts.cot_answer(verdict.reasoning, verdict.verdict)
        meta = _meta(note.templates + [c.template], p.names + [c.text[a:b] for a, b, _ in c.spans], p.holdout, kind=c.kind)
        if rng.random() < instruct_share:
            row = {"instruction": prompt[0]["content"], "input": prompt[1]["content"], "output": answer}
        else:
            row = {"messages": prompt + [{"role": "assistant", "content": answer}]}
        rows.append(row | {"group": p.pid, "meta": meta})
    return rows


# ---- ner -------------------------------------------------------------------------------------------------------------

STRUCTURE_TEMPLATES = [("st1", "Trial requires ECOG {ecog}."), ("st2", "Eligible patients have an ECOG {ecog} performance status.")]
STRUCTURE_TEMPLATES_HOLDOUT = [("h_st1", "Performance status must be ECOG {ecog}.")]
TARGET_TEMPLATES = [("tg1", "{drug} targets {gene}."), ("tg2", "Started {drug}, an inhibitor of {gene}.")]
TARGET_TEMPLATES_HOLDOUT = [("h_tg1", "{gene}-directed therapy with {drug} was begun.")]
NER_FORMATS = ("entities", "ner", "input_output", "schema", "relations")


def _ner_document(rng: random.Random, p: Patient, holdout: bool) -> tuple[Sentence, list[dict]]:
    """2-4 note sentences (sometimes a drug-targets-gene sentence); returns the text and structures."""
    facts = [s for key, s in world.note_sentences(rng, p) if key[0] != "filler"]
    chosen = [facts[0]] + rng.sample(facts[1:], min(len(facts) - 1, rng.randint(1, 3)))
    structures: list[dict] = []
    if rng.random() < 0.2:
        gene = rng.choice(lx.HOLDOUT_GENES if holdout else lx.GENES)
        tid, template = rng.choice(TARGET_TEMPLATES_HOLDOUT if holdout else TARGET_TEMPLATES)
        sentence = fill(tid, template, {"drug": (lx.GENE_DRUGS[gene], "drug"), "gene": (gene, "gene")})
        sentence.relations.append(("targets", sentence.surfaces["drug"], sentence.surfaces["gene"]))
        chosen.append(sentence)
    if rng.random() < 0.1:
        ecog = rng.choice(("0-1", "0-2", "0"))
        tid, template = rng.choice(STRUCTURE_TEMPLATES_HOLDOUT if holdout else STRUCTURE_TEMPLATES)
        chosen.append(fill(tid, template, {"ecog": (ecog, None)}))
        structures.append({"eligibility": {"performance_status": f"ECOG {ecog}"}})
    return world.join(chosen), structures


def _surfaces_mark_exactly(doc: Sentence) -> bool:
    """True when marking every occurrence of each surface gives exactly the generated spans — the
    condition for writing this document in a surface-based format without changing its annotation."""
    expected = {(a, b, label) for a, b, label in doc.spans}
    marked = set()
    for a, b, label in doc.spans:
        surface, start = doc.text[a:b], doc.text.find(doc.text[a:b])
        while start != -1:
            marked.add((start, start + len(surface), label))
            start = doc.text.find(surface, start + 1)
    return marked == expected


def _ner_row(rng: random.Random, doc: Sentence, structures: list[dict]) -> dict:
    exact = _surfaces_mark_exactly(doc)
    entities: dict[str, list] = {}
    for a, b, label in doc.spans:
        # Surfaces where marking every occurrence reproduces the annotation, else explicit offsets.
        mention = doc.text[a:b] if exact else {"text": doc.text[a:b], "start": a, "end": b}
        if mention not in entities.setdefault(label, []):
            entities[label].append(mention)
    relations = [{label: {"head": head, "tail": tail}} for label, head, tail in doc.relations]
    fmt = rng.choice(NER_FORMATS)
    if relations and fmt in ("entities", "ner"):
        fmt = "input_output"  # only the input/output and schema formats carry relations
    if structures and fmt not in ("schema", "relations"):
        fmt = "schema" if relations else "relations"
    if structures and relations:
        fmt = "schema"  # the only format that carries both
    if fmt == "entities":
        return {"text": doc.text, "entities": entities}
    if fmt == "ner":
        return {"text": doc.text, "ner": [[a, b, label] for a, b, label in doc.spans]}
    if fmt == "input_output":
        return {"input": doc.text, "output": {"entities": entities} | ({"relations": relations} if relations else {})}
    if fmt == "schema":
        schema: dict = {"entities": entities}
        if structures:
            schema["json_structures"] = structures
            schema["json_descriptions"] = {"eligibility": {"performance_status": "ECOG performance status range"}}
        if relations:
            return {"input": doc.text, "output": schema | {"relations": relations}}
        return {"text": doc.text, "schema": schema}
    # "relations" format family: relations under input/output, or the `structures` alias
    if structures:
        return {"text": doc.text, "entities": entities, "structures": structures[0]}
    return {"input": doc.text, "output": {"entities": entities, "relations": relations}}


def generate_ner(rng: random.Random, n: int, holdout_fraction: float) -> list[dict]:
    rows = []
    for p in _patients(rng, "ner", holdout_fraction):
        if len(rows) >= n:
            break
        doc, structures = _ner_document(rng, p, p.holdout)
        if not doc.spans and not structures:
            continue
        names = [doc.text[a:b] for a, b, _ in doc.spans]
        rows.append(_ner_row(rng, doc, structures) | {"doc_id": p.pid, "meta": _meta(doc.templates, names, p.holdout)})
    return rows


# ---- nli -------------------------------------------------------------------------------------------------------------

# Every hypothesis template is used for every label (which one depends on the premise), so the hypothesis
# alone carries no label signal beyond chance: the hypothesis-only baseline measures exactly that.
HYPOTHESES = {
    "has": [("hh1", "The patient has {cond}."), ("hh2", "The patient is diagnosed with {cond}.")],
    "has_not": [("hn1", "The patient does not have {cond}."), ("hn2", "The patient has never had {cond}.")],
    "older": [("ho1", "The patient is older than {age}.")],
    "younger": [("hy1", "The patient is younger than {age}.")],
    "takes": [("ht1", "The patient is taking {drug}.")],
    "takes_not": [("htn1", "The patient is not on {drug}.")],
    "lab_above": [("hla1", "The patient's {lab} is above {v} {unit}.")],
    "lab_below": [("hlb1", "The patient's {lab} is below {v} {unit}.")],
}
HYPOTHESES_HOLDOUT = {
    "has": [("h_hh1", "{cond} is present in this patient.")],
    "has_not": [("h_hn1", "This patient is free of {cond}.")],
    "older": [("h_ho1", "This person is over {age} years of age.")],
    "younger": [("h_hy1", "This person is under {age} years of age.")],
    "takes": [("h_ht1", "{drug} is part of the current regimen.")],
    "takes_not": [("h_htn1", "{drug} is not part of the current regimen.")],
    "lab_above": [("h_hla1", "{lab} exceeds {v} {unit}.")],
    "lab_below": [("h_hlb1", "{lab} is lower than {v} {unit}.")],
}
NLI_LABELS = ("entailment", "neutral", "contradiction")


def _hypothesis(rng: random.Random, p: Patient, facts: list[tuple], label: str) -> Sentence | None:
    """A hypothesis with `label` given the premise facts (`facts`: the fact keys the premise states)."""
    vocab, templates = p.vocab, (HYPOTHESES_HOLDOUT if p.holdout else HYPOTHESES)
    stated = [f for f in facts if f[0] in ("cond", "med", "lab", "age")]
    if label != "neutral":
        if not stated:
            return None
        fact = rng.choice(stated)
        polarity = rng.random() < 0.5  # which template family; the premise decides the label
    by_key = {c.key: c for c in vocab.conditions}
    if label == "neutral":
        kind = rng.choice(("cond", "med", "lab", "age"))
        if kind == "age" and ("age",) in facts:
            kind = "cond"
        if kind == "cond":
            key = rng.choice([k for k in by_key if k not in p.conditions and k != p.family_history])
            return fill(*rng.choice(templates[rng.choice(("has", "has_not"))]), {"cond": (vocab.condition_name(rng, by_key[key]), None)})
        if kind == "med":
            drug = rng.choice([d for d in vocab.drugs() if d not in p.medications])
            return fill(*rng.choice(templates[rng.choice(("takes", "takes_not"))]), {"drug": (drug, None)})
        if kind == "lab":
            labs = [lab for lab in lx.LABS if lab.key not in p.labs]
            if not labs:
                return None
            lab = rng.choice(labs)
            v = world._fmt(world._lab_value(rng, lab), lab.decimals)
            return fill(*rng.choice(templates[rng.choice(("lab_above", "lab_below"))]), {"lab": (vocab.lab_name(rng, lab), None), "v": (v, None), "unit": (lab.unit, None)})
        return fill(*rng.choice(templates[rng.choice(("older", "younger"))]), {"age": (str(rng.randint(30, 80)), None)})
    true = label == "entailment"
    if fact[0] == "cond":
        present = p.conditions[fact[1]]
        says_has = present == true  # entailment restates the fact, contradiction negates it
        name = vocab.condition_name(rng, by_key[fact[1]])
        return fill(*rng.choice(templates["has" if says_has else "has_not"]), {"cond": (name, None)})
    if fact[0] == "med":
        taking = p.medications[fact[1]]
        return fill(*rng.choice(templates["takes" if taking == true else "takes_not"]), {"drug": (fact[1], None)})
    if fact[0] == "lab":
        lab = next(lab for lab in lx.LABS if lab.key == fact[1])
        value = p.labs[lab.key].value
        margin = max(abs(value) * rng.uniform(0.1, 0.3), 10 ** -lab.decimals)
        v = value - margin if polarity else value + margin  # a bound clearly away from the value
        above = v < value
        kind = "lab_above" if above == true else "lab_below"
        return fill(*rng.choice(templates[kind]), {"lab": (vocab.lab_name(rng, lab), None), "v": (world._fmt(v, lab.decimals), None), "unit": (lab.unit, None)})
    gap = rng.randint(3, 15)
    bound = p.age - gap if polarity else p.age + gap
    older = bound < p.age
    return fill(*rng.choice(templates["older" if older == true else "younger"]), {"age": (str(bound), None)})


def generate_nli(rng: random.Random, n: int, holdout_fraction: float) -> list[dict]:
    """Premises of 2-4 patient facts, one hypothesis per label each (labels balanced by construction)."""
    rows = []
    for p in _patients(rng, "nli", holdout_fraction):
        if len(rows) >= n:
            break
        sentences = world.note_sentences(rng, p)
        stated = [sentences[0]] + rng.sample(sentences[1:], min(len(sentences) - 1, rng.randint(1, 3)))
        if p.age is None:
            stated = stated[1:] or stated
        premise = world.join([s for _, s in stated])
        facts = [key for key, _ in stated]
        if p.age is None:
            facts = [f for f in facts if f != ("age",)]
        for label in NLI_LABELS:
            hypothesis = _hypothesis(rng, p, facts, label)
            if hypothesis is None or len(rows) >= n:
                continue
            names = [premise.text[a:b] for a, b, _ in premise.spans]
            rows.append({
                "premise": premise.text,
                "hypothesis": hypothesis.text,
                "label": label,
                "group": p.pid,
                "meta": _meta(premise.templates + hypothesis.templates, names, p.holdout),
            })
    return rows
