"""A dynamic-weights GRPO job on the tiny profile, for the tests that stop, kill and resume the real job entry
point (`python -m components.grpo.job`) in a subprocess."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.components.grpo.project_inputs import ingested, project_params

POLICY = Path("policies") / "dynamic-0"  # where the job's one policy lands, under the job's folder


def dynamic_job(root: Path, model_cache: Path, steps: int, save_steps: int) -> list[str]:
    """Writes root/params.yaml (dynamic weights on two objectives without reward models, `steps` steps,
    checkpoints every `save_steps`) and ingests the sample prompts into root/data; returns the job's command
    line, to run from the project's folder (tests.conftest.REPO)."""
    params = project_params(
        model_cache,
        "objectives=[{name: concision, scorer: concision, target_words: 5}, {name: novelty, scorer: novelty}]",
        "grpo.weights=[{concision: 0.5, novelty: 0.5}]",
        "data.sources=[{name: prompts, uri: data/sample/prompts.jsonl}]",
        "grpo.strategy=dynamic",  # its callback writes state into each checkpoint: the marker lists it
        f"grpo.max_steps={steps}",
        f"grpo.save_steps={save_steps}",
        "grpo.num_generations=2",
        "grpo.log_completions_every=0",
        "sft.enabled=false",  # prompts only: the tiny policy is the start policy
    )
    ingested(params, root / "data")
    (root / "params.yaml").write_text(params.to_yaml())
    command = [sys.executable, "-m", "components.grpo.job", "--params", str(root / "params.yaml")]
    command += ["--data", str(root / "data"), "--reward-models", str(root / "none")]
    return command + ["--out", str((root / POLICY).parent), "--summary", str(root / "summary.json")]
