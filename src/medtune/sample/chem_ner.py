"""Synthetic seed-002 rows: short biomedical "articles" with chemical, disease and chemical→disease answers.

An article is a handful of sentences built from a chemical/disease lexicon and sentence templates:
- relation sentences state that a chemical influences a disease ("cisplatin-induced nephrotoxicity",
  "asthma was treated with dexamethasone", "X influences Y") — these pairs are the `influences` answers;
- co-mention sentences name a chemical and a disease *without* a relation ("X did not affect the incidence
  of Y", "patients with Y were excluded before X was given") — a co-occurrence or gazetteer baseline lists
  them, a model that reads the sentence does not;
- single-mention sentences and openers with generic words ("drug toxicity", "treatment") that the
  evaluation's blacklist filter targets.
Each article yields three raw rows, one per task (`chemicals`, `diseases`, `influences`), sharing
`group` = article id so they stay in one split. Rows come in the seed's prompt/completion form (relations
partly in its raw sentence form "chemical X influences disease Y", which `clean` converts to "X | Y") or in
the simple `{"task", "text", "entities"|"relations"}` form.

A `holdout_fraction` share of articles (always sent to test by `split`) uses only holdout chemicals,
diseases and relation phrasings, so the test split measures extraction of names never seen in training —
exactly where a gazetteer built from training answers fails.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from medtune import prompts
from medtune.sample.endpoints import holdout_schedule
from medtune.text import normalize

CHEMICALS = (
    "aspirin", "ibuprofen", "metformin", "cisplatin", "doxorubicin", "haloperidol", "lithium", "valproic acid",
    "amiodarone", "tamoxifen", "methotrexate", "cyclophosphamide", "gentamicin", "vancomycin", "isoniazid",
    "rifampicin", "warfarin", "heparin", "nicotine", "caffeine", "cocaine", "morphine", "dexamethasone",
    "prednisone", "acetaminophen", "levodopa", "clozapine", "carbamazepine", "phenytoin", "digoxin", "propranolol",
    "captopril", "nifedipine", "verapamil", "5-fluorouracil", "paclitaxel", "bleomycin", "streptozotocin",
    "puromycin", "N-acetylcysteine", "quercetin", "curcumin", "estradiol", "testosterone", "insulin",
)
DISEASES = (
    "hypertension", "cardiotoxicity", "nephrotoxicity", "hepatotoxicity", "seizures", "heart failure",
    "type-2 diabetes", "breast cancer", "lung cancer", "Parkinson's disease", "Alzheimer's disease",
    "tardive dyskinesia", "neutropenia", "thrombocytopenia", "myocardial infarction", "arrhythmia", "hypotension",
    "hyperglycemia", "hypokalemia", "liver cirrhosis", "renal failure", "pulmonary fibrosis",
    "peripheral neuropathy", "ototoxicity", "depression", "schizophrenia", "epilepsy", "asthma",
    "rheumatoid arthritis", "psoriasis", "migraine", "obesity", "atherosclerosis", "stroke", "pancreatitis",
    "anemia", "hepatitis", "colitis", "osteoporosis", "insomnia",
)
HOLDOUT_CHEMICALS = (
    "bortezomib", "thalidomide", "oxaliplatin", "ketamine", "sirolimus", "tacrolimus", "ciprofloxacin",
    "fluoxetine", "risperidone", "zoledronic acid", "sunitinib", "pioglitazone",
)
HOLDOUT_DISEASES = (
    "multiple myeloma", "peripheral edema", "QT prolongation", "Stevens-Johnson syndrome", "rhabdomyolysis",
    "agranulocytosis", "serotonin syndrome", "interstitial lung disease", "hypothyroidism", "lactic acidosis",
)

# The long tail (ChemProt has ~1,600 distinct chemicals in 3,000 rows): made-up drug names and organ + pathology
# diseases, drawn fresh per article, so many test names were never seen in training even outside holdout articles.
DRUG_SYLLABLES = ("zel", "va", "tor", "ri", "mo", "xa", "quin", "de", "lu", "sar", "pen", "ti", "ko", "ra", "ne", "fi")
DRUG_SUFFIXES = ("tinib", "mab", "zumab", "pril", "sartan", "olol", "statin", "azole", "mycin", "parin")
ORGANS = ("renal", "hepatic", "cardiac", "pulmonary", "retinal", "cerebral", "gastric", "pancreatic", "cutaneous", "optic")
PATHOLOGIES = ("fibrosis", "necrosis", "hypertrophy", "ischemia", "inflammation", "edema", "atrophy", "hemorrhage", "injury", "dysfunction")
LONG_TAIL_CHEMICAL = 0.25  # chance a chemical slot takes a made-up drug name
LONG_TAIL_DISEASE = 0.35  # chance a disease slot takes an organ + pathology name


def made_up_drug(rng: random.Random) -> str:
    return "".join(rng.choice(DRUG_SYLLABLES) for _ in range(rng.randint(2, 3))) + rng.choice(DRUG_SUFFIXES)


def organ_disease(rng: random.Random) -> str:
    return f"{rng.choice(ORGANS)} {rng.choice(PATHOLOGIES)}"


# Sentence templates: {c} = chemical, {d} = disease, {n}/{k} = numbers, {s} = subjects.
RELATION = {
    "r_induced": "{c}-induced {d} was observed in {n} of the {s}.",
    "r_developed": "{S} receiving {c} developed {d} within {k} weeks.",
    "r_treated": "{d} was successfully treated with {c}.",
    "r_reduced": "{c} reduced the severity of {d} in {s}.",
    "r_influences": "These findings suggest that {c} influences {d}.",
    "r_caused": "Administration of {c} caused {d} in {n} {s}.",
}
HOLDOUT_RELATION = {
    "h_r_assoc": "{c} exposure was strongly associated with the onset of {d}.",
    "h_r_attrib": "The {d} seen in {n} {s} was attributed to {c}.",
    "h_r_ameliorate": "{c} ameliorated {d} in the treated {s}.",
}
CO_MENTION = {  # chemical and disease in one sentence, no influence
    "n_noeffect": "{c} did not affect the incidence of {d}.",
    "n_excluded": "{S} with {d} were excluded before {c} was given.",
    "n_control": "{c} was also given to control {s} without {d}.",
}
CHEMICAL_ONLY = {
    "s_hplc": "{c} levels were measured by HPLC.",
    "s_saline": "{c} was dissolved in saline before each dose.",
    "s_plasma": "Plasma concentrations of {c} remained stable.",
}
DISEASE_ONLY = {
    "s_morbidity": "{d} is a major cause of morbidity.",
    "s_prevalence": "The prevalence of {d} increases with age.",
    "s_history": "A history of {d} was recorded at baseline.",
}
OPENERS = {  # generic words the blacklist filter is for: drug, toxicity, treatment, disease
    "o_background": "BACKGROUND: The mechanisms of drug toxicity remain unclear.",
    "o_design": "We studied {n} {s} over {k} weeks of treatment.",
    "o_aim": "The aim of this study was to examine the effects of a new treatment on disease outcomes.",
}
SUBJECTS = ("patients", "rats", "mice", "volunteers", "children")

INSTRUCTION = "The following article contains technical terms including diseases, drugs and chemicals. Create a list only of the {task} mentioned."
SEED_FORM_SHARE = 0.6  # rows in the seed's prompt/completion form (the rest: simple task/text/answers form)
SENTENCE_RELATION_SHARE = 0.5  # of seed-form influence rows: raw "chemical X influences disease Y" lines


@dataclass(frozen=True)
class Lexicon:
    holdout: bool
    chemicals: tuple[str, ...]
    diseases: tuple[str, ...]
    relations: dict[str, str]


COMMON = Lexicon(False, CHEMICALS, DISEASES, RELATION)
HOLDOUT = Lexicon(True, HOLDOUT_CHEMICALS, HOLDOUT_DISEASES, HOLDOUT_RELATION)


def _fill(template: str, rng: random.Random, chemical: str = "", disease: str = "") -> str:
    subjects = rng.choice(SUBJECTS)
    text = template.format(c=chemical, d=disease, n=rng.randint(3, 60), k=rng.randint(2, 24), s=subjects, S=subjects.capitalize())
    # Sentence case without breaking names such as "N-acetylcysteine" or "QT prolongation".
    return text[0].upper() + text[1:] if text[0].islower() else text


def _ordered(items: list[str], text: str) -> list[str]:
    """Unique items in order of first mention (case-insensitive), as a reader would list them."""
    lowered = text.lower()
    return sorted(dict.fromkeys(items), key=lambda item: lowered.find(item.lower()))


def make_article(rng: random.Random, lexicon: Lexicon) -> dict:
    """Text, answers per task and the templates/names used (for seen/unseen reporting)."""
    chemicals = [made_up_drug(rng) if rng.random() < LONG_TAIL_CHEMICAL else name
                 for name in rng.sample(lexicon.chemicals, rng.randint(2, 3))]
    diseases = [organ_disease(rng) if rng.random() < LONG_TAIL_DISEASE else name
                for name in rng.sample(lexicon.diseases, rng.randint(1, 3))]
    chemicals, diseases = list(dict.fromkeys(chemicals)), list(dict.fromkeys(diseases))
    sentences, templates, relations = [], [], []
    n_relations = rng.randint(1, min(2, len(chemicals)))
    for chemical in chemicals[:n_relations]:
        disease = rng.choice(diseases)
        key = rng.choice(sorted(lexicon.relations))
        sentences.append(_fill(lexicon.relations[key], rng, chemical, disease))
        templates.append(key)
        relations.append((chemical, disease))
    mentioned_diseases = {d for _, d in relations}
    for chemical in chemicals[n_relations:]:
        if rng.random() < 0.6:  # co-mention without a relation: the hard negative for pair extraction
            key = rng.choice(sorted(CO_MENTION))
            disease = rng.choice(diseases)
            sentences.append(_fill(CO_MENTION[key], rng, chemical, disease))
            mentioned_diseases.add(disease)
        else:
            key = rng.choice(sorted(CHEMICAL_ONLY))
            sentences.append(_fill(CHEMICAL_ONLY[key], rng, chemical))
        templates.append(key)
    for disease in diseases:
        if disease not in mentioned_diseases:
            key = rng.choice(sorted(DISEASE_ONLY))
            sentences.append(_fill(DISEASE_ONLY[key], rng, disease=disease))
            templates.append(key)
    rng.shuffle(sentences)
    if rng.random() < 0.7:
        key = rng.choice(sorted(OPENERS))
        sentences.insert(0, _fill(OPENERS[key], rng))
        templates.append(key)
    text = " ".join(sentences)
    found_chemicals = [c for c in chemicals if c.lower() in text.lower()]
    found_diseases = [d for d in diseases if d.lower() in text.lower()]
    return {
        "text": text,
        "chemicals": _ordered(found_chemicals, text),
        "diseases": _ordered(found_diseases, text),
        "influences": [f"{c} | {d}" for c, d in sorted(dict.fromkeys(relations), key=lambda p: text.lower().find(p[0].lower()))],
        "relation_pairs": list(dict.fromkeys(relations)),
        "templates": sorted(set(templates)),
        "names": sorted(set(found_chemicals + found_diseases)),
    }


def _raw_row(rng: random.Random, article: dict, task: str) -> dict:
    """One raw row for `task` in the seed's prompt/completion form or the simple form."""
    if rng.random() < SEED_FORM_SHARE:
        if task == "influences" and rng.random() < SENTENCE_RELATION_SHARE:
            lines = [f"chemical {c} influences disease {d}" for c, d in article["relation_pairs"]]
        else:
            lines = article[task]
        return {
            "prompt": f"{INSTRUCTION.format(task=task)}\n\n{article['text']}\n\nList of extracted {task}:\n",
            "completion": "\n".join(f"- {line}" for line in lines),
        }
    key = "relations" if task == "influences" else "entities"
    return {"task": task, "text": article["text"], key: list(article[task])}


def generate_chem_ner(rng: random.Random, n: int, holdout_fraction: float) -> list[dict]:
    """About `n` rows (a multiple of three: every article gives one row per task); a `holdout_fraction` share of
    articles uses only holdout chemicals, diseases and relation phrasings."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rows: list[dict] = []
    seen: set[str] = set()  # normalised article texts: a repeated input would be deduped or cross splits
    schedule = holdout_schedule(rng, holdout_fraction)
    index = 0
    while len(rows) < n:
        lexicon = HOLDOUT if next(schedule) else COMMON
        for _attempt in range(200):
            article = make_article(rng, lexicon)
            if normalize(article["text"]) not in seen:
                break
        else:
            raise RuntimeError(f"chem-ner sample: no new distinct article after 200 tries (n={n})")
        seen.add(normalize(article["text"]))
        group = f"article-{index}"
        index += 1
        for task in prompts.CHEM_NER_TASKS:
            if len(rows) >= n:
                break
            meta = {"templates": article["templates"], "names": article["names"], "holdout": lexicon.holdout, "task": task}
            rows.append(_raw_row(rng, article, task) | {"group": group, "meta": meta})
    return rows
