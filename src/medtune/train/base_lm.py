"""`build-base`: the embedded tiny Llama causal LM that the offline `sample` profile fine-tunes.

No model hub is reachable here, so the default base model is made locally: a byte-level BPE tokenizer trained
with `tokenizers` on the sample corpus, a chat template, a small `LlamaForCausalLM` (head_dim >= 32 so vLLM can
serve it), briefly pretrained with the HF `Trainer` on the *unlabeled* text of the training splits, so the LoRA
stages adapt a model that already knows the vocabulary. Real base models (phi-4, gemma-2) skip this stage: the
SFT code path only sees a directory that `AutoModelForCausalLM`/`AutoTokenizer` can load.

Only `data/split/*/train.jsonl` feeds the tokenizer and the pretraining: val/test text must stay unseen.
"""

from __future__ import annotations

import logging
import math
import random
import re
import time
from pathlib import Path
from typing import Iterable, Iterator

from medtune import prompts
from medtune.config import ConfigError, TinyLMSettings
from medtune.io import InputError, atomic_path, read_jsonl
from medtune.train.json_warmup import json_warmup_documents
from medtune.train.lexicon_match import lexicon_concepts, surface_pattern as _surface_pattern

log = logging.getLogger(__name__)

BOS, EOS, PAD = "<|bos|>", "<|end|>", "<|pad|>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
SPECIAL_TOKENS = (PAD, BOS, EOS, *ROLE_TOKENS)

# Every turn ends with EOS (`<|end|>`), so generation stops after the assistant turn. The assistant content and its
# EOS sit inside {% generation %} so `return_assistant_tokens_mask` / TRL's assistant_only_loss work too.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "<|assistant|>\n{% generation %}{{ message['content'] }}<|end|>{% endgeneration %}\n"
    "{% elif message['role'] in ['system', 'user'] %}"
    "<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n"
    "{% else %}{{ raise_exception('unknown role: ' + message['role']) }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

# Input-side text fields of the canonical task rows (labels and answers are left out: "unlabeled" text).
TEXT_FIELDS = ("patient_text", "criterion", "text", "premise", "hypothesis", "instruction", "input")


# ---- corpus -------------------------------------------------------------------------------------------------


def row_texts(row: dict) -> Iterator[str]:
    """The unlabeled text of one canonical row: input fields and non-assistant chat turns."""
    for name in TEXT_FIELDS:
        value = row.get(name)
        if isinstance(value, str) and value.strip():
            yield value
    for message in row.get("messages") or ():
        if isinstance(message, dict) and message.get("role") in ("system", "user"):
            content = message.get("content")
            if isinstance(content, str) and content.strip():
                yield content


def corpus_texts(split_dir: Path | str, tasks: Iterable[str] | None = None) -> list[str]:
    """Unique unlabeled texts of the *train* split of `tasks` (default: every task folder), sorted so the build
    is deterministic."""
    split_dir = Path(split_dir)
    if tasks is None:
        files = sorted(split_dir.glob("*/train.jsonl"))
        if not files:
            raise InputError(f"{split_dir}: no */train.jsonl files (run the split stage first)")
    else:
        files = [split_dir / task / "train.jsonl" for task in tasks]
        missing = [str(f) for f in files if not f.exists()]
        if missing:
            raise InputError(f"missing train split(s) {missing} (run the split stage first)")
    texts: set[str] = set()
    for path in files:
        for row in read_jsonl(path):
            texts.update(row_texts(row))
    if not texts:
        raise InputError(f"{split_dir}: the train splits contain no text fields {TEXT_FIELDS} or user turns")
    # The fixed runtime prompts are part of every SFT example: put their words in the vocabulary too.
    texts.update(fixed_prompt_texts())
    return sorted(texts)


