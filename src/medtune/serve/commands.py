"""`medtune chat`: interactive (or piped) inference with the safety-aware QA model. Heavy imports stay inside."""

from __future__ import annotations

import argparse

from medtune.config import add_flags, flag_overrides, with_overrides


def _chat(args: argparse.Namespace) -> int:
    from medtune.serve.chat import ChatSettings, chat

    return chat(with_overrides(ChatSettings(), flag_overrides(args, ChatSettings)))


def register(subparsers: argparse._SubParsersAction) -> None:
    from medtune.serve.chat import ChatSettings

    parser = subparsers.add_parser(
        "chat",
        help="chat with the QA model (safety prompt kept; streams in a terminal, JSON lines through a pipe)",
        description=(
            "Chat with the safety-aware medical QA model: base + LoRA adapter (--adapter, default models/qa/adapter) "
            "or a merged model (--model). In a terminal answers stream token by token; /reset clears the "
            "conversation, /exit quits; the oldest turns are dropped to fit the context, never the safety prompt. "
            "With stdin not a terminal, each line is one question and each output line is "
            '{"prompt": ..., "answer": ..., "refused": true|false}.'
        ),
        epilog="example: echo 'What is asthma?' | medtune chat --adapter models/qa/adapter",
    )
    add_flags(parser, ChatSettings)
    parser.set_defaults(func=_chat)
