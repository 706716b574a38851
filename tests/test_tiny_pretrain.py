"""The pretrained starting point of the tiny base: the shipped checkpoint, its recipe (corpus -> GPU-style training
loop, run here on CPU for a few steps) and build-base continuing from it (`tiny_lm.init`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from medtune.config import ConfigError, TinyLMSettings, from_mapping
from medtune.train.base_lm import build_base, load_init
from medtune.train.tiny_pretrain import PROBE_PHRASE_SHARE, build_corpus, shuffled_repeat_documents, train

REPO = Path(__file__).resolve().parents[1]
SMALL = dict(hidden_size=64, num_layers=2, num_heads=2, intermediate_size=128)


def test_shuffled_repeats_copy_their_own_random_words():
    texts = ["Metformin was dissolved in saline before each dose.", "Patient denies asthma; eGFR 48."]
    documents = shuffled_repeat_documents(texts, 50, seed=3)
    words = {"Metformin", "dissolved", "saline", "before", "each", "dose", "Patient", "denies", "asthma", "eGFR"}
    for document in documents:
        first, second = document.removeprefix("Text: ").split("\nRepeat: ")
        assert first == second and 3 <= len(first.split()) <= 24 and set(first.split()) <= words
    assert len(set(documents)) > 40 and shuffled_repeat_documents(texts, 50, seed=3) == documents


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> Path:
    """The real recipe at scale 1, trained for 3 CPU steps with a small shape."""
    root = tmp_path_factory.mktemp("tiny-pretrain")
    info = build_corpus(root / "corpus", scale=1)
    stream = np.load(root / "corpus" / "stream.npy")
    assert info["tokens"] == stream.size > 500_000 and stream.max() < info["vocab"] == 2048
    meta = train(root / "corpus", root / "init", steps=3, batch_size=2, block_size=64, **SMALL)
    assert meta["steps"] == 3 and meta["tokens_seen"] == 3 * 2 * 64 and len(meta["loss_every_500_steps"]) == 1
    return root / "init"


def test_corpus_holds_no_pipeline_row_and_no_holdout_name(pretrained):
    """Independent draw: seed 7 and holdout 0, so neither the pipeline's rows (seed 42) nor its unseen names occur."""
    from medtune.data.formats import parser_for
    from medtune.sample import generate
    from medtune.sample import lexicon as lx
    from medtune.train.base_lm import row_texts
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(pretrained)
    text = tokenizer.decode(np.load(pretrained.parent / "corpus" / "stream.npy")[:2_000_000].tolist())
    holdout = {n for c in lx.CONDITIONS for n in c.holdout_names} | {n for lab in lx.LABS for n in lab.holdout_names}
    assert holdout and not [name for name in holdout if f" {name} " in text]
    pipeline_notes = [t for raw in generate("reranker", 40, seed=42, holdout_fraction=0.05, note_facts=5)
                      for t in row_texts(parser_for("reranker")(raw).row) if len(t) > 150]
    assert pipeline_notes and not [t for t in pipeline_notes if t in text]


def test_build_base_continues_from_init_and_loads_with_plain_transformers(pretrained, tmp_path):
    from lm_fixtures import write_split_tree
    from transformers import AutoModelForCausalLM, AutoTokenizer

    split = write_split_tree(tmp_path / "data", n_train=20, n_val=4, n_test=4)
    settings = TinyLMSettings(init=str(pretrained), vocab_size=2048, max_position_embeddings=1024, block_size=64, epochs=1,
                              max_steps=2, batch_size=4, learning_rate=3e-4, **SMALL)
    metrics = build_base(split, tmp_path / "base", settings, seed=0)
    assert metrics["init"] == str(pretrained) and metrics["init_pretrain_steps"] == 3 and metrics["pretrain_steps"] == 2
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "base")
    init = AutoModelForCausalLM.from_pretrained(pretrained)
    assert (AutoTokenizer.from_pretrained(tmp_path / "base").get_vocab() == AutoTokenizer.from_pretrained(pretrained).get_vocab())
    assert "{% generation %}" in AutoTokenizer.from_pretrained(tmp_path / "base").chat_template
    weight = "model.layers.0.self_attn.q_proj.weight"
    assert not np.allclose(model.state_dict()[weight].numpy(), init.state_dict()[weight].numpy())  # it trained on


def test_init_with_another_shape_is_an_error_naming_the_keys(pretrained):
    settings = TinyLMSettings(init=str(pretrained), vocab_size=2048, max_position_embeddings=1024, **{**SMALL, "hidden_size": 96, "num_heads": 3})
    with pytest.raises(ConfigError, match=r"hidden_size: params 96, .* 64.*num_heads: params 3, .* 2"):
        load_init(settings)
    with pytest.raises(ConfigError, match="no config.json"):
        load_init(TinyLMSettings(init=str(pretrained.parent / "missing")))


def test_shipped_init_matches_params_and_records_its_recipe():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    settings = from_mapping(TinyLMSettings, params["tiny_lm"], where="tiny_lm")
    assert settings.init == "assets/tiny-lm-init"
    tokenizer, model, meta = load_init(TinyLMSettings(**{**settings.__dict__, "init": str(REPO / settings.init)}))
    recipe = json.loads((REPO / settings.init / "pretrain_meta.json").read_text())
    assert meta["init_pretrain_steps"] == recipe["steps"] > 10_000 and recipe["corpus"]["seed"] != params["data"]["sample"]["seed"]
    assert PROBE_PHRASE_SHARE == params["tiny_lm"]["probe_phrase_share"]  # the init's corpus mixes its probes as build-base does
    assert model.config.head_dim >= 32 and tokenizer.convert_ids_to_tokens(tokenizer("7 12")["input_ids"]) == ["7", "Ġ", "1", "2"]