def fixed_prompt_texts() -> list[str]:
    return [
        prompts.RERANKER_QUESTION,
        prompts.COT_SYSTEM_PROMPT,
        prompts.ENDPOINT_SYSTEM_PROMPT,
        prompts.CHEM_NER_SYSTEM_PROMPT,
        prompts.QA_SAFETY_SYSTEM_PROMPT,
        prompts.QA_REFUSAL,
        WARMUP_QUESTION,
        CONCEPT_QUESTION,
        QUOTE_QUESTION,
        *prompts.RERANKER_LABELS,
        *prompts.COT_VERDICTS,
    ]


# ---- chat warm-up ---------------------------------------------------------------------------------------------

WARMUP_QUESTION = 'Does the text mention "{word}"? Answer Yes or No.'
_SENTENCE_END = re.compile(r"(?<=[.;!?])\s+")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]{3,}")


def chat_warmup_conversations(texts: list[str], n: int, seed: int) -> list[list[dict]]:
    """Self-supervised chat turns made from the unlabeled sentences: 'Does the text mention "W"?' -> Yes/No.

    The stand-in base plays the part of an instruction-tuned model (gemma-2-2b-it, phi-4), which already knows the
    chat format and answers Yes/No. Without this, the answer tokens never occur in pretraining, their embeddings
    stay near their random init, and a LoRA adapter (which cannot touch embeddings) caps P(answer) far below 1.
    The question is about the literal words of a sentence (W from the sentence or from elsewhere in the corpus):
    no task label is used."""
    rng = random.Random(seed)
    sentences = sorted({s.strip() for t in texts for s in _SENTENCE_END.split(t) if 20 <= len(s.strip()) <= 240})
    if not sentences or n <= 0:
        return []
    words = sorted({w for s in sentences for w in _WORD.findall(s)})
    conversations = []
    for _ in range(n):
        sentence = rng.choice(sentences)
        present = _WORD.findall(sentence)
        if present and rng.random() < 0.5:
            word, answer = rng.choice(present), "Yes"
        else:
            word = rng.choice(words)
            for _ in range(20):  # a word the sentence does not contain (case-insensitive)
                if word.lower() not in sentence.lower():
                    break
                word = rng.choice(words)
            else:
                continue
            answer = "No"
        conversations.append([
            {"role": "user", "content": f"{WARMUP_QUESTION.format(word=word)}\n\nText: {sentence}"},
            {"role": "assistant", "content": answer},
        ])
    return conversations


CONCEPT_QUESTION = 'Does the text say anything about "{term}", under any name? Answer Yes or No.'


def concept_warmup_conversations(texts: list[str], n: int, seed: int) -> list[list[dict]]:
    """Self-supervised 'Does the text say anything about "T"?' turns on whole texts: Yes when any surface form of
    T's concept occurs (a synonym counts, e.g. T2DM for "type 2 diabetes mellitus"; a negation counts too:
    "Denies asthma" says something about asthma), else No. Derived from the unlabeled training text and the
    lexicon only — no task label is used."""
    if n <= 0:
        return []
    rng = random.Random(seed)
    concepts = lexicon_concepts()
    patterns = [_surface_pattern(c) for c in concepts]
    candidates = []
    for text in texts:
        if len(text) < 40:
            continue
        present = [i for i, pattern in enumerate(patterns) if pattern.search(text)]
        if present:
            candidates.append((text, present))
    if not candidates:
        return []
    conversations = []
    for _ in range(n):
        text, present = rng.choice(candidates)
        if rng.random() < 0.5:
            concept, answer = concepts[rng.choice(present)], "Yes"
        else:
            absent = [i for i in range(len(concepts)) if i not in present]
            concept, answer = concepts[rng.choice(absent)], "No"
        term = rng.choice(concept)
        conversations.append([
            {"role": "user", "content": f"{CONCEPT_QUESTION.format(term=term)}\n\nText: {text}"},
            {"role": "assistant", "content": answer},
        ])
    return conversations


