"""JSON-schema constrained decoding: one xgrammar grammar, the same in both generation backends.

A free greedy answer can end on the end token before its JSON closes (stop 20: 2 of 111 cot test outputs stopped
after 21 tokens mid-reasoning, so no verdict was ever written). Under the schema's grammar the end token is masked
until the JSON is complete, and every token must keep the text a valid prefix of a schema-valid object.

The grammar is built from the schema (`JsonAnswer.grammar`, xgrammar's JSON-schema converter) as EBNF text in the
layout of the task's training answers: no free whitespace, the separators those answers are written with. vLLM takes
that text (`StructuredOutputsParams(grammar=...)`, xgrammar backend pinned) and the transformers backend compiles
the same text for xgrammar's `transformers.LogitsProcessor`: same library, same grammar, same token masks, so a row
decodes alike in both backends (tested in tests/test_constrained.py). Free whitespace (vLLM's default for a plain
`json=` schema) is ruled out on purpose: an untrained model fills it forever ("{" then 47 whitespace tokens,
measured on the tests' tiny base), and the adapters never saw whitespace there. Hand-writing a JSON state machine
would re-implement what xgrammar, vLLM's default structured-output engine, already does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Mapping

from medtune.config import ConfigError

VLLM_STRUCTURED_OUTPUTS = {"backend": "xgrammar"}  # pinned, not "auto": vLLM's "auto" may pick another engine


@dataclass(frozen=True)
class JsonAnswer:
    """A task's answer format: its JSON schema and the (item, key) separators its training answers are written with
    (`prompts.cot_answer`: ", " and ": "; `prompts.endpoint_answer`: compact "," and ":")."""

    schema: Mapping
    separators: tuple[str, str]

    def grammar(self) -> str:
        """EBNF text of the grammar that accepts exactly the schema's objects in the training answers' layout."""
        xgr = _xgrammar()
        return str(xgr.Grammar.from_json_schema(json.dumps(self.schema, ensure_ascii=False), any_whitespace=False,
                                                separators=self.separators))


def _xgrammar():
    try:
        import xgrammar
        import xgrammar.contrib.hf  # noqa: F401  (the transformers LogitsProcessor)
    except ImportError as exc:
        raise ConfigError(f"constrained decoding needs xgrammar, which is not importable here ({exc}); it comes with "
                          "medtune's dependencies (`make setup`), or turn the constraint off "
                          "(e.g. `eval.cot.constrained: false`)") from exc
    return xgrammar


class JsonSchemaLogitsProcessors:
    """Compiles an answer format's grammar once for a tokenizer; `fresh()` gives the logits processors for one
    `generate()` call (xgrammar's processor holds per-row matchers, so each call needs a new one)."""

    def __init__(self, tokenizer, vocab_size: int, answer: JsonAnswer):
        xgr = _xgrammar()
        # vocab_size is the model's logits width, which may exceed the tokenizer's (padded embeddings)
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
        self.grammar = xgr.GrammarCompiler(info).compile_grammar(answer.grammar())

    def fresh(self) -> list:
        return [_xgrammar().contrib.hf.LogitsProcessor(self.grammar)]


def vllm_structured_outputs(answer: JsonAnswer):
    """vLLM's per-request constraint: the same grammar text."""
    from vllm.sampling_params import StructuredOutputsParams

    return StructuredOutputsParams(grammar=answer.grammar())


def generate_systems(engine, messages: list, max_new_tokens: int, adapter: str, batch_size: int,
                     answer: JsonAnswer | None) -> dict[str, list[str]]:
    """The outputs an evaluation scores, keyed by metric prefix: the adapter ("") and the untuned base ("base_"),
    both under `answer` when given; then also the adapter decoding free ("free_"), so its own format errors stay
    measured. cot and endpoints share this."""
    def run(name: str | None, label: str, constraint: JsonAnswer | None) -> list[str]:
        return engine.generate(messages, max_new_tokens, name, batch_size, f"generate {adapter} ({label})", constraint)

    outputs = {"": run(adapter, "fine-tuned", answer), "base_": run(None, "base", answer)}
    if answer is not None:
        outputs["free_"] = run(adapter, "free", None)
    return outputs
