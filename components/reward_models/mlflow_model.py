"""A trained reward model as an MLflow model: the transformers flavour, a text-classification pipeline that
returns the raw reward (no sigmoid; every head for a shared model), with the md5 of the pairs it learnt
from and the reward-model params. Its input is the conversation formatted with the saved chat template.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from paretoflow import tracking
from paretoflow.schema import Params

EXAMPLE = [{"role": "user", "content": "I feel alone lately."}, {"role": "assistant", "content": "I'm here with you."}]
INFERENCE = {"function_to_apply": "none", "top_k": None, "truncation": True}


def log_reward_model(path: Path, name: str, objectives: list[str], params: Params, data_md5: str) -> str | None:
    """Log the model saved at `path` into the active run; its `models:/` URI, or None outside a run."""
    import mlflow

    if mlflow.active_run() is None:
        return None
    import transformers

    pipeline = transformers.pipeline("text-classification", model=str(path), **INFERENCE)
    example = pipeline.tokenizer.apply_chat_template(EXAMPLE, tokenize=False)
    info = mlflow.transformers.log_model(
        pipeline,
        name=name,
        task="text-classification",
        model_config=INFERENCE,
        input_example=[example],
        # MLflow's own requirement inference imports torchvision, which this project does not install
        pip_requirements=[f"{pkg}=={metadata.version(pkg)}" for pkg in ("torch", "transformers")],
        params=tracking.flatten(params.model_dump(mode="json", include={"reward_model", "seed"})),
        tags={"data.md5": data_md5, "objectives": ",".join(objectives), "paretoflow.kind": "reward_model"},
    )
    tracking.set_tags({f"reward_model.{name}.model_uri": info.model_uri, "data.md5": data_md5})
    return info.model_uri