def concept_phrases(texts: list[str], concepts: list[tuple[str, ...]], class_names: set[str]) -> dict[int, list[str]]:
    """Short sentences of the corpus (2-16 words, end punctuation dropped) that name exactly one lexicon concept, by
    concept index; a drug class counts only under its class name, as the probes ask it."""
    naming = [_surface_pattern((c[0],) if c[0] in class_names else c) for c in concepts]
    sentences = sorted({s.strip().rstrip(".;!?") for t in texts for s in _SENTENCE_END.split(t)})
    by_concept: dict[int, list[str]] = {}
    for sentence in sentences:
        if not 2 <= len(sentence.split()) <= 16 or ":" in sentence or "\n" in sentence:
            continue
        hits = [i for i, pattern in enumerate(naming) if pattern.search(sentence)]
        if len(hits) == 1:
            by_concept.setdefault(hits[0], []).append(sentence)
    return by_concept


def probe_documents(texts: list[str], n: int, seed: int, probes: int = 8, phrase_share: float = 0.0) -> list[str]:
    """Dense label-free matching practice: a text, then `probes` lines "<term>: Yes|No" saying whether the text
    says anything about the term (a lexicon concept under any of its names, or a literal word of the corpus).

    `phrase_share` of the concept questions name the concept inside a short sentence of the corpus instead
    ("No current use of dapagliflozin: No"), so the base learns to find the term in a phrase before looking it up.
    Measured (README, "The tiny base"): asked by the bare term, the init base answered 0.98 of the reranker's val
    rows right; asked by the criterion sentence, 0.61: the missing step was finding the term.

    The one-question chat turns above give one supervised answer token per ~80-token document, too sparse for a
    base pretrained for a few hundred steps: it learnt the answer format but stayed at chance on held-out notes.
    Eight answers per text give the matching (attend from a term to the same or a synonymous term in the text)
    eight times the signal per token. Derived from the unlabeled training text and the lexicon only."""
    if not 0.0 <= phrase_share <= 1.0:
        raise ConfigError(f"tiny_lm.probe_phrase_share must be between 0 and 1, got {phrase_share!r}")
    if n <= 0:
        return []
    rng = random.Random(seed)
    concepts = lexicon_concepts()
    patterns = [_surface_pattern(c) for c in concepts]
    words = sorted({w for t in texts for w in _WORD.findall(t)})
    from medtune.sample.lexicon import DRUG_CLASSES

    class_names = set(DRUG_CLASSES)
    candidates = [t for t in texts if 40 <= len(t) <= 1200]
    if not candidates:
        return []
    phrases = concept_phrases(texts, concepts, class_names) if phrase_share > 0 else {}
    documents = []
    for _ in range(n):
        text = rng.choice(candidates)
        present = [i for i, pattern in enumerate(patterns) if pattern.search(text)]
        present_set = set(present)
        absent = [i for i in range(len(concepts)) if i not in present_set]
        own = _WORD.findall(text)
        lines = []
        for _ in range(probes):
            if rng.random() < 0.5:  # a lexicon concept, asked by any of its names
                pool, answer = (present, "Yes") if present and rng.random() < 0.5 else (absent, "No")
                index = rng.choice(pool)
                concept = concepts[index]
                # a drug class is asked by its class name only ("warfarin" is not said by a note naming apixaban)
                term = concept[0] if concept[0] in class_names else rng.choice(concept)
                if phrase_share > 0 and rng.random() < phrase_share and index in phrases:
                    term = rng.choice(phrases[index])
            else:  # a literal word, from the text or from elsewhere in the corpus
                term = rng.choice(own) if own and rng.random() < 0.5 else rng.choice(words)
                answer = "Yes" if re.search(rf"(?<![A-Za-z0-9]){re.escape(term)}(?![A-Za-z0-9])", text, re.IGNORECASE) else "No"
            lines.append(f"{term}: {answer}")
        documents.append(f"Text: {text}\nMentioned?\n" + "\n".join(lines))
    return documents


