"""LLM judge backends: chat clients (OpenAI-compatible HTTP, in-process transformers) and their cache."""
