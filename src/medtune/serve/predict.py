"""`medtune predict --task endpoints|chem-ner --adapter DIR TEXT|FILE`: structured extraction, printed as JSON.

endpoints: one JSON object per input, the seed-001 answer (`{"endpoints": [...]}`), decoded under the seed-001 JSON
Schema (as `evaluate-endpoints` scores it) unless `--free`; an output that is still not valid JSON (cut by
`--max-new-tokens`) is printed as `{"error": ..., "raw": ...}` and the command exits 1. chem-ner: `{"chemicals":
[...], "diseases": [...], "influences": ["chemical | disease", ...]}` per input (one generation per list), after
seed 002's filters unless `--no-filter`. Several inputs (a FILE) print one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from medtune import prompts
from medtune.io import InputError

TASKS = ("endpoints", "chem-ner")
DEFAULT_MAX_NEW_TOKENS = {"endpoints": 512, "chem-ner": 128}


def read_inputs(source: str) -> list[str]:
    """TEXT itself, or FILE: JSONL with a "text" field per line, or plain text with one input per line."""
    path = Path(source)
    if not path.is_file():
        if not source.strip():
            raise InputError("empty input text")
        return [source]
    texts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        if path.suffix == ".jsonl":
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{number}: invalid JSON ({exc.msg})") from exc
            if not isinstance(row, dict) or not isinstance(row.get("text"), str) or not row["text"].strip():
                raise InputError(f"{path}:{number}: expected an object with a non-empty string 'text'")
            texts.append(row["text"])
        else:
            texts.append(line.strip())
    if not texts:
        raise InputError(f"{path}: no inputs")
    return texts


def endpoint_result(output: str) -> dict:
    from medtune.data.formats import endpoint_schema_errors
    from medtune.evaluate.endpoints import parse_output

    parsed = parse_output(output)
    if not parsed.json_valid:
        return {"error": "the model output is not valid JSON", "raw": output}
    errors = endpoint_schema_errors(parsed.value)
    return parsed.value if not errors else {"output": parsed.value, "schema_errors": errors}


def chem_ner_result(outputs: dict[str, str], text: str, apply_filters: bool) -> dict:
    from medtune.evaluate.chem_ner import filter_reason, normalize_item, parse_items
    from medtune.text import normalize

    article = normalize(text)
    result = {}
    for task, output in outputs.items():
        items, _ = parse_items(output, task)
        kept = [i for i in items if not apply_filters or filter_reason(normalize_item(i, task), task, article) is None]
        result[task] = list(dict.fromkeys(kept))
    return result


def predict(task: str, adapter: str, texts: list[str], base_model: str | None = None, backend: str = "transformers",
            max_new_tokens: int | None = None, batch_size: int = 16, apply_filters: bool = True,
            constrained: bool = True) -> list[dict]:
    from medtune.evaluate import generation
    from medtune.evaluate.endpoints import ENDPOINT_ANSWER

    base = base_model or generation.adapter_base(adapter)
    limit = max_new_tokens or DEFAULT_MAX_NEW_TOKENS[task]
    if task == "endpoints":
        messages = [prompts.endpoint_messages(t) for t in texts]
    else:
        messages = [prompts.chem_ner_messages(t, sub) for t in texts for sub in prompts.CHEM_NER_TASKS]
    engine = generation.open_backend(backend, base, {task: adapter})
    answer = ENDPOINT_ANSWER if task == "endpoints" and constrained else None  # chem-ner answers are "- item" lines
    outputs = engine.generate(messages, limit, adapter=task, batch_size=batch_size, label=f"predict {task}", answer=answer)
    if task == "endpoints":
        return [endpoint_result(o) for o in outputs]
    n = len(prompts.CHEM_NER_TASKS)
    return [chem_ner_result(dict(zip(prompts.CHEM_NER_TASKS, outputs[i * n : (i + 1) * n])), text, apply_filters)
            for i, text in enumerate(texts)]


def _predict_command(args: argparse.Namespace) -> int:
    from medtune.train.callbacks import quiet_library_output

    quiet_library_output()
    texts = read_inputs(args.input)
    results = predict(args.task, args.adapter, texts, args.base_model, args.backend, args.max_new_tokens, args.batch_size,
                      not args.no_filter, not args.free)
    if len(results) == 1:
        print(json.dumps(results[0], indent=2, ensure_ascii=False))
    else:
        for result in results:
            print(json.dumps(result, ensure_ascii=False))
    return 1 if any("error" in r for r in results) else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "predict",
        help="extract structured output (endpoints JSON, chemical/disease/relation lists) with a LoRA adapter",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--task", required=True, choices=TASKS, help="endpoints (seed 001) or chem-ner (seed 002)")
    p.add_argument("--adapter", required=True, help="LoRA adapter directory, e.g. models/endpoints/adapter")
    p.add_argument("--base-model", default=None, help="base model (default: the one recorded in the adapter)")
    p.add_argument("--backend", default="transformers", choices=("transformers", "vllm"),
                   help="transformers (default) or vllm (LoRA via LoRARequest)")
    p.add_argument("--max-new-tokens", type=int, default=None,
                   help=f"generation limit (default: {DEFAULT_MAX_NEW_TOKENS['endpoints']} endpoints, {DEFAULT_MAX_NEW_TOKENS['chem-ner']} chem-ner)")
    p.add_argument("--batch-size", type=int, default=16, help="rows per generation batch (transformers)")
    p.add_argument("--no-filter", action="store_true", help="chem-ner: print the raw lists, without seed 002's output filters")
    p.add_argument("--free", action="store_true",
                   help="endpoints: decode without the JSON Schema constraint (what the adapter writes on its own)")
    p.add_argument("input", metavar="TEXT|FILE", help="the text itself, or a file: .jsonl with a 'text' field per line, else one input per line")
    p.set_defaults(func=_predict_command)

