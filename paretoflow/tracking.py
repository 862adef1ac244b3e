"""MLflow conventions in one place: parent and step runs, their tags, metric names, datasets, figures."""

from __future__ import annotations

import json
import re
import subprocess
import time
import warnings
from contextlib import contextmanager, nullcontext
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient

from paretoflow import credentials
from paretoflow.hashing import dvc_md5
from paretoflow.schema import Params

_METRIC_BAD = re.compile(r"[^A-Za-z0-9_\-./ ]")


def metric_name(name: str) -> str:
    """MLflow accepts only letters, digits, `_ - . /` and spaces in metric names."""
    return _METRIC_BAD.sub("_", name)


class ServerUnreachable(RuntimeError):
    """A server the run needs (MLflow tracking, the Prefect API) does not answer; the message says which and how to
    fix it."""


MID_RUN_WAIT_S = 180.0  # how long a step waits for a tracking server that answered when the run began
RETRY_EVERY_S = 3.0


def check_server(
    url: str, what: str, fix: str, path: str = "/health", timeout_s: float = 5.0, wait_s: float = 0.0
) -> None:
    """Raise `ServerUnreachable` unless an HTTP server answers at `url` + `path` within `timeout_s` (any answer but a
    gateway's 502/503/504: a 401 or 404 still means something is there). With `wait_s`, ask again every few seconds
    for that long first: a step that starts while the server restarts waits for it, as MLflow's client retries a
    request, while the CLI's check before a run (`wait_s=0`) fails at once."""
    shown = _without_credentials(url)
    request = _request(url.rstrip("/") + path)
    deadline = time.monotonic() + wait_s
    while (reason := _unanswered(request, timeout_s)) is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ServerUnreachable(f"{what} at {shown} is unreachable ({reason}); {fix}")
        print(f"{what} at {shown} is unreachable ({reason}); asking again for {left:.0f} s more", flush=True)
        time.sleep(min(RETRY_EVERY_S, left))


def _unanswered(request, timeout_s: float) -> str | None:
    """Why the server did not answer the request (None when it did)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(request, timeout=timeout_s):  # noqa: S310 (http(s) URLs from params or the env)
            return None
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.reason}" if exc.code in (502, 503, 504) else None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return str(getattr(exc, "reason", exc))


def check_tracking(uri: str, wait_s: float = 0.0) -> None:
    """A tracking server (http/https URI) must answer before a run starts (within `wait_s`); local stores need
    nothing."""
    credentials.check_tracking_credentials(uri)  # no password in the URI, no example password in the environment
    if uri.startswith(("http://", "https://")):
        check_server(
            uri,
            "the MLflow tracking server (tracking.uri)",
            "start it (mlflow server, or the compose stack in infra/) or point tracking.uri at a reachable server "
            "or a local store such as sqlite:///mlflow.db",
            wait_s=wait_s,
        )


def _request(url: str):
    """A GET for `url`, its user:password (if any) sent as basic auth: urllib takes them for part of the host."""
    import base64
    import urllib.request
    from urllib.parse import unquote, urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None:
        return urllib.request.Request(url)
    plain = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    token = base64.b64encode(f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()).decode()
    return urllib.request.Request(plain, headers={"Authorization": f"Basic {token}"})


def _without_credentials(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rsplit("@", 1)[1]))


def setup(params: Params) -> str:
    """Point MLflow at the configured server and experiment; return the experiment id. Called inside a run (the CLI
    checked the server before it), so a server that is restarting is waited for."""
    check_tracking(params.tracking.uri, wait_s=MID_RUN_WAIT_S)
    mlflow.set_tracking_uri(params.tracking.uri)
    return mlflow.set_experiment(params.tracking.experiment).experiment_id


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def base_tags(params: Params, flow_run_id: str | None) -> dict[str, str]:
    tags = {
        "git.commit": git_commit(),
        "params.hash": params.section_hash(*Params.model_fields),
        "paretoflow.profile": params.profile,
    }
    if flow_run_id:
        tags["prefect.flow_run_id"] = flow_run_id
    return tags


def start_pipeline_run(params: Params, flow_run_id: str | None) -> str:
    """Create the parent run of one pipeline run, tagged with the md5s of its data sources."""
    experiment_id = setup(params)
    sources = {f"dvc.md5.{s.uri}": dvc_md5(s.uri) for s in params.data.sources if Path(s.uri).exists()}
    run = MlflowClient().create_run(
        experiment_id,
        run_name="training_pipeline",
        tags={**base_tags(params, flow_run_id), **sources, "paretoflow.step": "pipeline"},
    )
    MlflowClient().log_text(run.info.run_id, params.to_yaml(), "params.yaml")
    return run.info.run_id


def end_pipeline_run(run_id: str, steps: dict[str, dict], status: str) -> None:
    """Close the parent run. It names the run behind every step, cached ones included (their artifacts are
    what this pipeline run stands on), and carries the evaluation's headline metrics (hypervolume with its 95%
    interval, EUM) for MLflow's compare view, and its Pareto front figure and interactive page."""
    client = MlflowClient()
    for name, result in steps.items():
        client.set_tag(run_id, f"step.{name}.run_id", result["run_id"])
    client.set_tag(run_id, "paretoflow.cached_steps", ",".join(n for n, r in steps.items() if r["cached"]) or "-")
    for key, value in steps.get("evaluate", {}).get("summary", {}).items():
        if isinstance(value, int | float):  # the summary also carries the front table for the Prefect artifact
            client.log_metric(run_id, metric_name(key), float(value))
    if "evaluate" in steps:
        copy_artifacts(client, steps["evaluate"]["run_id"], run_id, FRONT_ARTIFACTS)
    client.set_terminated(run_id, status=status)


