"""Canonical rows -> GLiNER2 records: schema back-fill, negatives, relations, clear errors; schema file;
gazetteer baseline; settings from params and flags; the generic base corpus."""

import argparse
import json
from pathlib import Path

import pytest

from medtune.config import ConfigError
from medtune.io import InputError
from medtune.ner.data import read_ner_rows, to_gliner_record, to_gliner_records
from medtune.ner.gazetteer import Gazetteer
from medtune.ner.generic_corpus import LEXICON, generic_examples
from medtune.ner.schema import EntitySchema, load_schema, schema_from_rows
from medtune.ner.settings import NerLoraSettings, NerSettings, ner_base_settings, ner_settings
from ner_fixtures import SCHEMA_YAML, row

SCHEMA = EntitySchema(entities={"disease": "A disease", "drug": "A drug", "gene": "A gene"}, relations={"targets": "acts on"})


def test_schema_descriptions_back_fill_only_what_the_row_lacks():
    r = row("Warfarin for gout.", ("drug", "Warfarin"), ("disease", "gout"), descriptions={"drug": "an anticoagulant or other drug"})
    output = to_gliner_record(r, SCHEMA)["output"]
    assert output["entity_descriptions"] == {"disease": "A disease", "drug": "an anticoagulant or other drug", "gene": "A gene"}


def test_every_schema_label_is_asked_and_absent_ones_are_negatives():
    record = to_gliner_record(row("Warfarin for gout.", ("drug", "Warfarin")), SCHEMA)
    assert record == {
        "input": "Warfarin for gout.",
        "output": {
            "entities": {"disease": [], "drug": [{"text": "Warfarin", "start": 0, "end": 8}], "gene": []},
            "entity_descriptions": {"disease": "A disease", "drug": "A drug", "gene": "A gene"},
        },
    }
    declared_only = to_gliner_record(row("Warfarin for gout.", ("drug", "Warfarin")), SCHEMA, ask_all_labels=False)
    assert list(declared_only["output"]["entities"]) == ["drug"]


def test_repeated_surface_keeps_only_annotated_offsets():
    r = row("EGFR status: EGFR negative.", ("gene", "EGFR"))
    assert to_gliner_record(r, SCHEMA)["output"]["entities"]["gene"] == [{"text": "EGFR", "start": 0, "end": 4}]


def test_relations_and_structures_in_gliner2_shape():
    r = row("Erlotinib targets EGFR.", ("drug", "Erlotinib"), ("gene", "EGFR"), relations=[{"label": "targets", "head": "Erlotinib", "tail": "EGFR"}])
    r["structures"] = [{"eligibility": {"gene": "EGFR"}}]
    output = to_gliner_record(r, SCHEMA)["output"]
    assert output["relations"] == [{"targets": {"head": "Erlotinib", "tail": "EGFR"}}]
    assert output["json_structures"] == [{"eligibility": {"gene": "EGFR"}}]


def test_records_pass_gliner2_validation_and_bad_rows_are_named():
    rows = [row("Warfarin for gout.", ("drug", "Warfarin"))]
    assert len(to_gliner_records(rows, SCHEMA)) == 1
    bad = row("Warfarin for gout.", ("drug", "Warfarin"), relations=[{"label": "targets", "head": "aspirin", "tail": "gout"}])
    with pytest.raises(InputError, match="train data: row 1.*aspirin"):
        to_gliner_records([bad], SCHEMA, where="train data")


def test_read_ner_rows_names_file_and_line(tmp_path):
    path = tmp_path / "train.jsonl"
    good = row("Warfarin for gout.", ("drug", "Warfarin"))
    broken = dict(good, entities=[{"start": 0, "end": 8, "label": "drug", "text": "Warfarim"}])
    path.write_text(json.dumps(good) + "\n\n" + json.dumps(broken) + "\n")
    with pytest.raises(InputError, match=r"train.jsonl:3: .*'Warfarin'"):
        read_ner_rows(path)
    unknown = tmp_path / "raw.jsonl"
    unknown.write_text(json.dumps({"text": "EGFR positive", "entities": {"biomarker": ["EGFR"]}}) + "\n")
    with pytest.raises(InputError, match="raw.jsonl:1: unknown_label.*biomarker"):
        read_ner_rows(unknown, SCHEMA)


