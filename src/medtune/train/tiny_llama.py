"""The tiny Llama of the sample profile, built from its shape: the one constructor of build-base (`base_lm`) and of the
GPU pretraining of its starting point (`tiny_pretrain`). It imports only transformers, so the GPU step can run on a
bare image with PYTHONPATH=src."""

from __future__ import annotations


def new_tiny_llama(tokenizer, hidden_size: int, num_layers: int, num_heads: int, intermediate_size: int, max_position_embeddings: int):
    """A randomly initialised `LlamaForCausalLM` sized to `tokenizer` (seed torch before calling for a fixed init)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        head_dim=hidden_size // num_heads,
        max_position_embeddings=max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,  # halves the parameters that a tiny model spends on its vocabulary
    )
    model = LlamaForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model