FRONT_ARTIFACTS = ("pareto/front.png", "pareto/front.html")  # what evaluate logs; the pipeline run shows them too


def copy_artifacts(client: MlflowClient, source_run: str, target_run: str, paths: tuple[str, ...]) -> None:
    """Files of one run logged into another under the same paths (a cached step's run still holds its files)."""
    import tempfile

    with tempfile.TemporaryDirectory() as local:
        for path in paths:
            downloaded = client.download_artifacts(source_run, path, local)
            client.log_artifact(target_run, downloaded, Path(path).parent.as_posix())


@contextmanager
def step_run(
    params: Params,
    step: str,
    sections: tuple[str, ...],
    deps_md5: dict[str, str],
    parent_run_id: str | None,
    flow_run_id: str | None,
):
    """A run for one step, nested under the pipeline run when there is one; tagged with its inputs' md5s and
    carrying the resolved params it depends on, flattened (`grpo.learning_rate`), so runs compare in the UI."""
    setup(params)
    tags = {**base_tags(params, flow_run_id), "paretoflow.step": step}
    tags.update({f"dvc.md5.{path}": md5 for path, md5 in deps_md5.items()})
    kwargs = {"parent_run_id": parent_run_id, "nested": True} if parent_run_id else {}
    with mlflow.start_run(run_name=step, tags=tags, **kwargs) as run:
        mlflow.log_params({"profile": params.profile, **flatten(params.model_dump(mode="json", include=set(sections)))})
        yield run


def flatten(tree, prefix: str = "") -> dict[str, str]:
    """Nested params -> {"a.b.c": value}; lists of scalars stay one JSON value, lists of mappings are indexed."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in flatten(sub, f"{prefix}{key}.").items()}
    if isinstance(tree, list) and any(isinstance(item, dict) for item in tree):
        return {k: v for i, sub in enumerate(tree) for k, v in flatten(sub, f"{prefix}{i}.").items()}
    return {prefix.rstrip("."): json.dumps(tree) if isinstance(tree, list) else str(tree)}


# Components log through the helpers below. Each is a no-op when no run is active, so a component called
# directly (a test, a notebook) neither needs a tracking server nor starts stray runs.


def child_run(name: str):
    """A run nested under the active one (one per policy, reward model, evaluated candidate)."""
    return mlflow.start_run(run_name=name, nested=True) if mlflow.active_run() else nullcontext()


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    clean = {metric_name(k): float(v) for k, v in metrics.items() if isinstance(v, int | float)}
    if clean and mlflow.active_run():
        mlflow.log_metrics(clean, step=step)


def log_params(values: dict) -> None:
    if mlflow.active_run():
        mlflow.log_params(values)


def set_tags(values: dict) -> None:
    if mlflow.active_run():
        mlflow.set_tags(values)


def log_figure(figure, path: str) -> None:
    if mlflow.active_run():
        mlflow.log_figure(figure, path)


def log_dict(values: dict, path: str) -> None:
    if mlflow.active_run():
        mlflow.log_dict(values, path)


def log_text(text: str, path: str) -> None:
    if mlflow.active_run():
        mlflow.log_text(text, path)


def log_artifacts(local_dir: str | Path, path: str) -> None:
    """A folder of files (e.g. Great Expectations Data Docs) under `path` in the run's artifacts."""
    if mlflow.active_run():
        mlflow.log_artifacts(str(local_dir), path)


def log_table(df, path: str) -> None:
    if mlflow.active_run():
        mlflow.log_table(data=df, artifact_file=path)


def log_table_input(df, path: str | Path, name: str, context: str) -> None:
    """Record a canonical table as an MLflow dataset input (with its digest and source path)."""
    if not mlflow.active_run():
        return
    flat = df.assign(prompt=df["prompt"].map(str), meta=df["meta"].map(str))
    with warnings.catch_warnings():  # a local path matches two equivalent MLflow source types; either is right
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
        dataset = mlflow.data.from_pandas(flat, source=str(Path(path).resolve()), name=name)
    mlflow.log_input(dataset, context=context)


def trainer_callbacks(trainer, *shown: str) -> None:
    """Attach MLflow metric logging and a compact progress bar (the `shown` log keys as its postfix)
    in place of the default one, which prints every log dict."""
    from transformers.trainer_callback import ProgressCallback

    class CompactProgress(ProgressCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.training_bar is not None and logs:
                self.training_bar.set_postfix(
                    {k.split("/")[-2] if "/" in k else k: f"{float(logs[k]):.3f}" for k in shown if k in logs}
                )

    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(CompactProgress())
    trainer.add_callback(_mlflow_metrics_callback())


def _mlflow_metrics_callback():
    """Trainer logs as metrics of the active run (no param flood). TRL's `rewards/<objective>/...` become
    `reward/<objective>/...`, the project's metric names."""
    from transformers import TrainerCallback

    class MlflowMetrics(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = {re.sub(r"^rewards/", "reward/", k): v for k, v in (logs or {}).items() if k != "epoch"}
            log_metrics(logs, step=state.global_step)

    return MlflowMetrics()
