"""Synthetic patients and trial criteria whose verdicts follow from rules.

A `Patient` holds facts (age, sex, conditions present or explicitly absent, medications, labs in their
canonical unit, pregnancy, prior chemotherapy lines, genomic findings); `render_note` turns them into a
clinical note with paraphrases, negations, unit variants and distractor sentences, recording entity spans.
A `Criterion` renders itself and `evaluate(patient)` returns the verdict (met / not_met / unknown) with a
step-by-step explanation — the CoT target — and whether the note holds the information at all (the
reranker label). Boundary values (a lab exactly at the threshold) are generated on purpose.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from medtune.sample import lexicon as lx

# ---- text with entity spans ---------------------------------------------------------------------------------

_SLOT = re.compile(r"\{(\w+)\}")


@dataclass
class Sentence:
    text: str
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, label), end exclusive
    relations: list[tuple[str, str, str]] = field(default_factory=list)  # (label, head surface, tail surface)
    templates: list[str] = field(default_factory=list)
    surfaces: dict[str, str] = field(default_factory=dict)  # slot name → text as it appears (capitalised)


def fill(template_id: str, template: str, slots: dict[str, tuple[str, str | None]]) -> Sentence:
    """Fill `{name}` slots with (surface, entity label or None), recording the entity spans."""
    parts, spans, pos, last = [], [], 0, 0
    for match in _SLOT.finditer(template):
        literal = template[last : match.start()]
        parts.append(literal)
        pos += len(literal)
        surface, label = slots[match.group(1)]
        if label:
            spans.append((pos, pos + len(surface), label))
        parts.append(surface)
        pos += len(surface)
        last = match.end()
    parts.append(template[last:])
    text = "".join(parts)
    text = text[0].upper() + text[1:]
    surfaces = {m.group(1): text[a:b] for m, (a, b, _) in zip((m for m in _SLOT.finditer(template) if slots[m.group(1)][1]), spans)}
    return Sentence(text, spans, templates=[template_id], surfaces=surfaces)


def join(sentences: list[Sentence]) -> Sentence:
    text, spans, relations, templates, offset = [], [], [], [], 0
    for s in sentences:
        text.append(s.text)
        spans += [(a + offset, b + offset, label) for a, b, label in s.spans]
        relations += s.relations
        templates += s.templates
        offset += len(s.text) + 1
    return Sentence(" ".join(text), spans, relations, templates)


# Templates: (id, text). Holdout groups use only the `*_HOLDOUT` lists.
T = dict[str, list[tuple[str, str]]]
NOTE_TEMPLATES: T = {
    "age": [("age1", "A {age}-year-old {sex} presents for trial screening."), ("age2", "The patient is a {age} year old {sex}."),
            ("age3", "{age}-year-old {sex} referred by the oncology clinic.")],
    "no_age": [("noage1", "Adult {sex} seen in clinic.")],
    "cond_yes": [("cy1", "History of {cond}."), ("cy2", "Known {cond}, diagnosed {n} years ago."),
                 ("cy3", "Past medical history is significant for {cond}.")],
    "cond_no": [("cn1", "No history of {cond}."), ("cn2", "Denies {cond}."), ("cn3", "Negative for {cond}.")],
    "family": [("fam1", "Family history of {cond} (mother).")],
    "med_yes": [("my1", "Currently takes {drug} daily."), ("my2", "Medications include {drug}."), ("my3", "On {drug} for {cond}.")],
    "med_stopped": [("ms1", "Stopped {drug} {n} years ago."), ("ms2", "Not currently taking {drug}.")],
    "lab": [("lab1", "{lab} {value} {unit}."), ("lab2", "Latest {lab} was {value} {unit}."), ("lab3", "Labs: {lab} {value} {unit}.")],
    "preg_yes": [("py1", "Currently pregnant ({n} weeks).")],
    "preg_no": [("pn1", "Not pregnant; negative pregnancy test."), ("pn2", "Pregnancy test negative.")],
    "chemo": [("ch1", "Received {n} prior lines of systemic chemotherapy."), ("ch2", "Has had {n} previous chemotherapy regimens.")],
    "chemo_none": [("ch0", "Treatment-naive; no prior chemotherapy.")],
    "gene_pos": [("gp1", "{gene} mutation detected in tumor tissue."), ("gp2", "Tumor is {gene}-positive.")],
    "gene_neg": [("gn1", "{gene} testing was negative."), ("gn2", "No {gene} alteration found.")],
    "procedure": [("pr1", "Underwent {proc} in {year}."), ("pr2", "Prior {proc} ({year}).")],
    "filler": [("f1", "Lives with family."), ("f2", "Non-smoker."), ("f3", "Works as a teacher."), ("f4", "Vital signs stable."),
               ("f5", "Walks daily for exercise.")],
}
NOTE_TEMPLATES_HOLDOUT: T = {
    "age": [("h_age1", "Patient is a {sex}, aged {age}.")],
    "no_age": [("h_noage1", "{sex} patient, age not recorded.")],
    "cond_yes": [("h_cy1", "{cond} documented in the problem list.")],
    "cond_no": [("h_cn1", "{cond} has been ruled out.")],
    "family": [("h_fam1", "Father was treated for {cond}.")],
    "med_yes": [("h_my1", "{drug} was continued at admission.")],
    "med_stopped": [("h_ms1", "{drug} was discontinued {n} years ago.")],
    "lab": [("h_lab1", "{lab} measured at {value} {unit}.")],
    "preg_yes": [("h_py1", "Pregnancy test positive.")],
    "preg_no": [("h_pn1", "Pregnancy excluded by serum test.")],
    "chemo": [("h_ch1", "Completed {n} earlier chemotherapy lines.")],
    "chemo_none": [("h_ch0", "Never received chemotherapy.")],
    "gene_pos": [("h_gp1", "Sequencing shows {gene} positivity.")],
    "gene_neg": [("h_gn1", "Sequencing negative for {gene}.")],
    "procedure": [("h_pr1", "Status post {proc} ({year}).")],
    "filler": [("h_f1", "Retired engineer."), ("h_f2", "Independent in daily activities.")],
}


# ---- patients ---------------------------------------------------------------------------------------------------


@dataclass
class LabValue:
    value: float  # canonical unit
    alt_unit: bool  # reported in the lab's alternative unit


@dataclass
class Patient:
    pid: str
    holdout: bool
    age: int | None
    sex: str  # "woman" | "man"
    conditions: dict[str, bool]  # condition key → present (True) / explicitly absent (False); unmentioned = unknown
    condition_names: dict[str, str]  # condition key → surface used in this note
    family_history: str | None  # condition key mentioned only as family history (a distractor)
    medications: dict[str, bool]  # drug → currently taking (True) / stopped or explicitly not taking (False)
    labs: dict[str, LabValue]
    lab_names: dict[str, str]
    pregnant: bool | None  # None = not stated (or not applicable)
    chemo_lines: int | None
    genes: dict[str, bool]
    procedures: list[str]
    names: list[str] = field(default_factory=list)  # entity surfaces used (for seen/unseen analysis)

    @property
    def vocab(self) -> lx.Vocabulary:
        return lx.Vocabulary(self.holdout)


def _lab_value(rng: random.Random, lab: lx.Lab) -> float:
    value = rng.uniform(lab.low, lab.high)
    return round(value, lab.decimals) if lab.decimals else float(round(value))


def make_patient(rng: random.Random, pid: str, holdout: bool) -> Patient:
    vocab = lx.Vocabulary(holdout)
    sex = rng.choice(("woman", "man"))
    conditions_pool = list(vocab.conditions)
    rng.shuffle(conditions_pool)
    present = conditions_pool[: rng.randint(1, 3)]
    absent = conditions_pool[3 : 3 + rng.randint(0, 2)]
    conditions = {c.key: True for c in present} | {c.key: False for c in absent}
    by_key = {c.key: c for c in vocab.conditions}
    condition_names = {key: vocab.condition_name(rng, by_key[key]) for key in conditions}
    family = conditions_pool[6].key if rng.random() < 0.25 else None
    if family:
        condition_names[family] = vocab.condition_name(rng, by_key[family])

    medications: dict[str, bool] = {}
    for c in present:
        if c.drugs and rng.random() < 0.7:
            medications[rng.choice(c.drugs)] = True
    drugs = list(vocab.drugs())
    if holdout and rng.random() < 0.5:
        drugs.insert(0, lx.made_up_drug(rng))
    for drug in rng.sample(drugs, 2):
        medications.setdefault(drug, rng.random() < 0.6)

    labs = {lab.key: LabValue(_lab_value(rng, lab), bool(lab.alt_unit) and rng.random() < 0.4)
            for lab in rng.sample(lx.LABS, rng.randint(1, 3))}
    lab_by_key = {lab.key: lab for lab in lx.LABS}
    lab_names = {key: vocab.lab_name(rng, lab_by_key[key]) for key in labs}

    pregnant = None
    if sex == "woman" and rng.random() < 0.5:
        pregnant = rng.random() < 0.35
    cancer = any(k in conditions and conditions[k] for k in ("nsclc", "breast"))
    chemo_lines = rng.choice((0, 1, 1, 2, 3, 4)) if (cancer or rng.random() < 0.2) and rng.random() < 0.8 else None
    genes = {g: rng.random() < 0.5 for g in rng.sample(vocab.genes(), rng.randint(1, 2))} if (cancer or rng.random() < 0.15) else {}
    procedures = rng.sample(vocab.procedures(), 1) if rng.random() < 0.4 else []
    return Patient(
        pid=pid, holdout=holdout, age=rng.randint(19, 88) if rng.random() < 0.88 else None, sex=sex,
        conditions=conditions, condition_names=condition_names, family_history=family, medications=medications,
        labs=labs, lab_names=lab_names, pregnant=pregnant, chemo_lines=chemo_lines, genes=genes, procedures=procedures,
    )


def lab_report(lab: lx.Lab, value: LabValue) -> tuple[str, str]:
    """The value and unit as written in the note (possibly in the alternative unit)."""
    if value.alt_unit and lab.alt_unit:
        shown = lx.hba1c_to_mmol(value.value) if lab.key == "hba1c" else value.value * lab.to_alt
        return f"{round(shown):d}", lab.alt_unit
    return _fmt(value.value, lab.decimals), lab.unit


def _fmt(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}" if decimals else f"{int(round(value))}"


def note_sentences(rng: random.Random, p: Patient) -> list[tuple[tuple, Sentence]]:
    """One (fact key, sentence) per fact, demographics first, the rest shuffled with a few fillers.
    Fact keys: ("age",), ("cond", key), ("family", key), ("med", drug), ("lab", key), ("preg",), ("chemo",),
    ("gene", gene), ("proc", name), ("filler",)."""
    templates = NOTE_TEMPLATES_HOLDOUT if p.holdout else NOTE_TEMPLATES
    pick = lambda kind: rng.choice(templates[kind])  # noqa: E731
    sex = (p.sex, None)
    head = (fill(*pick("age"), {"age": (str(p.age), None), "sex": sex})
            if p.age is not None else fill(*pick("no_age"), {"sex": sex}))
    body: list[tuple[tuple, Sentence]] = []
    for key, present in p.conditions.items():
        kind = "cond_yes" if present else "cond_no"
        body.append((("cond", key), fill(*pick(kind), {"cond": (p.condition_names[key], "disease"), "n": (str(rng.randint(1, 15)), None)})))
    if p.family_history:
        body.append((("family", p.family_history), fill(*pick("family"), {"cond": (p.condition_names[p.family_history], "disease")})))
    conditions = {c.key: c for c in p.vocab.conditions}
    for drug, taking in p.medications.items():
        if taking:
            reason = next((k for k, v in p.conditions.items() if v and drug in conditions[k].drugs), None)
            tid, template = pick("med_yes")
            if "{cond}" in template and reason is None:
                tid, template = templates["med_yes"][0]
            sentence = fill(tid, template, {"drug": (drug, "drug"), "cond": (p.condition_names.get(reason, ""), "disease")})
            if reason and "{cond}" in template:
                sentence.relations.append(("treats", sentence.surfaces["drug"], sentence.surfaces["cond"]))
        else:
            sentence = fill(*pick("med_stopped"), {"drug": (drug, "drug"), "n": (str(rng.randint(1, 6)), None)})
        body.append((("med", drug), sentence))
    labs = {lab.key: lab for lab in lx.LABS}
    for key, value in p.labs.items():
        shown, unit = lab_report(labs[key], value)
        body.append((("lab", key), fill(*pick("lab"), {"lab": (p.lab_names[key], "lab_test"), "value": (shown, None), "unit": (unit, None)})))
    if p.pregnant is not None:
        body.append((("preg",), fill(*pick("preg_yes" if p.pregnant else "preg_no"), {"n": (str(rng.randint(6, 34)), None)})))
    if p.chemo_lines is not None:
        body.append((("chemo",), fill(*pick("chemo" if p.chemo_lines else "chemo_none"), {"n": (str(p.chemo_lines), None)})))
    for gene, positive in p.genes.items():
        body.append((("gene", gene), fill(*pick("gene_pos" if positive else "gene_neg"), {"gene": (gene, "gene")})))
    for proc in p.procedures:
        body.append((("proc", proc), fill(*pick("procedure"), {"proc": (proc, "procedure"), "year": (str(rng.randint(2005, 2023)), None)})))
    body += [(("filler",), fill(*t, {})) for t in rng.sample(templates["filler"], rng.randint(0, 2))]
    rng.shuffle(body)
    return [(("age",), head)] + body


def render_note(rng: random.Random, p: Patient) -> Sentence:
    """The patient's whole note; records the entity names it used on the patient."""
    note = join([sentence for _, sentence in note_sentences(rng, p)])
    p.names = sorted({note.text[a:b] for a, b, _ in note.spans})
    return note


