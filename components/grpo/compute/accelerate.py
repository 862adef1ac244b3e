"""The `accelerate` target: `accelerate launch --config_file infra/accelerate/<name>.yaml -m components.grpo.job`
on this machine (CPU, one GPU, or several GPUs with DeepSpeed ZeRO-2), its output streamed as it runs."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import paretoflow
from components.grpo.compute.environment import active_run_id, tracking_environment
from paretoflow.schema import AccelerateCompute, Params

# The project checkout: where these components live, or, when they run from a copy of the project (tests,
# benchmarks), the checkout the paretoflow package is installed from.
ROOTS = (Path(__file__).resolve().parents[3], Path(paretoflow.__file__).resolve().parents[1])


def accelerate_config(config_file: str) -> Path:
    """The config as given (relative to the working directory), or relative to the project checkout."""
    for candidate in (Path(config_file), *(root / config_file for root in ROOTS)):
        if candidate.is_file():
            return candidate.resolve()
    configs = sorted({p.name for root in ROOTS for p in (root / "infra" / "accelerate").glob("*.yaml")})
    raise FileNotFoundError(
        f"accelerate config {config_file} not found; set grpo.compute.config_file to one of "
        f"infra/accelerate/{{{','.join(configs)}}} or a file of your own"
    )


def launch_command(config: Path, params_file: Path, data_dir, reward_models_dir, out_dir, summary: Path) -> list[str]:
    return [
        *(sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config)),
        *("-m", "components.grpo.job", "--params", str(params_file)),
        *("--data", str(data_dir), "--reward-models", str(reward_models_dir)),
        *("--out", str(out_dir), "--summary", str(summary)),
    ]


def run_accelerate(
    params: Params, target: AccelerateCompute, data_dir: Path, reward_models_dir: Path, out_dir: Path
) -> dict:
    config = accelerate_config(target.config_file)
    with tempfile.TemporaryDirectory(prefix="paretoflow-grpo-job-") as tmp:
        params_file, summary = Path(tmp) / "params.yaml", Path(tmp) / "summary.json"
        params_file.write_text(params.to_yaml())
        command = launch_command(config, params_file, data_dir, reward_models_dir, out_dir, summary)
        env = {**os.environ, **tracking_environment(params.tracking.uri, active_run_id())}
        print(f"[grpo] accelerate launch --config_file {config}", flush=True)
        code, tail = _stream(command, env, target.timeout_minutes * 60)
        if code != 0 or not summary.exists():
            raise RuntimeError(
                f"GRPO under accelerate launch ({config.name}) exited with code {code}; last lines:\n"
                + "\n".join(tail)
                + "\nFix the cause above, or set grpo.compute.target: local to train in process."
            )
        return json.loads(summary.read_text())


def _stream(command: list[str], env: dict, timeout: float) -> tuple[int, list[str]]:
    """Run, echoing every line as it comes (progress bars included); keep the last lines for the error."""
    tail: collections.deque[str] = collections.deque(maxlen=25)
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as proc:
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        try:
            for line in proc.stdout:
                sys.stdout.write(line)
                tail.append(line.rstrip())
            code = proc.wait()
        finally:
            watchdog.cancel()
    if watchdog.finished.is_set() and code < 0:
        tail.append(f"(stopped after {timeout:.0f} s: grpo.compute.timeout_minutes)")
    return code, list(tail)
