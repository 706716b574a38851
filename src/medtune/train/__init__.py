"""Training: the tiny base LM, LoRA SFT for chat-style causal-LM tasks, scoring and merging."""

import logging

# bitsandbytes logs a warning on every import that an optional CPU kernel package is missing: noise here.
logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
