"""Which chat client a judge setting gets (`rubrics.judge.kind`, factories in `paretoflow.factories.JUDGE_BACKENDS`):
the dispatcher, apart from the clients, which it imports only when their backend is chosen."""

from __future__ import annotations

from pathlib import Path
from pkgutil import resolve_name

from components.judges.base import ChatClient
from paretoflow.factories import JUDGE_BACKENDS
from paretoflow.schema import HFJudge, JudgeSpec, OfflineJudge, OpenAIJudge


def make_chat_client(settings: JudgeSpec, cache_dir: str | Path) -> ChatClient | None:
    """The cached client for the judge settings; None for `offline` (no LLM).

    Replies are cached under `<cache_dir>/judge-cache/`; HF models are converted into `<cache_dir>/models/`.
    """
    from components.judges.cache import CachedChatClient

    inner = resolve_name(JUDGE_BACKENDS[settings.kind])(settings, cache_dir)
    return None if inner is None else CachedChatClient(inner, Path(cache_dir) / "judge-cache")


def openai_client(settings: OpenAIJudge, cache_dir: str | Path) -> ChatClient:
    from components.judges.openai_chat import OpenAIChatClient

    return OpenAIChatClient(settings)


def hf_client(settings: HFJudge, cache_dir: str | Path) -> ChatClient:
    from components.judges.hf_chat import HFChatClient

    return HFChatClient(settings, cache_dir)


def no_client(settings: OfflineJudge, cache_dir: str | Path) -> None:
    """`offline`: rubrics are scored by the encoder and rules, no LLM to ask."""
    return None
