"""A trained reward model as an MLflow model, with the md5 of the pairs it learnt from and the reward-model params.

A cross-encoder is the transformers flavour, a text-classification pipeline that returns the raw reward (no sigmoid;
every head for a shared model); its input is the conversation formatted with the saved chat template. An embedding
head is a pyfunc model over its saved directory; its input is a table of `prompt` (the messages) and `reply`, its
output the raw reward.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import mlflow

from paretoflow import tracking
from paretoflow.schema import Params

EXAMPLE = [{"role": "user", "content": "I feel alone lately."}, {"role": "assistant", "content": "I'm here with you."}]
INFERENCE = {"function_to_apply": "none", "top_k": None, "truncation": True}


def log_reward_model(path: Path, name: str, objectives: list[str], params: Params, data_md5: str) -> str | None:
    """Log the model saved at `path` into the active run; its `models:/` URI, or None outside a run."""
    if mlflow.active_run() is None:
        return None
    from components.reward_models.embedding_head import is_embedding_head

    logged = {
        "params": tracking.flatten(params.model_dump(mode="json", include={"reward_model", "seed"})),
        "tags": {"data.md5": data_md5, "objectives": ",".join(objectives), "paretoflow.kind": "reward_model"},
    }
    if is_embedding_head(path):
        info = _log_embedding_head(path, name, logged)
    else:
        info = _log_cross_encoder(path, name, logged)
    tracking.set_tags({f"reward_model.{name}.model_uri": info.model_uri, "data.md5": data_md5})
    return info.model_uri


def _requirements(*packages: str) -> list[str]:
    # MLflow's own requirement inference imports torchvision, which this project does not install
    return [f"{pkg}=={metadata.version(pkg)}" for pkg in packages]


def _log_embedding_head(path: Path, name: str, logged: dict):
    import pandas as pd

    example = pd.DataFrame({"prompt": [json.dumps(EXAMPLE[:1])], "reply": [EXAMPLE[1]["content"]]})
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=str(Path(__file__).with_name("embedding_head_pyfunc.py")),  # from code: nothing pickled
        artifacts={"model": str(path)},
        input_example=example,
        pip_requirements=_requirements("torch", "transformers", "scikit-learn"),
        **logged,
    )


def _log_cross_encoder(path: Path, name: str, logged: dict):
    import transformers

    pipeline = transformers.pipeline("text-classification", model=str(path), **INFERENCE)
    example = pipeline.tokenizer.apply_chat_template(EXAMPLE, tokenize=False)
    return mlflow.transformers.log_model(
        pipeline,
        name=name,
        task="text-classification",
        model_config=INFERENCE,
        input_example=[example],
        pip_requirements=_requirements("torch", "transformers"),
        **logged,
    )
