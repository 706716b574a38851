"""Rule-based fixture data for the causal-LM tests, in the canonical split format (HELPERS data contract).

Patients get a random subset of facts; a reranker criterion is labelled Yes iff the patient text mentions the
criterion's concept (whatever the value or a negation), so a model can really learn the rule. CoT rows decide the
criterion from the same facts. Groups are patients; each split gets its own patients.
"""

from __future__ import annotations

import random
from pathlib import Path

from medtune import prompts
from medtune.io import write_jsonl
from medtune.text import hex_id, normalized_hash

# concept -> (criterion texts, fact renderer(rng) -> (sentence, met?))
CONCEPTS = {
    "age": (
        ["Age 18 years or older", "Adults aged at least 18", "Patients older than 65 years"],
        lambda r: (f"The patient is {r.randint(19, 90)} years old.", True),
    ),
    "hba1c": (
        ["HbA1c below 8%", "Glycated haemoglobin under 64 mmol/mol", "HbA1c of 7% or less"],
        lambda r: (f"Latest HbA1c was {r.choice(['6.1', '7.4', '8.9', '9.5'])}%.", r.random() < 0.5),
    ),
    "hypertension": (
        ["History of hypertension", "Diagnosed arterial hypertension", "No uncontrolled hypertension"],
        lambda r: (r.choice(["She has a history of hypertension.", "No history of hypertension."]), r.random() < 0.5),
    ),
    "metformin": (
        ["Currently taking metformin", "Stable metformin dose for 3 months", "Metformin use"],
        lambda r: (r.choice(["He takes metformin 500 mg twice daily.", "Metformin was stopped last year."]), r.random() < 0.5),
    ),
    "egfr": (
        ["eGFR above 60 mL/min", "Estimated GFR of at least 45", "Adequate renal function (eGFR > 30)"],
        lambda r: (f"eGFR is {r.randint(20, 110)} mL/min.", r.random() < 0.5),
    ),
    "smoking": (
        ["Current smoker", "Non-smoker for at least one year", "Active tobacco use"],
        lambda r: (r.choice(["Smokes 10 cigarettes a day.", "Never smoked."]), r.random() < 0.5),
    ),
}
FILLERS = ["Lives with family.", "Allergic to penicillin.", "Works as a teacher.", "Reports mild fatigue.", "Walks daily."]


def patient(rng: random.Random) -> tuple[str, dict[str, bool]]:
    concepts = rng.sample(sorted(CONCEPTS), k=rng.randint(2, 4))
    facts, sentences = {}, []
    for concept in concepts:
        sentence, met = CONCEPTS[concept][1](rng)
        facts[concept] = met
        sentences.append(sentence)
    sentences += rng.sample(FILLERS, k=2)
    rng.shuffle(sentences)
    return " ".join(sentences), facts


def make_rows(n_patients: int, seed: int, criteria_per_patient: int = 4) -> dict[str, list[dict]]:
    rng = random.Random(seed)
    reranker, cot = [], []
    for p in range(n_patients):
        text, facts = patient(rng)
        group = f"p{seed}-{p}"
        for concept in rng.sample(sorted(CONCEPTS), k=criteria_per_patient):
            criterion = rng.choice(CONCEPTS[concept][0])
            row_id = hex_id(normalized_hash(text, criterion))
            reranker.append({"id": row_id, "group": group, "patient_text": text, "criterion": criterion,
                             "label": "Yes" if concept in facts else "No"})
            verdict = "unknown" if concept not in facts else ("met" if facts[concept] else "not_met")
            reasoning = f"The patient text {'does not mention' if verdict == 'unknown' else 'mentions'} {concept}."
            messages = prompts.cot_messages(text, criterion) + [
                {"role": "assistant", "content": prompts.cot_answer(reasoning, verdict)}]
            cot.append({"id": row_id, "group": group, "messages": messages, "label": verdict})
    return {"reranker": reranker, "cot": cot}


def write_split_tree(root: Path, n_train: int = 60, n_val: int = 12, n_test: int = 12) -> Path:
    """data/split/<task>/{train,val,test}.jsonl under `root`, disjoint patients per split."""
    for split, n, seed in (("train", n_train, 1), ("val", n_val, 2), ("test", n_test, 3)):
        for task, rows in make_rows(n, seed).items():
            write_jsonl(root / "data" / "split" / task / f"{split}.jsonl", rows)
    return root / "data" / "split"


def save_tiny_base(root: Path, pretrain_steps: int = 0) -> Path:
    """A small tokenizer + Llama (head_dim 32) saved like `build-base` does; optionally a few pretraining steps."""
    from medtune.config import TinyLMSettings
    from medtune.train.base_lm import build_base

    split = write_split_tree(root / "corpus", n_train=30, n_val=4, n_test=4)
    settings = TinyLMSettings(vocab_size=600, hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128,
                              block_size=64, epochs=1, max_steps=max(pretrain_steps, 1), batch_size=8)
    build_base(split, root / "tiny-lm", settings, seed=0)
    return root / "tiny-lm"
