"""Synthetic clinical-trial endpoint descriptions with their seed-001 JSON (`generate_endpoints`).

Every output field follows a rule from the text, so a small model can learn the mapping:
- endpoint_name_standardized / measurement_of / measurement_type: the endpoint concept named in the text
  (any of its surfaces or abbreviations: "ORR" → "Objective Response Rate");
- metric_type: the metric phrase ("Median …", "Change from baseline in …", "Number of participants with …"),
  null when the text names none;
- timeframe, measurement_method, evaluation_criteria: copied from the text when stated, else null;
- population: the stated population, normalised ("all randomized participants" → "ITT"), else null;
- unit: a unit stated in the text; else the one the metric implies (proportion → %, count → number,
  hazard ratio → none); else the concept's canonical unit (HbA1c → %), which may be null;
- is_composite / components: composite concepts carry their fixed component list; a free "composite of
  A, B or C" carries the components named in the text.
The same text therefore always maps to the same output (no dedupe conflicts).

Groups are trials ("trial-<n>", 1–3 endpoint rows each). A `holdout_fraction` share of trials uses only the
holdout vocabulary: endpoint concepts, component events and surface templates (metric phrasings included)
that other trials never use, so the test split measures generalisation rather than memorisation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from medtune.text import normalize

MAX_WORDS = 60
PAIR_SHARE = 0.15  # rows describing two endpoints


@dataclass(frozen=True)
class Concept:
    key: str
    name: str  # endpoint_name_standardized
    surfaces: tuple[str, ...]  # how texts name it
    measurement_of: str
    measurement_type: str | None
    metrics: tuple[str | None, ...]  # metric keys a text may use (None = no metric phrase)
    unit: str | None = None  # canonical unit, implied when the text states none
    units: tuple[str, ...] = ()  # units a text may state explicitly
    methods: tuple[str, ...] = ()
    criteria: tuple[str, ...] = ()
    components: tuple[str, ...] = ()  # fixed components of a named composite
    list_components: bool = True  # whether a text may spell the components out
    free_composite: bool = False  # components drawn per row from the vocabulary's event pool
    verbs: tuple[str, ...] = ("with",)  # "Number of participants <verb> <surface>"
    weight: float = 1.0


TTE, BIN, CONT, ORD = "time-to-event", "binary", "continuous", "ordinal"
IMAGING = ("CT scan", "MRI")
RESPONSE_VERBS = ("with", "achieving")
EVENT_VERBS = ("with", "experiencing")
LAB = ("blood test", "central laboratory assay")

CONCEPTS = (
    Concept("os", "Overall Survival", ("Overall Survival (OS)", "OS", "overall survival"), "death from any cause", TTE,
            (None, "median", "hr"), unit="months"),
    Concept("pfs", "Progression-Free Survival", ("Progression-Free Survival (PFS)", "PFS", "progression-free survival"),
            "disease progression or death", TTE, (None, "median", "hr"), unit="months", methods=IMAGING,
            criteria=("RECIST v1.1", "iRECIST")),
    Concept("dfs", "Disease-Free Survival", ("Disease-Free Survival (DFS)", "DFS", "disease-free survival"),
            "disease recurrence or death", TTE, (None, "median", "hr"), unit="months", methods=IMAGING,
            criteria=("RECIST v1.1",)),
    Concept("orr", "Objective Response Rate", ("Objective Response Rate (ORR)", "ORR", "objective response"),
            "tumor response", BIN, (None, "proportion", "count"), unit="%", methods=IMAGING,
            criteria=("RECIST v1.1", "iRECIST", "WHO criteria"), verbs=RESPONSE_VERBS),
    Concept("crr", "Complete Response Rate", ("Complete Response Rate (CRR)", "CR rate", "complete response"),
            "complete response", BIN, (None, "proportion", "count"), unit="%", methods=("PET-CT", "bone marrow biopsy"),
            criteria=("IWG 2023 criteria", "Lugano 2014 classification"), verbs=RESPONSE_VERBS),
    Concept("pcr", "Pathologic Complete Response", ("pathologic complete response (pCR)", "pCR"),
            "absence of residual invasive cancer", BIN, (None, "proportion", "count"), unit="%",
            methods=("histopathology of the surgical specimen",), verbs=RESPONSE_VERBS),
    Concept("crpr", "Overall Response (CR or PR)", ("CR and PR", "CR or PR", "complete or partial response"),
            "Objective Response Rate", BIN, ("proportion", "count"), unit="%", methods=("PET-CT", "CT scan"),
            criteria=("IWG 2023 criteria", "RECIST v1.1"), components=("CR", "PR"), list_components=False, verbs=RESPONSE_VERBS, weight=1.3),
    Concept("hba1c", "HbA1c", ("HbA1c", "glycated hemoglobin (HbA1c)", "hemoglobin A1c"), "glycated hemoglobin", CONT,
            (None, "mean", "change", "mean_change"), unit="%", units=("%", "mmol/mol"), methods=LAB),
    Concept("sbp", "Systolic Blood Pressure", ("systolic blood pressure (SBP)", "SBP", "office systolic blood pressure"),
            "systolic blood pressure", CONT, (None, "mean", "change", "mean_change"), unit="mmHg", units=("mmHg",),
            methods=("automated office blood pressure monitor", "24-hour ambulatory blood pressure monitoring")),
    Concept("6mwd", "6-Minute Walk Distance", ("6-minute walk distance (6MWD)", "6MWD", "six-minute walk distance"),
            "exercise capacity", CONT, (None, "mean", "change"), unit="m", units=("m", "meters"),
            methods=("6-minute walk test",), criteria=("ATS guidelines",)),
    Concept("ldl", "LDL Cholesterol", ("LDL cholesterol (LDL-C)", "LDL-C", "low-density lipoprotein cholesterol"),
            "low-density lipoprotein cholesterol", CONT, (None, "change", "pct_change", "mean"), unit="mg/dL",
            units=("mg/dL", "mmol/L"), methods=LAB),
    Concept("crp", "C-Reactive Protein", ("C-reactive protein (CRP)", "CRP", "high-sensitivity CRP"), "systemic inflammation",
            CONT, (None, "change", "pct_change", "median"), unit="mg/L", units=("mg/L", "mg/dL"), methods=LAB),
    Concept("weight", "Body Weight", ("body weight", "weight"), "body weight", CONT, (None, "change", "pct_change", "mean"),
            unit="kg", units=("kg", "lb"), methods=("calibrated scale",)),
    Concept("height", "Body Height", ("body height", "height"), "height", CONT, (None, "mean", "change"), unit="cm",
            units=("cm",), methods=("stadiometer",)),
    Concept("qtc", "QTc Interval", ("QTc interval", "QTcF", "corrected QT interval (QTc)"), "cardiac repolarization", CONT,
            (None, "mean", "change", "mean_change"), unit="ms", units=("ms",), methods=("12-lead ECG", "ECG"),
            criteria=("ICH E14 guideline",)),
    Concept("vas", "Pain Intensity (VAS)", ("pain intensity on a visual analogue scale (VAS)", "VAS pain score", "pain on a 100-mm VAS"),
            "pain intensity", CONT, (None, "mean", "change", "mean_change"), unit="mm", units=("mm",),
            methods=("electronic patient diary",)),
    Concept("mrs", "Modified Rankin Scale Score", ("modified Rankin Scale (mRS) score", "mRS score", "mRS"),
            "functional disability", ORD, (None, "median", "proportion"), methods=("structured telephone interview",)),
    Concept("nyha", "NYHA Functional Class", ("NYHA functional class", "NYHA class", "New York Heart Association class"),
            "heart failure symptom severity", ORD, (None, "proportion", "change")),
    Concept("ae", "Incidence of Adverse Events", ("adverse events (AEs)", "treatment-emergent adverse events (TEAEs)", "AEs"),
            "safety and tolerability", BIN, (None, "count", "proportion"), unit="%", criteria=("CTCAE v5.0", "CTCAE v4.03"),
            verbs=EVENT_VERBS),
    Concept("sae", "Incidence of Serious Adverse Events", ("serious adverse events (SAEs)", "SAEs"), "serious safety events", BIN,
            (None, "count", "proportion"), unit="%", criteria=("CTCAE v5.0",), verbs=EVENT_VERBS),
    Concept("dlt", "Dose-Limiting Toxicities", ("dose-limiting toxicities (DLTs)", "DLTs"), "dose-limiting toxicity", BIN,
            (None, "count", "proportion"), unit="%", criteria=("CTCAE v5.0", "CTCAE v4.03")),
    Concept("hhf", "Hospitalisation for Heart Failure", ("hospitalisation for heart failure (HHF)", "HF hospitalisation",
            "hospitalization for heart failure"), "heart failure hospitalisation", TTE, (None, "hr", "first", "count")),
    Concept("mace", "Major Adverse Cardiovascular Events (MACE)", ("MACE", "major adverse cardiovascular events (MACE)", "3-point MACE"),
            "cardiovascular events", TTE, (None, "hr", "first", "proportion"),
            components=("cardiovascular death", "myocardial infarction", "stroke"), weight=1.3),
    Concept("cvdhf", "Cardiovascular Death or Hospitalisation for Heart Failure",
            ("cardiovascular death or hospitalisation for heart failure", "CV death or HHF"),
            "cardiovascular death or heart failure hospitalisation", TTE, (None, "hr", "first"),
            components=("cardiovascular death", "hospitalisation for heart failure"), list_components=False, weight=1.3),
    Concept("composite", "", (), "first occurrence of any component event", TTE, (None, "first", "hr", "count"),
            free_composite=True, weight=1.4),
)

HOLDOUT_CONCEPTS = (
    Concept("efs", "Event-Free Survival", ("Event-Free Survival (EFS)", "EFS", "event-free survival"),
            "disease progression, relapse or death", TTE, (None, "median", "hr"), unit="months", methods=("PET-CT", "CT scan"),
            criteria=("Lugano 2014 classification",)),
    Concept("dor", "Duration of Response", ("Duration of Response (DoR)", "DoR", "duration of response"), "response duration",
            TTE, (None, "median"), unit="months", methods=IMAGING, criteria=("RECIST v1.1", "iRECIST")),
    Concept("fev1", "FEV1", ("forced expiratory volume in 1 second (FEV1)", "FEV1", "pre-bronchodilator FEV1"), "lung function",
            CONT, (None, "mean", "change", "mean_change"), unit="mL", units=("mL", "L"), methods=("spirometry",),
            criteria=("ATS/ERS standards",)),
    Concept("egfr", "Estimated Glomerular Filtration Rate", ("estimated glomerular filtration rate (eGFR)", "eGFR"), "kidney function",
            CONT, (None, "change", "mean"), unit="mL/min/1.73 m2", units=("mL/min/1.73 m2",), methods=LAB,
            criteria=("CKD-EPI equation",)),
    Concept("hamd", "HAM-D Total Score", ("Hamilton Depression Rating Scale (HAM-D) total score", "HAM-D score", "HAMD-17 total"),
            "depressive symptom severity", ORD, (None, "change", "mean_change"), methods=("clinician interview",)),
    Concept("make", "Major Adverse Kidney Events (MAKE)", ("MAKE", "major adverse kidney events (MAKE)", "MAKE30"),
            "kidney outcomes", BIN, (None, "proportion", "count"), unit="%",
            components=("death", "new renal replacement therapy", "persistent renal dysfunction"), weight=1.3),
    Concept("male", "Major Adverse Limb Events (MALE)", ("MALE", "major adverse limb events (MALE)"), "limb outcomes", TTE,
            (None, "hr", "first"), components=("acute limb ischaemia", "major amputation"), weight=1.3),
    Concept("composite", "", (), "first occurrence of any component event", TTE, (None, "first", "hr", "count"),
            free_composite=True, weight=1.0),
)

# Events a free "composite of …" draws from (holdout trials use their own).
EVENT_POOL = ("all-cause death", "myocardial infarction", "stroke", "coronary revascularisation", "urgent heart failure visit",
              "end-stage kidney disease", "doubling of serum creatinine", "renal death", "major bleeding", "unstable angina")
HOLDOUT_EVENT_POOL = ("transient ischaemic attack", "systemic embolism", "pulmonary embolism", "deep vein thrombosis",
                      "limb revascularisation", "sudden cardiac arrest")

# metric key → metric_type in the output, and the unit the metric itself implies (absent = concept's unit).
METRIC_TYPES = {"median": "median", "mean": "mean", "change": "change from baseline", "mean_change": "mean change from baseline",
                "pct_change": "percent change from baseline", "proportion": "proportion", "count": "count",
                "hr": "hazard ratio", "first": "time to first event"}
METRIC_UNITS = {"proportion": "%", "count": "number", "pct_change": "%", "hr": None}

# Populations: surface → normalised value (shared by all trials: extraction vocabulary, not an entity name).
POPULATIONS = {
    "the intention-to-treat population": "ITT", "the ITT population": "ITT", "all randomized participants": "ITT",
    "the modified intention-to-treat population": "mITT", "the mITT population": "mITT",
    "the per-protocol population": "per-protocol", "the per-protocol set": "per-protocol",
    "the safety population": "safety population", "all treated participants": "safety population",
}
DURATIONS = tuple(f"{n} weeks" for n in (4, 8, 12, 16, 24, 26, 48, 52)) + tuple(f"{n} months" for n in (3, 4, 6, 12, 18, 24, 36)) \
    + tuple(f"{n} days" for n in (7, 14, 28, 30, 90)) + tuple(f"{n} years" for n in (2, 3, 5))
LONG_TIMEFRAMES = tuple(f"Up to {n} years" for n in (2, 3, 5)) + tuple(f"Through {n} months after starting treatment" for n in (4, 6, 12)) \
    + tuple(f"Baseline to week {n}" for n in (12, 24, 52)) + tuple(f"Day 1 to day {n}" for n in (28, 84)) \
    + tuple(f"From randomization until disease progression or death, up to {n} months" for n in (36, 60))


@dataclass(frozen=True)
class Template:
    """One surface form of an endpoint clause: its slots in order, each with a few phrasings ({} = value)."""

    id: str
    order: tuple[str, ...]  # "name" plus optional slots: unit, method, criteria, population, timeframe
    formats: dict[str, tuple[str, ...]]
    long_timeframes: bool = False  # the timeframe phrasing can hold "Up to 5 years"-style values


@dataclass(frozen=True)
class Vocabulary:
    """The part of the world one trial may use (common or holdout: disjoint concepts, events and phrasings)."""

    holdout: bool
    concepts: tuple[Concept, ...]
    events: tuple[str, ...]
    templates: tuple[Template, ...]
    metric_phrases: dict[str | None, tuple[str, ...]]  # metric → phrasings with {s} = concept surface
    components_format: str  # how a named composite spells its components out
    pair_joiner: str
    prefix: str  # template-id prefix

    def metric_phrase(self, rng: random.Random, metric: str | None) -> tuple[str, str]:
        options = self.metric_phrases[metric]
        i = rng.randrange(len(options))
        return options[i], f"{self.prefix}m_{metric or 'none'}{i}"


COMMON = Vocabulary(
    holdout=False, concepts=CONCEPTS, events=EVENT_POOL,
    templates=(
        Template("ep_assessed", ("name", "unit", "criteria", "method", "population", "timeframe"),
                 {"name": ("{}",), "unit": (" ({})",), "criteria": (" assessed by {}", " per {}"), "method": (" using {}", " by {}"),
                  "population": (" in {}",), "timeframe": (" at {}", " over {}")}),
        Template("ep_registry", ("name", "unit", "method", "criteria", "population", "timeframe"),
                 {"name": ("{}",), "unit": (" [{}]",), "method": (", measured by {}",), "criteria": (" as per {}", " according to {}"),
                  "population": (" in {}",), "timeframe": (" | [Time Frame: {}]",)}, long_timeframes=True),
        Template("ep_among", ("name", "population", "unit", "timeframe", "method", "criteria"),
                 {"name": ("{}",), "population": (" among {}",), "unit": (", in {}",), "timeframe": (" within {}", " after {}"),
                  "method": (", evaluated with {}",), "criteria": (" (per {})",)}),
        Template("ep_will", ("name", "unit", "method", "criteria", "population", "timeframe"),
                 {"name": ("{} will be assessed",), "unit": (" in {}",), "method": (" with {}",), "criteria": (" following {}",),
                  "population": (" in {}",), "timeframe": (" at {}", " by {}")}),
    ),
    metric_phrases={
        None: ("{s}",), "median": ("Median {s}",), "mean": ("Mean {s}",), "change": ("Change from baseline in {s}",),
        "mean_change": ("Mean change from baseline in {s}",), "pct_change": ("Percent change from baseline in {s}",),
        "proportion": ("Proportion of participants {v} {s}", "Percentage of patients {v} {s}"),
        "count": ("Number of participants {v} {s}",),
        "hr": ("Hazard ratio for {s}",), "first": ("Time to first occurrence of {s}",),
    },
    components_format=" ({})", pair_joiner="; ", prefix="",
)

HOLDOUT = Vocabulary(
    holdout=True, concepts=HOLDOUT_CONCEPTS, events=HOLDOUT_EVENT_POOL,
    templates=(
        Template("h_ep_labelled", ("name", "unit", "method", "criteria", "population", "timeframe"),
                 {"name": ("Outcome measure: {}.",), "unit": (" Unit: {}.",), "method": (" Method: {}.",), "criteria": (" Criteria: {}.",),
                  "population": (" Analysis set: {}.",), "timeframe": (" Assessment window: {}.",)}, long_timeframes=True),
        Template("h_ep_dash", ("name", "unit", "method", "criteria", "population", "timeframe"),
                 {"name": ("{}",), "unit": (" expressed in {}",), "method": (" — obtained via {}",), "criteria": (", judged against {}",),
                  "population": (", restricted to {}",), "timeframe": (" (window: {})",)}, long_timeframes=True),
        Template("h_ep_timefirst", ("timeframe", "name", "criteria", "method", "population"),
                 {"timeframe": ("During {}: ",), "name": ("{}",), "criteria": (" following {}",), "method": (" through {}",),
                  "population": (" for {}",)}),
    ),
    metric_phrases={
        None: ("{s}",), "median": ("{s}, median value",), "mean": ("Average {s}",), "change": ("{s} shift from baseline",),
        "mean_change": ("Average change versus baseline in {s}",), "pct_change": ("Relative change (%) in {s}",),
        "proportion": ("Fraction of the cohort with {s}",), "count": ("Participant count with {s}",),
        "hr": ("{s} hazard ratio",), "first": ("Time until first {s}",),
    },
    components_format=" comprising {}", pair_joiner="\n", prefix="h_",
)


@dataclass
class Clause:
    text: str
    endpoint: dict
    templates: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    concept: str = ""


def _join(items: list[str] | tuple[str, ...]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _capitalize(text: str) -> str:
    """Sentence case without breaking abbreviations like eGFR or pCR."""
    first = text.split(" ", 1)[0]
    return text[0].upper() + text[1:] if first.islower() and first.isalpha() else text


def _pick_concept(rng: random.Random, vocab: Vocabulary, exclude: str | None = None) -> Concept:
    concepts = [c for c in vocab.concepts if c.key != exclude]
    return rng.choices(concepts, weights=[c.weight for c in concepts])[0]


def make_clause(rng: random.Random, vocab: Vocabulary, template: Template, concept: Concept, slot_scale: float = 1.0) -> Clause:
    metric = rng.choice(concept.metrics)
    metric_format, metric_id = vocab.metric_phrase(rng, metric)
    templates, names = [template.id, metric_id], []
    components: tuple[str, ...] = concept.components
    if concept.free_composite:
        components = tuple(rng.sample(vocab.events, rng.randint(2, 3)))
        name = f"Composite of {_join(components)}"
        # phrased so each metric reads naturally: "Time to first occurrence of stroke or major bleeding"
        surface = {None: name, "hr": f"the composite of {_join(components)}"}.get(metric, _join(components))
        names += list(components)
    else:
        surface, name = rng.choice(concept.surfaces), concept.name
        names.append(surface)
        if components:
            names += list(components)
            if concept.list_components and rng.random() < 0.5:
                surface += vocab.components_format.format(_join(components))
                templates.append(f"{vocab.prefix}components")
    name_phrase = metric_format.format(s=surface, v=rng.choice(concept.verbs))

    values: dict[str, str] = {}
    wanted = {
        # a metric that implies its own unit (or none) is never combined with a stated unit
        "unit": 0.3 if concept.units and metric not in METRIC_UNITS else 0.0,
        "method": 0.5 if concept.methods else 0.0,
        "criteria": 0.55 if concept.criteria else 0.0,
        "population": 0.4,
        "timeframe": 0.75,
    }
    for slot, p in wanted.items():
        if rng.random() < p * slot_scale:
            if slot == "unit":
                values[slot] = rng.choice(concept.units)
            elif slot == "method":
                values[slot] = rng.choice(concept.methods)
            elif slot == "criteria":
                values[slot] = rng.choice(concept.criteria)
            elif slot == "population":
                values[slot] = rng.choice(tuple(POPULATIONS))
            else:
                values[slot] = rng.choice(DURATIONS + LONG_TIMEFRAMES if template.long_timeframes else DURATIONS)

    parts = []
    for slot in template.order:
        if slot == "name":
            parts.append(rng.choice(template.formats["name"]).format(name_phrase))
        elif slot in values:
            parts.append(rng.choice(template.formats[slot]).format(values[slot]))
    text = _capitalize("".join(parts).strip())

    unit = values.get("unit") or (METRIC_UNITS[metric] if metric in METRIC_UNITS else concept.unit)
    endpoint = {
        "endpoint_name_standardized": name,
        "measurement_of": concept.measurement_of,
        "measurement_type": concept.measurement_type,
        "metric_type": METRIC_TYPES.get(metric) if metric else None,
        "timeframe": values.get("timeframe"),
        "measurement_method": values.get("method"),
        "evaluation_criteria": values.get("criteria"),
        "unit": unit,
        "population": POPULATIONS[values["population"]] if "population" in values else None,
        "is_composite": bool(components),
        "components": list(components),
    }
    return Clause(text, endpoint, templates, names, concept.key)


def make_row(rng: random.Random, vocab: Vocabulary, group: str) -> dict:
    template = rng.choice(vocab.templates)
    pair = rng.random() < PAIR_SHARE
    first = _pick_concept(rng, vocab)
    clauses = [make_clause(rng, vocab, template, first, 0.6 if pair else 1.0)]
    if pair:
        clauses.append(make_clause(rng, vocab, template, _pick_concept(rng, vocab, exclude=first.key), 0.6))
    text = vocab.pair_joiner.join(c.text for c in clauses)
    templates = list(dict.fromkeys(t for c in clauses for t in c.templates))
    if pair:
        templates.append(f"{vocab.prefix}pair")
    return {
        "text": text,
        "output": {"endpoints": [c.endpoint for c in clauses]},
        "group": group,
        "meta": {
            "templates": templates,
            "names": list(dict.fromkeys(n for c in clauses for n in c.names)),
            "holdout": vocab.holdout,
            "concepts": [c.concept for c in clauses],
            "n_endpoints": len(clauses),
        },
    }


def holdout_schedule(rng: random.Random, holdout_fraction: float):
    """Yields, per group index, whether that group is holdout: an exact `holdout_fraction` share of any prefix
    of groups (±1), at a seeded phase, so small samples get their share too."""
    if not 0.0 <= holdout_fraction < 1.0:
        raise ValueError(f"holdout_fraction must be in [0, 1), got {holdout_fraction!r}")
    phase, i = rng.random(), 0
    while True:
        yield int((i + 1) * holdout_fraction + phase) > int(i * holdout_fraction + phase)
        i += 1


def generate_endpoints(rng: random.Random, n: int, holdout_fraction: float) -> list[dict]:
    """`n` endpoint rows over trials of 1–3 rows; a `holdout_fraction` share of trials is holdout."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rows: list[dict] = []
    seen: set[str] = set()  # normalised texts: a repeated input would be deduped or cross splits
    schedule = holdout_schedule(rng, holdout_fraction)
    trial = 0
    while len(rows) < n:
        vocab = HOLDOUT if next(schedule) else COMMON
        group = f"trial-{trial}"
        trial += 1
        for _ in range(min(rng.choice((1, 2, 2, 3)), n - len(rows))):
            for _attempt in range(200):
                row = make_row(rng, vocab, group)
                key = normalize(row["text"])
                if key not in seen and len(row["text"].split()) <= MAX_WORDS:
                    break
            else:
                raise RuntimeError(f"endpoints sample: no new distinct text after 200 tries (n={n} exhausts the vocabulary)")
            seen.add(key)
            rows.append(row)
    return rows
