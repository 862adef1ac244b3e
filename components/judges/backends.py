"""Which chat client a judge setting gets (`rubrics.judge.kind`): the dispatcher, apart from the clients."""

from __future__ import annotations

from pathlib import Path

from components.judges.base import ChatClient
from paretoflow.schema import HFJudge, OfflineJudge, OpenAIJudge


def make_chat_client(settings: OpenAIJudge | HFJudge | OfflineJudge, cache_dir: str | Path) -> ChatClient | None:
    """The cached client for the judge settings; None for `offline` (no LLM).

    Replies are cached under `<cache_dir>/judge-cache/`; HF models are converted into `<cache_dir>/models/`.
    """
    from components.judges.cache import CachedChatClient

    if isinstance(settings, OfflineJudge):
        return None
    if isinstance(settings, OpenAIJudge):
        from components.judges.openai_chat import OpenAIChatClient

        inner: ChatClient = OpenAIChatClient(settings)
    elif isinstance(settings, HFJudge):
        from components.judges.hf_chat import HFChatClient

        inner = HFChatClient(settings, cache_dir)
    else:
        raise TypeError(f"unknown judge settings {type(settings).__name__}")
    return CachedChatClient(inner, Path(cache_dir) / "judge-cache")