# ---- criteria -------------------------------------------------------------------------------------------------------


@dataclass
class Verdict:
    verdict: str  # met | not_met | unknown
    reasoning: str

    @property
    def informative(self) -> bool:
        """Reranker label: the note holds enough information to evaluate the criterion."""
        return self.verdict != "unknown"


@dataclass
class Criterion:
    kind: str
    text: str
    template: str
    params: dict
    spans: list[tuple[int, int, str]] = field(default_factory=list)


CRITERION_TEMPLATES: T = {
    "age_range": [("ca1", "Age {lo} to {hi} years"), ("ca2", "Patients aged between {lo} and {hi} years")],
    "age_min": [("cam1", "Aged {lo} years or older"), ("cam2", "Age of at least {lo} years")],
    "lab_min": [("cl1", "{lab} of at least {v} {unit}"), ("cl2", "{lab} >= {v} {unit}")],
    "lab_max": [("clx1", "{lab} of at most {v} {unit}"), ("clx2", "{lab} <= {v} {unit}")],
    "cond_req": [("cc1", "Diagnosis of {cond}"), ("cc2", "Documented history of {cond}")],
    "cond_excl": [("ce1", "No history of {cond}"), ("ce2", "Must not have {cond}")],
    "med_req": [("cm1", "Currently receiving {drug}"), ("cm2", "On stable {drug} therapy")],
    "med_excl": [("cmx1", "Not currently taking {drug}"), ("cmx2", "No current use of {drug}")],
    "class_excl": [("ccl1", "No current use of any {cls}")],
    "preg_excl": [("cp1", "Not pregnant"), ("cp2", "Must not be pregnant")],
    "chemo_min": [("cch1", "At least {n} prior lines of systemic chemotherapy"), ("cch2", "Previously treated with {n} or more chemotherapy regimens")],
    "chemo_none": [("cch0", "No prior chemotherapy")],
    "gene_pos": [("cg1", "{gene}-positive tumor"), ("cg2", "Documented {gene} mutation")],
}
CRITERION_TEMPLATES_HOLDOUT: T = {
    "age_range": [("h_ca1", "Participants must be {lo}-{hi} years old")],
    "age_min": [("h_cam1", "Participants must be at least {lo} years old")],
    "lab_min": [("h_cl1", "{lab} not lower than {v} {unit}")],
    "lab_max": [("h_clx1", "{lab} not higher than {v} {unit}")],
    "cond_req": [("h_cc1", "Confirmed {cond}")],
    "cond_excl": [("h_ce1", "Free of {cond}")],
    "med_req": [("h_cm1", "Receiving ongoing {drug} treatment")],
    "med_excl": [("h_cmx1", "Off {drug}")],
    "class_excl": [("h_ccl1", "Free of {cls} treatment")],
    "preg_excl": [("h_cp1", "Pregnancy excluded")],
    "chemo_min": [("h_cch1", "Minimum of {n} earlier chemotherapy lines")],
    "chemo_none": [("h_cch0", "Chemotherapy-naive")],
    "gene_pos": [("h_cg1", "{gene} alteration confirmed by sequencing")],
}