def repeat_documents(texts: list[str], n: int, seed: int) -> list[str]:
    """'Text: X / Repeat: X' with X one to three consecutive sentences of the corpus: every token of the second copy
    is predictable by looking back at the first, practice for the copying ("induction") heads that extraction
    needs. Label-free. Measured (README, "tiny base"): in this one-pass mix they do not make the base copy held-out
    text (0/40 exact copies); 1,500 further steps of shuffled-word copies did (31/40) but hurt the reranker."""
    if n <= 0:
        return []
    rng = random.Random(seed)
    split = [[s.strip() for s in _SENTENCE_END.split(t) if s.strip()] for t in texts]
    split = [s for s in split if s]
    documents = []
    for _ in range(n):
        sentences = rng.choice(split)
        start = rng.randrange(len(sentences))
        span = " ".join(sentences[start : start + rng.randint(1, 3)])
        documents.append(f"Text: {span}\nRepeat: {span}")
    return documents


QUOTE_QUESTION = 'Quote the sentence of the text that mentions "{word}".'


def quote_warmup_conversations(texts: list[str], n: int, seed: int) -> list[list[dict]]:
    """Self-supervised 'Quote the sentence that mentions "W"' turns: the answer is that sentence, copied verbatim.

    The extraction tasks (endpoints, chem-ner) answer with spans copied from their input; a real instruction-tuned
    base can already find and copy a span, the stand-in learns it here. W is a word that occurs in exactly one
    sentence of a multi-sentence text, so the answer is unambiguous; no task label is used."""
    if n <= 0:
        return []
    rng = random.Random(seed)
    candidates = []
    for text in texts:
        sentences = [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]
        if len(sentences) < 2 or len(text) > 1200:
            continue
        counts: dict[str, int] = {}
        for sentence in sentences:
            for word in set(_WORD.findall(sentence)):
                counts[word] = counts.get(word, 0) + 1
        unique = [(word, sentence) for sentence in sentences for word in sorted(set(_WORD.findall(sentence))) if counts[word] == 1]
        if unique:
            candidates.append((text, unique))
    conversations = []
    for _ in range(min(n, 50 * len(candidates))):
        text, unique = rng.choice(candidates) if candidates else (None, None)
        if text is None:
            break
        word, sentence = rng.choice(unique)
        conversations.append([
            {"role": "user", "content": f"{QUOTE_QUESTION.format(word=word)}\n\nText: {text}"},
            {"role": "assistant", "content": sentence},
        ])
    return conversations


def label_free_documents(texts: list[str], seed: int, *, json_docs: int, probe_docs: int, repeat_docs: int, chat_docs: int,
                         concept_docs: int, quote_docs: int, probe_phrase_share: float = 0.0) -> tuple[list[str], list[str], list[list[dict]]]:
    """The skill documents mixed into pretraining, each kind from its own seeded stream: (JSON warm-up documents, which
    also train the tokenizer; probe + repeat documents; chat/concept/quote conversations). No task label is used."""
    warmup = json_warmup_documents(texts, json_docs, seed)  # JSON syntax, no labels (json_warmup.py)
    skills = probe_documents(texts, probe_docs, seed + 3, phrase_share=probe_phrase_share) + repeat_documents(texts, repeat_docs, seed + 4)
    conversations = (chat_warmup_conversations(texts, chat_docs, seed) + concept_warmup_conversations(texts, concept_docs, seed + 1)
                     + quote_warmup_conversations(texts, quote_docs, seed + 2))
    return warmup, skills, conversations


# ---- tokenizer ----------------------------------------------------------------------------------------------


