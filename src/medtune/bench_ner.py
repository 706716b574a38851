"""GLiNER2 speed on this CPU: extraction sentences/s and training examples/s (LoRA and full fine-tune).

Baselines in the same run: extraction at batch size 1 and the gazetteer lookup (extraction), the full
fine-tune with every encoder weight trainable (training; LoRA and the frozen-embedding full fine-tune of
the sample profile are measured against it). Texts come from the sample NER generator, so lengths match
the pipeline's. The model is models/ner/final or models/ner/best when the pipeline has built it, else a
fresh GLiNER2 on the MiniLM encoder (same architecture and cost; untrained heads change what is found,
little how fast).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

TRAINED = Path("models/ner")


def _rows(n: int, seed: int = 7) -> list[dict]:
    """Canonical NER rows from the sample generator, through `clean`'s parser."""
    from medtune.data.formats import parse_ner
    from medtune.sample import generate

    return [parse_ner(row).row for row in generate("ner", n, seed=seed)][:n]


def _texts(n: int, seed: int = 7) -> list[str]:
    return [row["text"] for row in _rows(n, seed)]


def _records(texts: list[str]) -> list[dict]:
    # Label every capitalised word as a "term": cheap, valid supervision of realistic length for timing.
    records = []
    for text in texts:
        spans, start = [], 0
        for word in text.split():
            begin = text.index(word, start)
            start = begin + len(word)
            if word[:1].isupper() and word.isalpha():
                spans.append({"text": word, "start": begin, "end": start})
        records.append({"input": text, "output": {"entities": {"term": spans, "unit": []}}})
    return records


def _train_rate(base_dir: Path, records: list[dict], lora: bool, freeze_embeddings: bool = False) -> float:
    from gliner2.training.trainer import GLiNER2Trainer, TrainingConfig

    from medtune.ner.model import freeze_word_embeddings, load_gliner2

    model = load_gliner2(base_dir)
    if freeze_embeddings:  # as train-ner does with ner.freeze_embeddings (full fine-tune)
        freeze_word_embeddings(model)
    with tempfile.TemporaryDirectory() as out:
        config = TrainingConfig(
            output_dir=out, num_epochs=1, batch_size=8, fp16=False, num_workers=0, pin_memory=False,
            eval_strategy="no", save_total_limit=0, validate_data=False, use_lora=lora, lora_r=8, lora_alpha=16,
        )
        result = GLiNER2Trainer(model, config, train_data=records).train()
    return result["samples_per_second"]


def _trained() -> Path | None:
    """models/ner/final (LoRA run) or models/ner/best (full fine-tune) when the pipeline has built one."""
    from medtune.evaluate.ner import trained_model_dir

    try:
        return trained_model_dir(TRAINED)
    except FileNotFoundError:
        return None


def bench_ner(sentences: int = 128, train_examples: int = 64) -> dict:
    import torch

    from medtune.ner import model as models
    from medtune.ner.gazetteer import Gazetteer
    from medtune.ner.predict import extract_entities
    from medtune.ner.schema import EntitySchema

    texts = _texts(sentences)
    schema = EntitySchema(entities={"disease": "A disease", "drug": "A drug", "lab_test": "A lab test", "gene": "A gene", "procedure": "A procedure"})
    work = Path(tempfile.mkdtemp(prefix="bench-ner-"))
    try:
        base_dir = work / "base"
        models.new_gliner2(str(models.minilm_path())).save_pretrained(str(base_dir))
        trained = _trained()
        model = models.load_ner_model(trained) if trained else models.load_gliner2(base_dir)
        extract_entities(model, texts[:8], schema)  # warm-up
        rates = {}
        for batch_size in (8, 1):
            started = time.perf_counter()
            extract_entities(model, texts, schema, batch_size=batch_size)
            rates[batch_size] = len(texts) / (time.perf_counter() - started)
        gazetteer = Gazetteer(_rows(1000, seed=8))
        started = time.perf_counter()
        for text in texts:
            gazetteer.extract(text)
        gazetteer_rate = len(texts) / (time.perf_counter() - started)
        records = _records(_texts(train_examples, seed=9))
        lora_rate = _train_rate(base_dir, records, lora=True)
        full_rate = _train_rate(base_dir, records, lora=False)
        frozen_rate = _train_rate(base_dir, records, lora=False, freeze_embeddings=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "model": str(trained) if trained else "fresh GLiNER2 on all-MiniLM-L6-v2",
        "torch_threads": torch.get_num_threads(),
        "extract_sentences_per_s": round(rates[8], 1),
        "extract_sentences_per_s_batch1": round(rates[1], 1),
        "gazetteer_sentences_per_s": round(gazetteer_rate, 1),
        "train_lora_examples_per_s": round(lora_rate, 2),
        "train_full_examples_per_s": round(full_rate, 2),
        "train_full_frozen_embeddings_examples_per_s": round(frozen_rate, 2),
        "lora_speedup_vs_full": round(lora_rate / full_rate, 2),
        "frozen_embeddings_speedup_vs_full": round(frozen_rate / full_rate, 2),
    }