def make_criterion(rng: random.Random, p: Patient, about_patient: bool) -> Criterion:
    """A criterion about a fact the note reports (`about_patient`) or, mostly, one it does not."""
    vocab = p.vocab
    templates = CRITERION_TEMPLATES_HOLDOUT if p.holdout else CRITERION_TEMPLATES
    options = _criterion_options(rng, p, vocab, about_patient)
    kind, slots, params = rng.choice(options)
    tid, template = rng.choice(templates[kind])
    sentence = fill(tid, template, slots)
    return Criterion(kind, sentence.text, tid, params, sentence.spans)


def _criterion_options(rng: random.Random, p: Patient, vocab: lx.Vocabulary, about: bool) -> list[tuple[str, dict, dict]]:
    options: list[tuple[str, dict, dict]] = []
    # Age: informative whenever the note states the age.
    if (p.age is not None) == about:
        lo = rng.choice((18, 18, 40, 50, 60)) if p.age is None else _near(rng, p.age, (18, 40, 50, 60, 65))
        hi = rng.choice((65, 70, 75, 80))
        if hi > lo:
            options.append(("age_range", {"lo": (str(lo), None), "hi": (str(hi), None)}, {"lo": lo, "hi": hi}))
        options.append(("age_min", {"lo": (str(lo), None)}, {"lo": lo, "hi": None}))
    # Labs: a threshold in the criterion's unit; the note may use another.
    labs = [lab for lab in lx.LABS if (lab.key in p.labs) == about]
    for lab in rng.sample(labs, min(2, len(labs))):
        value = p.labs[lab.key].value if about else _lab_value(rng, lab)
        threshold = value if rng.random() < 0.15 else round(value * rng.uniform(0.75, 1.25), lab.decimals)  # boundary cases
        threshold = threshold if lab.decimals else float(round(threshold))
        kind = rng.choice(("lab_min", "lab_max"))
        name = p.lab_names.get(lab.key) if about and rng.random() < 0.5 else vocab.lab_name(rng, lab)
        options.append((kind, {"lab": (name, "lab_test"), "v": (_fmt(threshold, lab.decimals), None), "unit": (lab.unit, None)},
                        {"lab": lab.key, "threshold": threshold}))
    # Conditions: mentioned (present or explicitly absent) vs never mentioned. Family history is a distractor.
    by_key = {c.key: c for c in vocab.conditions}
    keys = [k for k in p.conditions] if about else [k for k in by_key if k not in p.conditions]
    for key in rng.sample(keys, min(2, len(keys))):
        name = vocab.condition_name(rng, by_key[key])
        kind = rng.choice(("cond_req", "cond_excl"))
        options.append((kind, {"cond": (name, "disease")}, {"cond": key}))
    # Medications: by name, or by class for an exclusion.
    drugs = [d for d in p.medications] if about else [d for d in vocab.drugs() if d not in p.medications]
    for drug in rng.sample(drugs, min(2, len(drugs))):
        options.append((rng.choice(("med_req", "med_excl")), {"drug": (drug, "drug")}, {"drug": drug}))
        cls = lx.drug_class(drug)
        if cls and (not about or p.medications[drug]):
            taking_class = any(lx.drug_class(d) == cls for d in p.medications)
            if taking_class == about:
                options.append(("class_excl", {"cls": (cls, None)}, {"cls": cls}))
    # Pregnancy: informative when stated, or for men (not applicable → met).
    if (p.pregnant is not None or p.sex == "man") == about:
        options.append(("preg_excl", {}, {}))
    if (p.chemo_lines is not None) == about:
        options.append(("chemo_min", {"n": (str(rng.choice((1, 2, 2, 3))), None)}, {}))
        options.append(("chemo_none", {}, {}))
    genes = [g for g in p.genes] if about else [g for g in vocab.genes() if g not in p.genes]
    if genes and (about or rng.random() < 0.3):
        options.append(("gene_pos", {"gene": (rng.choice(genes), "gene")}, {}))
    for kind, slots, params in options:  # criterion-level values read back from slots where needed
        if kind == "chemo_min":
            params["n"] = int(slots["n"][0])
        if kind == "gene_pos":
            params["gene"] = slots["gene"][0]
    return options


