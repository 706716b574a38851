"""CLI: `medtune train ner ...` (GLiNER2 fine-tuning, seed-000 flags) and `medtune extract ...`.

`add_ner_train_parser(train_subparsers)` adds `ner` under the `train` command group; `register(subparsers)`
adds the top-level `extract` command. Heavy imports (torch, gliner2, peft) happen inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from medtune.config import add_flags, flag_overrides, with_overrides
from medtune.ner.settings import NerLoraSettings, NerSettings

DEFAULT_BASE = "models/base/ner"
DEFAULT_SCHEMA = "configs/entity_schema.yaml"


def add_ner_train_parser(train_subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = train_subparsers.add_parser(
        "ner",
        help="fine-tune the GLiNER2 entity extractor (LoRA by default)",
        description=(
            "Fine-tune a GLiNER2 extractor with gliner2's own trainer. Training data: canonical NER rows "
            "(data/split/ner/*.jsonl) or any of the five seed-000 formats. A LoRA run saves "
            "<output-dir>/final (adapter + merged weights), --no-lora saves <output-dir>/best."
        ),
    )
    parser.add_argument("--train-data", required=True, type=Path, help="training JSONL")
    parser.add_argument("--eval-data", type=Path, help="evaluation JSONL: entity F1 every --eval-steps, picks 'best' of a full run")
    parser.add_argument("--output-dir", type=Path, default=Path("models/ner"), help="where final/ or best/ go (default: models/ner)")
    parser.add_argument(
        "--base-model",
        default=DEFAULT_BASE,
        help=f"GLiNER2 checkpoint to adapt: a local folder or a hub id such as fastino/gliner2-base-v1 (default: {DEFAULT_BASE}, the build-base-ner output)",
    )
    parser.add_argument(
        "--schema-path",
        type=Path,
        default=None,
        help=f"entity schema YAML (label -> description) back-filled into examples that lack descriptions (e.g. {DEFAULT_SCHEMA}); default: the labels found in the training data",
    )
    add_flags(parser, NerSettings, "training")
    add_flags(parser, NerLoraSettings, "LoRA")
    parser.set_defaults(func=run_train_ner)
    return parser


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "extract",
        help="extract entities with a trained GLiNER2 model",
        description="Print the entities GLiNER2 finds in TEXT, or in each line of FILE (.jsonl: its 'text' field).",
    )
    parser.add_argument("input", help="a text, or a file with one text per line (.jsonl: rows with 'text')")
    parser.add_argument("--model", default="models/ner/final", help="trained model folder (default: models/ner/final)")
    parser.add_argument("--labels", help="comma-separated entity labels (default: the labels the model was trained on)")
    parser.add_argument("--threshold", type=float, help="score threshold (default: the model's, else 0.5)")
    parser.add_argument("--jsonl", action="store_true", help="print one JSON line per text instead of a table")
    parser.add_argument("--batch-size", type=int, default=8, help="texts per forward pass")
    parser.set_defaults(func=run_extract)


def run_train_ner(args: argparse.Namespace) -> int:
    from medtune.console import console
    from medtune.ner.data import read_ner_rows
    from medtune.ner.schema import load_schema, schema_from_rows
    from medtune.ner.train import train_ner

    settings = with_overrides(NerSettings(), flag_overrides(args, NerSettings))
    lora = with_overrides(NerLoraSettings(), flag_overrides(args, NerLoraSettings))
    schema = load_schema(args.schema_path) if args.schema_path else None
    train_rows = read_ner_rows(args.train_data, schema)
    eval_rows = read_ner_rows(args.eval_data, schema) if args.eval_data else None
    schema = schema or schema_from_rows(train_rows)
    summary = train_ner(train_rows, args.base_model, args.output_dir, schema, settings, lora, eval_rows)
    where = args.output_dir / ("final" if lora.enabled else "best")
    console.print(f"[bold green]saved[/] {where}  ({summary['train_seconds']:.0f} s, {summary['train_examples_per_second']:.1f} examples/s)")
    return 0


def _read_texts(source: str) -> list[str]:
    from medtune.io import InputError, read_jsonl

    path = Path(source)
    if not (len(source) < 4096 and "\n" not in source and path.is_file()):
        return [source]
    if path.suffix == ".jsonl":
        rows = read_jsonl(path)
        for number, row in enumerate(rows, start=1):
            if not isinstance(row, dict) or not isinstance(row.get("text"), str):
                raise InputError(f"{path}: row {number} has no string 'text'")
        return [row["text"] for row in rows]
    return [line for line in path.read_text().splitlines() if line.strip()]


def run_extract(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console
    from rich.table import Table

    from medtune.config import ConfigError
    from medtune.ner.model import load_ner_model, read_manifest
    from medtune.ner.predict import extract_entities
    from medtune.ner.schema import EntitySchema

    manifest = read_manifest(args.model) if Path(args.model).is_dir() else {}
    known = manifest.get("descriptions") or {}
    labels = [label.strip() for label in args.labels.split(",") if label.strip()] if args.labels else list(manifest.get("labels") or [])
    if not labels:
        raise ConfigError(f"{args.model}: no labels recorded with this model; pass --labels drug,disease,...")
    threshold = args.threshold if args.threshold is not None else manifest.get("threshold", 0.5)
    schema = EntitySchema(entities={label: known.get(label, "") for label in labels})
    texts = _read_texts(args.input)
    model = load_ner_model(args.model)
    documents = extract_entities(model, texts, schema, threshold, args.batch_size)
    if args.jsonl:
        for text, mentions in zip(texts, documents):
            sys.stdout.write(json.dumps({"text": text, "entities": mentions}, ensure_ascii=False) + "\n")
        return 0
    table = Table(title=f"entities ({args.model}, threshold {threshold})")
    for column in ("#", "label", "text", "start", "end", "score"):
        table.add_column(column, justify="right" if column in ("#", "start", "end", "score") else "left")
    for number, mentions in enumerate(documents, start=1):
        for m in mentions:
            table.add_row(str(number), m["label"], m["text"], str(m["start"]), str(m["end"]), f"{m['score']:.3f}")
    Console().print(table)
    return 0
