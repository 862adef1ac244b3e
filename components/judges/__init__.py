"""LLM judge backends: chat clients (OpenAI-compatible HTTP, in-process transformers) and their cache."""

from components.judges.base import ChatClient, JudgeError, make_chat_client

__all__ = ["ChatClient", "JudgeError", "make_chat_client"]