def _near(rng: random.Random, value: int, choices: tuple[int, ...]) -> int:
    """A threshold close to the patient's value half of the time (boundary cases), else a common one."""
    return max(18, value + rng.choice((-2, -1, 0, 1, 2))) if rng.random() < 0.4 else rng.choice(choices)


def evaluate(c: Criterion, p: Patient) -> Verdict:
    """The rule behind every label: verdict and the reasoning a model is trained to write."""
    req = f"The criterion requires: {c.text}."
    k, q = c.kind, c.params
    if k in ("age_range", "age_min"):
        if p.age is None:
            return Verdict("unknown", f"{req} The patient text does not state the age, so it cannot be evaluated.")
        ok = p.age >= q["lo"] and (q["hi"] is None or p.age <= q["hi"])
        bound = f"between {q['lo']} and {q['hi']}" if q["hi"] else f"at least {q['lo']}"
        return Verdict(_v(ok), f"{req} The patient is {p.age} years old. {p.age} is {'' if ok else 'not '}{bound}, so the criterion is {_w(ok)}.")
    if k in ("lab_min", "lab_max"):
        lab = next(lab for lab in lx.LABS if lab.key == q["lab"])
        if lab.key not in p.labs:
            return Verdict("unknown", f"{req} The patient text does not report {lab.names[0]}, so it cannot be evaluated.")
        value = p.labs[lab.key]
        shown, unit = lab_report(lab, value)
        canonical = _fmt(value.value, lab.decimals)
        # Compare what the note says, converted back to the criterion unit, as a clinician would.
        measured = float(canonical) if not value.alt_unit or not lab.alt_unit else _from_alt(lab, float(shown))
        ok = measured >= q["threshold"] if k == "lab_min" else measured <= q["threshold"]
        conversion = f" ({_fmt(measured, lab.decimals)} {lab.unit})" if unit != lab.unit else ""
        relation = ("at least " if k == "lab_min" else "at most ") + _fmt(q["threshold"], lab.decimals)
        return Verdict(_v(ok), f"{req} The patient's {lab.names[0]} is {shown} {unit}{conversion}. "
                               f"{_fmt(measured, lab.decimals)} is {'' if ok else 'not '}{relation}, so the criterion is {_w(ok)}.")
    if k in ("cond_req", "cond_excl"):
        name = p.condition_names.get(q["cond"])
        present = p.conditions.get(q["cond"])
        if present is None:
            extra = " Only a family history is mentioned, which does not describe the patient." if p.family_history == q["cond"] else ""
            return Verdict("unknown", f"{req}{extra} The patient text does not say whether the patient has this condition, so it cannot be evaluated.")
        ok = present if k == "cond_req" else not present
        fact = f"The patient has {name}." if present else f"The patient text states the patient does not have {name}."
        return Verdict(_v(ok), f"{req} {fact} So the criterion is {_w(ok)}.")
    if k in ("med_req", "med_excl"):
        taking = p.medications.get(q["drug"])
        if taking is None:
            return Verdict("unknown", f"{req} The patient text does not mention {q['drug']}, so it cannot be evaluated.")
        ok = taking if k == "med_req" else not taking
        fact = f"The patient currently takes {q['drug']}." if taking else f"The patient is not currently taking {q['drug']}."
        return Verdict(_v(ok), f"{req} {fact} So the criterion is {_w(ok)}.")
    if k == "class_excl":
        current = [d for d, taking in p.medications.items() if taking and lx.drug_class(d) == q["cls"]]
        stopped = [d for d, taking in p.medications.items() if not taking and lx.drug_class(d) == q["cls"]]
        if current:
            return Verdict("not_met", f"{req} The patient takes {current[0]}, which is an {q['cls']}. So the criterion is not met.")
        if stopped:
            return Verdict("met", f"{req} The patient stopped {stopped[0]} and takes no other {q['cls']}. So the criterion is met.")
        return Verdict("unknown", f"{req} The patient text does not mention any {q['cls']}, so it cannot be evaluated.")
    if k == "preg_excl":
        if p.sex == "man":
            return Verdict("met", f"{req} The patient is a man, so pregnancy does not apply and the criterion is met.")
        if p.pregnant is None:
            return Verdict("unknown", f"{req} The patient text does not state whether the patient is pregnant, so it cannot be evaluated.")
        return Verdict(_v(not p.pregnant), f"{req} The patient is {'' if p.pregnant else 'not '}pregnant. So the criterion is {_w(not p.pregnant)}.")
    if k in ("chemo_min", "chemo_none"):
        if p.chemo_lines is None:
            return Verdict("unknown", f"{req} The patient text does not report prior chemotherapy, so it cannot be evaluated.")
        ok = p.chemo_lines >= q["n"] if k == "chemo_min" else p.chemo_lines == 0
        return Verdict(_v(ok), f"{req} The patient has had {p.chemo_lines} prior lines of chemotherapy. So the criterion is {_w(ok)}.")
    if k == "gene_pos":
        status = p.genes.get(q["gene"])
        if status is None:
            return Verdict("unknown", f"{req} The patient text does not report {q['gene']} status, so it cannot be evaluated.")
        return Verdict(_v(status), f"{req} {q['gene']} is {'positive' if status else 'negative'} for the patient. So the criterion is {_w(status)}.")
    raise ValueError(f"unknown criterion kind {k!r}")


def _from_alt(lab: lx.Lab, shown: float) -> float:
    value = lx.hba1c_to_percent(shown) if lab.key == "hba1c" else shown / lab.to_alt
    return round(value, lab.decimals) if lab.decimals else float(round(value))


def _v(ok: bool) -> str:
    return "met" if ok else "not_met"


def _w(ok: bool) -> str:
    return "met" if ok else "not met"
