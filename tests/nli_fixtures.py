"""Rule-labelled premise/hypothesis pairs in the split contract `{"id","group","premise","hypothesis","label","meta"}`.

Every hypothesis template occurs with every label it can take (the label depends on the premise, not on the
hypothesis wording), so a hypothesis-only classifier stays near chance while a pair model can learn the rules.
"""

from __future__ import annotations

import random

from medtune.text import hex_id, normalized_hash

CONDITIONS = ["type 2 diabetes", "hypertension", "asthma", "atrial fibrillation", "chronic kidney disease",
              "heart failure", "epilepsy", "hypothyroidism", "rheumatoid arthritis", "COPD"]
DRUGS = ["metformin", "lisinopril", "salbutamol", "apixaban", "levothyroxine", "methotrexate", "insulin",
         "atorvastatin", "levetiracetam", "furosemide"]
PREMISES = [
    "The patient is a {age}-year-old {sex} with {cond} on {drug}. No history of {neg}. {pron} stopped {old} last year.",
    "{age}-year-old {sex} presenting with {cond}, currently taking {drug}. Denies {neg}. Previously on {old}, discontinued.",
    "Patient: {sex}, aged {age}. Known {cond}; medication: {drug}. {neg} ruled out. {old} was stopped.",
]


def _hypotheses(rng: random.Random, f: dict) -> list[tuple[str, str, str]]:
    """(template name, hypothesis, label) for one patient: every template paired with premise-dependent labels."""
    unmentioned_cond = rng.choice([c for c in CONDITIONS if c not in (f["cond"], f["neg"])])
    unmentioned_drug = rng.choice([d for d in DRUGS if d not in (f["drug"], f["old"])])
    other_sex = "man" if f["sex"] == "woman" else "woman"
    younger, older = f["age"] - rng.randint(3, 15), f["age"] + rng.randint(3, 15)
    return [
        ("has", f"The patient has {f['cond']}.", "entailment"),
        ("has", f"The patient has {f['neg']}.", "contradiction"),
        ("has", f"The patient has {unmentioned_cond}.", "neutral"),
        ("takes", f"The patient takes {f['drug']}.", "entailment"),
        ("takes", f"The patient takes {f['old']}.", "contradiction"),
        ("takes", f"The patient takes {unmentioned_drug}.", "neutral"),
        ("older", f"The patient is older than {younger}.", "entailment"),
        ("older", f"The patient is older than {older}.", "contradiction"),
        ("sex", f"The patient is a {f['sex']}.", "entailment"),
        ("sex", f"The patient is a {other_sex}.", "contradiction"),
        ("family", f"The patient has a family history of {rng.choice(CONDITIONS)}.", "neutral"),
    ]


def make_nli_rows(n_patients: int, seed: int = 0, premise_templates: list[int] | None = None) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for p in range(n_patients):
        cond, neg = rng.sample(CONDITIONS, 2)
        drug, old = rng.sample(DRUGS, 2)
        sex = rng.choice(["woman", "man"])
        facts = {"age": rng.randint(25, 85), "sex": sex, "pron": "She" if sex == "woman" else "He",
                 "cond": cond, "neg": neg, "drug": drug, "old": old}
        t = rng.choice(premise_templates if premise_templates is not None else range(len(PREMISES)))
        premise = PREMISES[t].format(**facts)
        premise = premise[0].upper() + premise[1:]
        for template, hypothesis, label in _hypotheses(rng, facts):
            rows.append({
                "id": hex_id(normalized_hash(premise, hypothesis)),
                "group": f"patient-{seed}-{p}",
                "premise": premise,
                "hypothesis": hypothesis,
                "label": label,
                "meta": {"template": f"p{t}/{template}", "names": [cond, drug]},
            })
    return rows
