"""Vocabulary of the synthetic clinical world, split into a *common* part and a *holdout* part.

Holdout groups (a small share of patients/documents, always sent to the test split) use only the holdout
part: other surface forms of the same concepts, other drugs and conditions, and names made up per group,
so the test split has entity names and phrasings a model has never seen in training.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Condition:
    key: str
    names: tuple[str, ...]  # common surface forms
    holdout_names: tuple[str, ...]  # surface forms only holdout groups use
    drugs: tuple[str, ...] = ()  # typical treatments (for "treats" relations, medication history)


CONDITIONS = (
    Condition("t2d", ("type 2 diabetes", "type 2 diabetes mellitus", "T2DM"), ("adult-onset diabetes",), ("metformin", "empagliflozin", "insulin glargine")),
    Condition("hf", ("heart failure", "congestive heart failure"), ("cardiac failure",), ("furosemide", "sacubitril")),
    Condition("ckd", ("chronic kidney disease", "CKD"), ("chronic renal insufficiency",), ("lisinopril",)),
    Condition("htn", ("hypertension", "high blood pressure"), ("arterial hypertension",), ("lisinopril", "amlodipine")),
    Condition("nsclc", ("non-small cell lung cancer", "NSCLC"), ("non-small-cell lung carcinoma",), ("pembrolizumab", "osimertinib")),
    Condition("breast", ("breast cancer", "breast carcinoma"), ("mammary carcinoma",), ("tamoxifen", "trastuzumab")),
    Condition("afib", ("atrial fibrillation", "AF"), ("auricular fibrillation",), ("apixaban", "warfarin")),
    Condition("asthma", ("asthma", "bronchial asthma"), ("reactive airway disease",), ("salbutamol",)),
    Condition("copd", ("COPD", "chronic obstructive pulmonary disease"), ("chronic obstructive lung disease",), ("tiotropium",)),
    Condition("ra", ("rheumatoid arthritis",), ("inflammatory polyarthritis",), ("methotrexate",)),
    Condition("epilepsy", ("epilepsy", "seizure disorder"), ("recurrent seizures",), ("levetiracetam",)),
    Condition("hepb", ("hepatitis B", "chronic hepatitis B infection"), ("HBV infection",), ("tenofovir",)),
    Condition("hiv", ("HIV infection", "HIV"), ("human immunodeficiency virus infection",), ("dolutegravir",)),
    Condition("depression", ("major depressive disorder", "depression"), ("clinical depression",), ("sertraline",)),
    Condition("stroke", ("stroke", "ischemic stroke"), ("cerebrovascular accident",), ("clopidogrel",)),
)
# Conditions that exist only in holdout groups (their keys never appear in common rows).
HOLDOUT_CONDITIONS = (
    Condition("gout", (), ("gout", "gouty arthritis"), ("allopurinol",)),
    Condition("psoriasis", (), ("psoriasis", "plaque psoriasis"), ("adalimumab",)),
    Condition("ms", (), ("multiple sclerosis",), ("ocrelizumab",)),
)

DRUG_CLASSES = {
    "anticoagulant": ("warfarin", "apixaban", "rivaroxaban"),
    "anti-PD-1 antibody": ("pembrolizumab", "nivolumab"),
    "SGLT2 inhibitor": ("empagliflozin", "dapagliflozin"),
    "systemic corticosteroid": ("prednisone", "dexamethasone"),
}
OTHER_DRUGS = ("metformin", "insulin glargine", "lisinopril", "amlodipine", "atorvastatin", "furosemide", "levothyroxine",
               "salbutamol", "methotrexate", "tamoxifen", "sertraline", "osimertinib", "trastuzumab", "clopidogrel")
HOLDOUT_DRUGS = ("allopurinol", "adalimumab", "ocrelizumab", "edoxaban", "cemiplimab")
HOLDOUT_DRUG_CLASS = {"edoxaban": "anticoagulant", "cemiplimab": "anti-PD-1 antibody"}


@dataclass(frozen=True)
class Lab:
    key: str
    names: tuple[str, ...]
    holdout_names: tuple[str, ...]
    unit: str  # canonical unit, values are stored in it
    low: float
    high: float
    decimals: int
    alt_unit: str | None = None  # a second unit reports use (the rule must convert)
    to_alt: float | None = None  # multiply canonical value by this (HbA1c uses a formula instead)


LABS = (
    Lab("hba1c", ("HbA1c", "hemoglobin A1c"), ("glycated haemoglobin",), "%", 5.0, 11.5, 1, "mmol/mol"),
    Lab("egfr", ("eGFR", "estimated GFR"), ("estimated glomerular filtration rate",), "mL/min/1.73 m2", 15, 110, 0),
    Lab("creatinine", ("serum creatinine", "creatinine"), ("plasma creatinine",), "mg/dL", 0.5, 3.0, 2, "umol/L", 88.4),
    Lab("platelets", ("platelet count", "platelets"), ("thrombocyte count",), "x10^9/L", 40, 400, 0),
    Lab("alt", ("ALT", "alanine aminotransferase"), ("SGPT",), "U/L", 10, 160, 0),
)


def hba1c_to_mmol(percent: float) -> float:
    """IFCC mmol/mol from NGSP %: (% − 2.15) × 10.929."""
    return (percent - 2.15) * 10.929


def hba1c_to_percent(mmol: float) -> float:
    return mmol / 10.929 + 2.15


GENES = ("EGFR", "ALK", "KRAS G12C", "HER2", "BRAF V600E", "BRCA1")
HOLDOUT_GENES = ("ROS1", "MET exon 14", "NTRK1")
GENE_DRUGS = {"EGFR": "osimertinib", "ALK": "alectinib", "KRAS G12C": "sotorasib", "HER2": "trastuzumab", "BRAF V600E": "dabrafenib",
              "BRCA1": "olaparib", "ROS1": "crizotinib", "MET exon 14": "capmatinib", "NTRK1": "larotrectinib"}

PROCEDURES = ("radiotherapy", "mastectomy", "CT scan", "MRI", "colonoscopy", "coronary artery bypass grafting", "hemodialysis")
HOLDOUT_PROCEDURES = ("lobectomy", "PET scan", "bone marrow biopsy")

PRIOR_THERAPIES = {"chemotherapy": ("lines of systemic chemotherapy", "prior chemotherapy regimens")}

# Syllables for drug names made up per holdout group: never seen anywhere else.
_SYLLABLES = ("zel", "va", "tor", "ri", "mo", "xa", "quin", "de", "lu", "sar", "pen", "ti", "ko", "ra", "ne", "fi")
_SUFFIXES = ("tinib", "mab", "zumab", "pril", "gliflozin", "statin", "parin")


def made_up_drug(rng: random.Random) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(2)) + rng.choice(_SUFFIXES)


@dataclass
class Vocabulary:
    """The part of the lexicon one group may use."""

    holdout: bool
    conditions: tuple[Condition, ...] = field(init=False)

    def __post_init__(self):
        self.conditions = CONDITIONS + HOLDOUT_CONDITIONS if self.holdout else CONDITIONS

    def condition_name(self, rng: random.Random, condition: Condition) -> str:
        return rng.choice(condition.holdout_names if self.holdout else condition.names)

    def lab_name(self, rng: random.Random, lab: Lab) -> str:
        return rng.choice(lab.holdout_names if self.holdout else lab.names)

    def drugs(self) -> tuple[str, ...]:
        common = OTHER_DRUGS + tuple(d for ds in DRUG_CLASSES.values() for d in ds)
        return HOLDOUT_DRUGS + common if self.holdout else common

    def genes(self) -> tuple[str, ...]:
        return HOLDOUT_GENES + GENES if self.holdout else GENES

    def procedures(self) -> tuple[str, ...]:
        return HOLDOUT_PROCEDURES if self.holdout else PROCEDURES


def drug_class(drug: str) -> str | None:
    for name, members in DRUG_CLASSES.items():
        if drug in members:
            return name
    return HOLDOUT_DRUG_CLASS.get(drug)