def test_raw_seed_formats_are_read_through_the_clean_parser(tmp_path):
    """`medtune train ner --train-data raw.jsonl` takes the seed-000 formats (the lead's parser tests
    cover all five; here: the same spans arrive whichever way a row is written)."""
    text = "Erlotinib targets EGFR."
    raws = [
        {"text": text, "entities": {"drug": ["Erlotinib"], "gene": ["EGFR"]}},
        {"text": text, "ner": [[0, 9, "drug"], [18, 22, "gene"]]},
        {"input": text, "output": {"entities": {"drug": ["Erlotinib"], "gene": ["EGFR"]}, "relations": [{"targets": {"head": "Erlotinib", "tail": "EGFR"}}]}},
        {"text": text, "schema": {"entities": {"drug": ["Erlotinib"], "gene": ["EGFR"]}}},
    ]
    path = tmp_path / "raw.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in raws))
    rows = read_ner_rows(path, SCHEMA)
    spans = {tuple((e["start"], e["end"], e["label"]) for e in r["entities"]) for r in rows}
    assert spans == {((0, 9, "drug"), (18, 22, "gene"))}
    assert rows[2]["relations"] == [{"label": "targets", "head": "Erlotinib", "tail": "EGFR"}]
    assert to_gliner_record(rows[0], SCHEMA) == to_gliner_record(rows[3], SCHEMA)


def test_schema_file(tmp_path):
    path = tmp_path / "schema.yaml"
    path.write_text(SCHEMA_YAML)
    schema = load_schema(path)
    assert schema.labels == ["disease", "drug", "gene"] and schema.relations == {"targets": "a drug acts on a gene"}
    path.write_text("relations: {}\n")
    with pytest.raises(InputError, match="schema.yaml: expected a non-empty 'entities:'"):
        load_schema(path)
    inferred = schema_from_rows([row("Warfarin for gout.", ("drug", "Warfarin"), ("disease", "gout"), descriptions={"drug": "a drug"})])
    assert inferred.entities == {"drug": "a drug", "disease": ""}


def test_gazetteer_exact_lookup_longest_match_and_majority_label():
    train = [
        row("breast cancer and cancer", ("disease", "breast cancer"), ("disease", "cancer")),
        row("HER2 positive", ("gene", "HER2")),
        row("HER2 again", ("gene", "HER2")),
        row("HER2 as drug target", ("drug", "HER2")),
    ]
    gazetteer = Gazetteer(train)
    found = gazetteer.extract("Metastatic breast cancer, HER2+; cancers and her2 are not matched.")
    assert [(m["label"], m["text"]) for m in found] == [("disease", "breast cancer"), ("gene", "HER2")]
    assert found[0]["start"] == 11 and found[0]["end"] == 24
    assert gazetteer.seen("her2") and not gazetteer.seen("EGFR")


