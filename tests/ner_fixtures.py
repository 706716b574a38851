"""Hand-made canonical NER rows (the `clean` output contract) for the NER tests."""

from __future__ import annotations

SCHEMA_YAML = """\
entities:
  disease: "A disease or clinical condition"
  drug: "A drug given to a patient"
  gene: "A gene or biomarker"
relations:
  targets: "a drug acts on a gene"
"""


def row(text: str, *mentions: tuple[str, str], relations: list[dict] | None = None, descriptions: dict | None = None) -> dict:
    """A canonical row; each (label, surface) is located at its first occurrence after the previous one."""
    entities, cursor = [], 0
    for label, surface in mentions:
        start = text.index(surface, cursor)
        entities.append({"start": start, "end": start + len(surface), "label": label, "text": surface})
        cursor = start + len(surface)
    return {
        "id": f"{abs(hash(text)) % (1 << 64):016x}",
        "group": text[:12],
        "text": text,
        "entities": entities,
        "relations": relations or [],
        "structures": [],
        "descriptions": descriptions or {},
    }


TEMPLATES = (
    ("Patient with {disease} was started on {drug}.", ("disease", "drug")),
    ("{drug} targets {gene} in {disease}.", ("drug", "gene", "disease")),
    ("No history of {disease}.", ("disease",)),
    ("Tumour is {gene} positive.", ("gene",)),
    ("Stopped {drug} last week.", ("drug",)),
)
NAMES = {
    "disease": ["asthma", "heart failure", "psoriasis", "gout", "melanoma", "epilepsy"],
    "drug": ["metformin", "warfarin", "insulin", "apixaban", "osimertinib", "prednisone"],
    "gene": ["EGFR", "HER2", "KRAS", "BRAF", "ALK", "ROS1"],
}


def dataset(n: int, offset: int = 0) -> list[dict]:
    """n rows cycling through templates and names (offset shifts the names: unseen surfaces)."""
    rows = []
    for i in range(n):
        template, labels = TEMPLATES[i % len(TEMPLATES)]
        values = {label: NAMES[label][(i + offset + k) % len(NAMES[label])] for k, label in enumerate(labels)}
        text = template.format(**values)
        relations = [{"label": "targets", "head": values["drug"], "tail": values["gene"]}] if "gene" in values and "drug" in values else []
        rows.append(row(text, *[(label, values[label]) for label in _order(template, labels)], relations=relations))
    return rows


def _order(template: str, labels: tuple[str, ...]) -> list[str]:
    return sorted(labels, key=lambda label: template.index("{" + label + "}"))