def train_tokenizer(texts: Iterable[str], vocab_size: int, split_digits: bool = True):
    """Byte-level BPE (any byte sequence is encodable, so no <unk>) wrapped for `AutoTokenizer`.

    `split_digits`: every digit is its own token, as in Llama and Gemma. Without it BPE learns merges such as "14"
    or "5.6", so two numbers share no sub-token structure and a small model cannot learn to compare them (lab
    thresholds, ages)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.pre_tokenizer = (pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
                         if split_digits else byte_level)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        # Any pair may merge, but merges still go by frequency: a word rare in the corpus can stay split (in the
        # sample build "No" is one token, "Yes" is "Y"+"es"). Scoring reads the first answer token either way
        # (scoring.yes_no_token_ids).
        min_frequency=1,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(texts, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=list(ROLE_TOKENS),
        model_max_length=None,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


# ---- model --------------------------------------------------------------------------------------------------


def build_model(tokenizer, settings: TinyLMSettings, seed: int):
    import torch

    from medtune.train.tiny_llama import new_tiny_llama

    if settings.hidden_size % settings.num_heads:
        raise ConfigError(f"tiny_lm: hidden_size {settings.hidden_size} is not divisible by num_heads {settings.num_heads}")
    head_dim = settings.hidden_size // settings.num_heads
    if head_dim < 32:
        raise ConfigError(f"tiny_lm: head_dim = hidden_size / num_heads = {head_dim}; vLLM needs >= 32")
    torch.manual_seed(seed)
    return new_tiny_llama(tokenizer, settings.hidden_size, settings.num_layers, settings.num_heads, settings.intermediate_size,
                          settings.max_position_embeddings)


# the TinyLMSettings keys that describe the network, and the LlamaConfig field each one is (vocab_size: the tokenizer's
# length, which sizes the embeddings)
SHAPE_KEYS = {"hidden_size": "hidden_size", "num_layers": "num_hidden_layers", "num_heads": "num_attention_heads",
              "intermediate_size": "intermediate_size", "max_position_embeddings": "max_position_embeddings"}


def load_init(settings: TinyLMSettings):
    """The pretrained starting point `tiny_lm.init` (tokenizer + weights; tiny_pretrain.py makes it). Its shape must
    equal the params' shape keys, so params.yaml keeps describing the model that build-base outputs: a mismatch is a
    ConfigError naming each key, never a silently different model."""
    import json

    from transformers import AutoTokenizer, LlamaForCausalLM

    path = Path(settings.init)
    if not (path / "config.json").is_file():
        raise ConfigError(f"tiny_lm.init: {path} has no config.json (expected a save_pretrained tiny Llama, e.g. assets/tiny-lm-init)")
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.chat_template = CHAT_TEMPLATE  # build-base owns the chat format, whatever the checkpoint saved
    model = LlamaForCausalLM.from_pretrained(path)
    actual = {"vocab_size": len(tokenizer)} | {key: getattr(model.config, name) for key, name in SHAPE_KEYS.items()}
    wrong = [f"{key}: params {getattr(settings, key)}, {path} {value}" for key, value in actual.items() if getattr(settings, key) != value]
    if wrong:
        raise ConfigError(f"tiny_lm.init {path} does not have the shape params.yaml states ({'; '.join(wrong)}); set those keys "
                          "to the checkpoint's values, or tiny_lm.init: '' to build from scratch")
    meta_file = path / "pretrain_meta.json"
    meta = json.loads(meta_file.read_text()) if meta_file.is_file() else {}
    log.info("tiny-lm: starting from %s (%s pretraining steps)", path, meta.get("steps", "unknown"))
    return tokenizer, model, {"init": str(path), "init_pretrain_steps": meta.get("steps"), "init_tokens_seen": meta.get("tokens_seen")}


def pretraining_blocks(texts: list[str], conversations: list[list[dict]], tokenizer, block_size: int, seed: int) -> list[list[int]]:
    """Causal-LM blocks the standard HF way (`group_texts`): documents (BOS text EOS, or a rendered chat) in a
    seeded random order, concatenated, cut into equal blocks."""
    documents = [[tokenizer.bos_token_id, *ids, tokenizer.eos_token_id]
                 for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    documents += [tokenizer.apply_chat_template(c, tokenize=True, return_dict=True)["input_ids"] for c in conversations]
    random.Random(seed).shuffle(documents)
    stream = [token for document in documents for token in document]
    n_blocks = len(stream) // block_size
    if n_blocks == 0:
        raise InputError(f"pretraining corpus has {len(stream)} tokens, fewer than one block of {block_size}")
    return [stream[i * block_size : (i + 1) * block_size] for i in range(n_blocks)]


def pretrain(model, tokenizer, blocks: list[list[int]], settings: TinyLMSettings, seed: int, work_dir: Path) -> dict:
    import torch
    from datasets import Dataset
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments
    from transformers.trainer_callback import PrinterCallback

    from medtune.train.progress import RichProgressCallback

    args = TrainingArguments(
        output_dir=str(work_dir),
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps if settings.max_steps > 0 else -1,
        per_device_train_batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,
        weight_decay=0.01,
        logging_steps=10,
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        seed=seed,
        data_seed=seed,
        full_determinism=True,
        dataloader_num_workers=0,
        use_cpu=not torch.cuda.is_available(),
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_dict({"input_ids": blocks}),
        data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False),
        callbacks=[RichProgressCallback("pretrain tiny-lm")],
    )
    trainer.remove_callback(PrinterCallback)
    output = trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    return {
        "pretrain_steps": trainer.state.global_step,
        "pretrain_train_loss": round(float(output.training_loss), 4),
        "pretrain_final_loss": round(float(losses[-1]), 4) if losses else None,
    }


def build_base(
    split_dir: Path | str, output_dir: Path | str, settings: TinyLMSettings, seed: int = 42, tasks: Iterable[str] | None = None
) -> dict:
    """Tokenizer + tiny Llama + short pretraining, saved with `save_pretrained` (safetensors); returns metrics."""
    from transformers import set_seed

    from medtune.train.callbacks import quiet_library_output

    quiet_library_output()
    started = time.perf_counter()
    set_seed(seed)
    texts = corpus_texts(split_dir, tasks)
    warmup, skills, conversations = label_free_documents(
        texts, seed, json_docs=settings.json_docs, probe_docs=settings.probe_docs, repeat_docs=settings.repeat_docs,
        chat_docs=settings.chat_docs, concept_docs=settings.concept_docs, quote_docs=settings.quote_docs,
        probe_phrase_share=settings.probe_phrase_share)
    if settings.init:
        tokenizer, model, init_meta = load_init(settings)
    else:
        tokenizer = train_tokenizer(texts + warmup, settings.vocab_size, settings.split_digits)
        model, init_meta = build_model(tokenizer, settings, seed), {}
    blocks = pretraining_blocks(texts + warmup + skills, conversations, tokenizer, settings.block_size, seed)
    n_params = sum(p.numel() for p in model.parameters())
    log.info("tiny-lm: %d texts + %d chat warm-up turns, vocab %d, %.2f M parameters, %d blocks of %d tokens",
             len(texts), len(conversations), len(tokenizer), n_params / 1e6, len(blocks), settings.block_size)
    output_dir = Path(output_dir)
    with atomic_path(output_dir, is_dir=True) as tmp:
        stats = pretrain(model, tokenizer, blocks, settings, seed, tmp / "_trainer")
        _remove_tree(tmp / "_trainer")
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return {
        **init_meta,
        "corpus_texts": len(texts),
        "chat_warmup_turns": len(conversations),
        "skill_documents": len(skills),
        "corpus_tokens": len(blocks) * settings.block_size,
        "vocab_size": len(tokenizer),
        "parameters": n_params,
        "pretrain_perplexity": round(math.exp(stats["pretrain_final_loss"]), 2) if stats["pretrain_final_loss"] else None,
        **stats,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