def test_settings_from_params_and_flags():
    params = {"seed": 7, "lora": {"r": 32}, "ner": {"epochs": 3, "lora": {"r": 16}, "base": {"sentences": 10}}}
    settings, lora = ner_settings(params)
    assert (settings.epochs, settings.seed, lora.r, lora.enabled) == (3, 7, 16, True)
    assert ner_base_settings(params).sentences == 10
    assert ner_settings({"seed": 7, "ner": {"seed": None}})[0].seed == 7  # null = the top-level seed
    assert ner_settings({"seed": 7, "ner": {"seed": 3}})[0].seed == 3
    with pytest.raises(ConfigError, match="ner: unknown key"):
        ner_settings({"ner": {"epoch": 3}})

    from medtune.config import flag_overrides
    from medtune.ner.commands import add_ner_train_parser

    sub = argparse.ArgumentParser().add_subparsers()
    parser = add_ner_train_parser(sub)
    args = parser.parse_args(["--train-data", "x.jsonl", "--no-lora", "--lora-rank", "4", "--encoder-lr", "2e-5", "--eval-steps", "50"])
    assert flag_overrides(args, NerLoraSettings) == {"enabled": False, "r": 4}
    assert flag_overrides(args, NerSettings) == {"encoder_lr": 2e-5, "eval_steps": 50}
    assert NerSettings().epochs == 10 and NerSettings().task_lr == 5e-4 and NerLoraSettings().alpha == 16


def test_generic_corpus_is_consistent_deterministic_and_not_clinical():
    examples = generic_examples(200, seed=3)
    assert examples == generic_examples(200, seed=3) and examples != generic_examples(200, seed=4)
    for example in examples:
        text, entities = example["input"], example["output"]["entities"]
        for label, mentions in entities.items():
            for mention in mentions:
                assert text[mention["start"]:mention["end"]] == mention["text"]
        assert sum(not mentions for mentions in entities.values()) >= 1  # negatives asked
    assert not {"disease", "drug", "gene", "lab_test", "procedure"} & set(LEXICON)


def test_generic_corpus_shares_no_surface_with_the_sample_clinical_lexicon():
    """Honesty of the base: it never sees a task entity name (seen or holdout), whatever its label."""
    from medtune.sample import lexicon as lx
    from medtune.text import normalize_surface

    task_names = {
        *(n for c in lx.CONDITIONS + lx.HOLDOUT_CONDITIONS for n in c.names + c.holdout_names + c.drugs),
        *(n for lab in lx.LABS for n in lab.names + lab.holdout_names),
        *(d for ds in lx.DRUG_CLASSES.values() for d in ds), *lx.OTHER_DRUGS, *lx.HOLDOUT_DRUGS,
        *lx.GENES, *lx.HOLDOUT_GENES, *lx.GENE_DRUGS.values(), *lx.PROCEDURES, *lx.HOLDOUT_PROCEDURES,
    }
    task = {normalize_surface(n) for n in task_names}
    base = {normalize_surface(s) for _, surfaces in LEXICON.values() for s in surfaces}
    assert not task & base
    # not even as a word inside a base surface ("blood pressure" would teach half of "high blood pressure")
    assert not {w for s in base for w in s.split()} & {n for n in task if " " not in n and len(n) > 3}


def test_clean_rejects_structure_values_that_are_not_in_the_text():
    """GLiNER2 can only extract text from the input; its trainer silently drops such structures."""
    from medtune.data.formats import RowError, parse_ner

    ok = parse_ner({"text": "Trial requires ECOG 0-1.", "structures": {"eligibility": {"performance_status": "ECOG 0-1"}}})
    assert ok.row["structures"] == [{"eligibility": {"performance_status": "ECOG 0-1"}}]
    with pytest.raises(RowError, match="span_text_mismatch.*ECOG 0"):
        parse_ner({"text": "An ECOG performance status of 0.", "structures": {"eligibility": {"performance_status": "ECOG 0"}}})


def test_train_ner_declares_every_setting_it_reads():
    """A key that ner_settings reads but dvc.yaml does not list would not re-run train-ner when it changes
    (`ner.seed` once was one: `-S ++ner.seed=1` left the model as it was)."""
    import dataclasses

    import yaml

    root = Path(__file__).resolve().parents[1]
    declared = set(yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["train-ner"]["params"])
    assert "ner" in declared or {f"ner.{f.name}" for f in dataclasses.fields(NerSettings)} <= declared
    assert "ner" in declared or "ner.lora" in declared
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert {key.split(".", 1)[1] for key in declared if key.startswith("ner.")} <= set(params["ner"])  # DVC needs them present
