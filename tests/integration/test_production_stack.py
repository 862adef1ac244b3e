"""The tiny pipeline against the production services on loopback: two runs at once, each as `paretoflow run` in its
own project copy, with credentials in their environment; while they run the S3 endpoint goes down for a while and
the MLflow server is restarted. Afterwards everything is read back through the MLflow, Prefect and S3 clients."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from paretoflow.steps import ORDER
from tests.conftest import copy_project
from tests.integration.conftest import DVC_BUCKET, MLFLOW_BUCKET
from tests.servers import BIN

pytestmark = pytest.mark.slow

S3_OUTAGE_SECONDS = 8
RUN_TIMEOUT = 900
RUN_TIME = re.compile(r"\d{8}T\d{6}\.\d+Z")  # a GX validation time inside a Data Docs path
# The tiny profile made lighter still (every step still runs and logs): the servers are under test, not the models.
LIGHTER = [
    "reward_model.max_train_pairs=32",
    "reward_model.max_heldout_pairs=32",
    "reward_model.bootstrap_samples=100",
    "grpo.max_steps=1",
    "evaluate.max_prompts=3",
]
# Credentials a deployment has in its environment; none of their values may reach MLflow, Prefect or the logs.
SECRETS = {
    name: f"pf-canary-{name.lower().replace('_', '-')}-{uuid.uuid4().hex}"
    for name in (
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "MLFLOW_TRACKING_PASSWORD",
        "MLFLOW_TRACKING_TOKEN",
        "OPENAI_API_KEY",
        "PREFECT_API_KEY",
        "HF_TOKEN",
    )
}


@dataclass
class PipelineRun:
    name: str
    root: Path
    process: subprocess.Popen
    log: Path
    seconds: float = 0.0

    @property
    def experiment(self) -> str:
        return f"pf-it-{self.name}"


def _launch(stack, name: str, work: Path) -> PipelineRun:
    (root := work / name).mkdir()
    copy_project(root)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)  # for the DVC remote check afterwards
    env = {
        **os.environ,
        **SECRETS,
        "MLFLOW_TRACKING_USERNAME": "pf-it",
        "PREFECT_API_URL": stack.prefect_api,
        "PREFECT_HOME": str(root / ".prefect"),
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    overrides = ["profile=tiny", f"cache_dir={work / 'cache' / name}", f"tracking.uri={stack.mlflow_url}"]
    overrides += [f"tracking.experiment=pf-it-{name}", *LIGHTER]
    log = work / f"{name}.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [str(BIN / "paretoflow"), "run", *(x for o in overrides for x in ("-o", o))],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return PipelineRun(name, root, process, log)


def _step_runs_started(client: MlflowClient, experiment_ids: list[str], step: str) -> bool:
    return bool(experiment_ids) and bool(
        client.search_runs(experiment_ids, f"tags.`paretoflow.step` = '{step}'", max_results=1)
    )


@pytest.fixture(scope="module")
def runs(stack, tmp_path_factory):
    """Both pipelines, run to the end under the fault schedule: the S3 outage arms when a validate step starts
    (it begins at the next S3 request, so it always hits one), the MLflow restart when a grpo step starts."""
    work = tmp_path_factory.mktemp("pipelines")
    started = time.monotonic()
    pipelines = [_launch(stack, name, work) for name in ("a", "b")]
    client = MlflowClient(stack.mlflow_url)
    faults: dict[str, object] = {}
    while any(p.process.poll() is None for p in pipelines) and time.monotonic() - started < RUN_TIMEOUT:
        time.sleep(1)
        if "mlflow_restart" in faults:
            continue
        experiments = [e.experiment_id for e in client.search_experiments() if e.name.startswith("pf-it-")]
        if "s3_armed" not in faults and _step_runs_started(client, experiments, "validate"):
            stack.proxy.arm_outage(S3_OUTAGE_SECONDS)
            faults["s3_armed"] = time.time()
        elif "s3_armed" in faults and _step_runs_started(client, experiments, "grpo"):
            active = client.search_runs(experiments, "attributes.status = 'RUNNING'")
            faults["runs_active_at_restart"] = sorted(f"{r.info.experiment_id}:{r.info.run_name}" for r in active)
            down = time.time()
            stack.mlflow.stop()
            stack.mlflow.start(timeout=180)
            faults["mlflow_restart"] = (down, time.time())
    for pipeline in pipelines:
        try:
            pipeline.process.wait(max(1, RUN_TIMEOUT - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            pipeline.process.kill()
        pipeline.seconds = time.monotonic() - started
    summary = {
        "startup_seconds": stack.startup_seconds,
        "pipeline_seconds": {p.name: round(p.seconds, 1) for p in pipelines},
        "s3_outage": [stack.proxy.outage_started, stack.proxy.outage_ended, stack.proxy.refused],
        "mlflow_restart_seconds": stack.mlflow.start_seconds[1:],
        **{k: v for k, v in faults.items() if k == "runs_active_at_restart"},
    }
    print(f"\nintegration figures: {json.dumps(summary, default=str)}")
    return {p.name: p for p in pipelines}, faults, client


@pytest.fixture(scope="module")
def downloads(runs, stack, tmp_path_factory) -> dict[str, dict[str, Path]]:
    """Every run's artifacts, downloaded through the MLflow server (which reads them from S3)."""
    pipelines, _, client = runs
    out = tmp_path_factory.mktemp("downloads")
    return {
        name: {
            run_name: Path(
                mlflow.artifacts.download_artifacts(
                    run_id=run.info.run_id, dst_path=str(out / run.info.run_id), tracking_uri=stack.mlflow_url
                )
            )
            for run_name, run in _runs_by_name(client, pipeline).items()
        }
        for name, pipeline in pipelines.items()
    }


def _content(path: Path):
    """Bytes, or the parsed document for JSON (mlflow.log_dict writes its own indentation)."""
    return json.loads(path.read_text()) if path.suffix == ".json" else path.read_bytes()


def _tail(pipeline: PipelineRun) -> str:
    return pipeline.log.read_text()[-4000:]


def _parent(client: MlflowClient, pipeline: PipelineRun):
    experiment = client.get_experiment_by_name(pipeline.experiment)
    (parent,) = client.search_runs([experiment.experiment_id], "tags.`paretoflow.step` = 'pipeline'")
    return parent


def _runs_by_name(client: MlflowClient, pipeline: PipelineRun) -> dict:
    experiment = client.get_experiment_by_name(pipeline.experiment)
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    names = [r.info.run_name for r in runs]
    assert len(names) == len(set(names)), f"duplicate runs in {pipeline.experiment}: {sorted(names)}"
    return {r.info.run_name: r for r in runs}


def _artifact_files(client: MlflowClient, run_id: str, path: str | None = None) -> dict[str, int]:
    files = {}
    for item in client.list_artifacts(run_id, path):
        files.update(_artifact_files(client, run_id, item.path) if item.is_dir else {item.path: item.file_size})
    return files


def test_both_concurrent_runs_succeed(runs):
    pipelines, _, client = runs
    for pipeline in pipelines.values():
        assert pipeline.process.returncode == 0, f"run {pipeline.name} failed:\n{_tail(pipeline)}"
        parent = _parent(client, pipeline)
        assert parent.info.status == "FINISHED"
        assert parent.data.tags["paretoflow.cached_steps"] == "-"  # each copy trained everything itself
        assert "pareto/hypervolume" in parent.data.metrics


def test_every_step_run_metric_and_artifact_is_in_mlflow_and_on_s3(runs, stack, downloads):
    """Nothing lost: the two runs have the same runs, metric histories and artifact files (the faults hit them at
    different points), every artifact listed is on the S3 bucket with its size, the expected ones are there, and
    those the steps also keep locally (under artifacts/) came back from S3 byte for byte."""
    import boto3

    pipelines, _, client = runs
    for name, pipeline in pipelines.items():
        local = {str(f.relative_to(pipeline.root / "artifacts")): f for f in (pipeline.root / "artifacts").rglob("*")}
        compared = 0
        for run_dir in downloads[name].values():
            for file in (f for f in run_dir.rglob("*") if f.suffix == ".json"):  # figures are rendered twice
                rel = str(file.relative_to(run_dir))
                twins = [f for path, f in local.items() if f.is_file() and (path == rel or path.endswith("/" + rel))]
                if len(twins) == 1:
                    assert _content(file) == _content(twins[0]), rel
                    compared += 1
        assert compared >= 2, f"run {name}: no artifact had a local twin to compare with"
    s3 = boto3.client("s3", endpoint_url=stack.s3_endpoint)
    shapes = {}
    for name, pipeline in pipelines.items():
        by_name = _runs_by_name(client, pipeline)
        steps = {r.data.tags.get("paretoflow.step") for r in by_name.values()}
        assert set(ORDER) | {"pipeline"} <= steps, steps
        shape = {}
        for run_name, run in by_name.items():
            files = _artifact_files(client, run.info.run_id)
            prefix = run.info.artifact_uri.removeprefix("mlflow-artifacts:/")
            for path, size in files.items():
                key = f"artifacts/{prefix}/{path}"
                assert s3.head_object(Bucket=MLFLOW_BUCKET, Key=key)["ContentLength"] == size, key
            histories = {k: len(client.get_metric_history(run.info.run_id, k)) for k in run.data.metrics}
            models = run.data.tags.get("paretoflow.step") == "register"  # one model per front policy: may differ
            names = sorted(RUN_TIME.sub("<time>", f) for f in files)  # Data Docs name each validation by its time
            shape[run_name] = (sorted(run.data.params), histories, None if models else names)
        shapes[name] = shape
        evaluate = by_name["evaluate"]
        assert {"pareto/front.json", "pareto/front.png"} <= set(_artifact_files(client, evaluate.info.run_id))
        assert "params.yaml" in _artifact_files(client, _parent(client, pipeline).info.run_id)
        assert any(k.startswith("reward/") for k in by_name["grpo/policy-0"].data.metrics)
    assert shapes["a"] == shapes["b"]


def test_registered_versions_are_all_there_and_load(runs, stack):
    pipelines, _, client = runs
    for pipeline in pipelines.values():
        registered = json.loads((pipeline.root / "artifacts/registry/registered.json").read_text())
        name = registered["model_name"]
        parent = _parent(client, pipeline)
        versions = client.search_model_versions(f"name = '{name}'")
        mine = sorted(str(v.version) for v in versions if v.tags.get("pipeline.run_id") == parent.info.run_id)
        assert mine == sorted(str(v["version"]) for v in registered["versions"]), (mine, registered)
    latest = max(versions, key=lambda v: int(v.version))
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(stack.mlflow_url)
    try:
        model = mlflow.transformers.load_model(f"models:/{name}/{latest.version}")  # weights read back from S3
    finally:
        mlflow.set_tracking_uri(previous)
    assert model("I feel low.", max_new_tokens=3)[0]["generated_text"]


def test_prefect_server_recorded_both_flow_runs_completed_with_every_task(runs, stack):
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    pipelines, _, client = runs
    ids = [uuid.UUID(_parent(client, p).data.tags["prefect.flow_run_id"]) for p in pipelines.values()]

    async def read():
        async with get_client() as prefect:
            flow_runs = [await prefect.read_flow_run(i) for i in ids]
            tasks = await prefect.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)))
            return flow_runs, tasks

    with temporary_settings({PREFECT_API_URL: stack.prefect_api}):
        flow_runs, tasks = asyncio.run(read())
    for flow_run in flow_runs:
        assert flow_run.state.is_completed(), flow_run.state
        assert flow_run.parameters["overrides"][0] == "profile=tiny"
        names = sorted(t.name for t in tasks if t.flow_run_id == flow_run.id and t.state.is_completed())
        assert names == sorted(ORDER), names


def test_s3_outage_mid_run_was_survived(runs, stack):
    """The endpoint refused connections for S3_OUTAGE_SECONDS while a run was writing artifacts (the outage starts on
    an S3 request); the MLflow server answered 500 for each S3 call that failed (its boto3 makes one attempt) and the
    MLflow client's HTTP retries carried the runs through it."""
    pipelines, faults, client = runs
    assert "s3_armed" in faults and stack.proxy.outage_started, "no validate step was seen; the outage never armed"
    assert stack.proxy.refused + stack.proxy.cut >= 1, "no S3 request came during the outage"
    failed = [line for line in stack.mlflow.log.read_text().splitlines() if "-artifacts/" in line and '" 500 ' in line]
    assert failed, "no artifact request failed at the MLflow server; the outage was not felt"
    print(f"\nS3 outage: {len(failed)} artifact requests answered 500 and retried by the client")
    parents = [_parent(client, p) for p in pipelines.values()]
    assert min(p.info.start_time for p in parents) / 1000 < stack.proxy.outage_started
    assert stack.proxy.outage_ended < max(p.info.end_time for p in parents) / 1000
    assert all(p.process.returncode == 0 for p in pipelines.values())


def test_mlflow_server_restart_mid_run_lost_no_run(runs):
    pipelines, faults, client = runs
    assert "mlflow_restart" in faults, "no grpo step was seen; the server was never restarted"
    assert faults["runs_active_at_restart"], "nothing was running when the server went down"
    down, _ = faults["mlflow_restart"]
    for pipeline in pipelines.values():
        parent = _parent(client, pipeline)
        assert parent.info.start_time / 1000 < down < parent.info.end_time / 1000
        by_name = _runs_by_name(client, pipeline)  # no duplicated or orphaned run from a retried create
        assert all(r.info.status == "FINISHED" for r in by_name.values()), {
            n: r.info.status for n, r in by_name.items()
        }


def test_no_credential_reaches_mlflow_prefect_or_the_logs(runs, stack, downloads):
    """Scan params, tags, metric names, dataset inputs and every artifact byte of every run, the registered
    versions, the Prefect flow runs' parameters and logs, and the pipeline and server logs for the values."""
    from prefect import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings

    pipelines, _, client = runs
    corpus: list[tuple[str, bytes]] = []
    for pipeline in pipelines.values():
        for run in _runs_by_name(client, pipeline).values():
            where = f"{pipeline.experiment}/{run.info.run_name}"
            fields = {**run.data.params, **run.data.tags, **{k: "" for k in run.data.metrics}}
            fields["inputs"] = str(run.inputs)
            corpus.append((f"{where} params/tags/metrics", json.dumps(fields).encode()))
            local = downloads[pipeline.name][run.info.run_name]
            files = [f for f in local.rglob("*") if f.is_file()]
            corpus += [(f"{where}/{f.relative_to(local)}", f.read_bytes()) for f in files]
        corpus.append((f"{pipeline.name} run log", pipeline.log.read_bytes()))
    for version in client.search_model_versions("name = 'paretoflow-policy'"):
        corpus.append((f"model version {version.version}", json.dumps([version.tags, version.description]).encode()))
    corpus += [(s.name, s.log.read_bytes()) for s in (stack.mlflow, stack.prefect)]
    ids = [uuid.UUID(_parent(client, p).data.tags["prefect.flow_run_id"]) for p in pipelines.values()]

    async def prefect_records():
        async with get_client() as prefect:
            logs = await prefect.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)))
            flow_runs = [await prefect.read_flow_run(i) for i in ids]
            return logs, flow_runs

    with temporary_settings({PREFECT_API_URL: stack.prefect_api}):
        logs, flow_runs = asyncio.run(prefect_records())
    assert logs, "the flow runs sent no logs to the Prefect server"
    corpus.append(("prefect logs", "\n".join(log.message for log in logs).encode()))
    corpus += [(f"prefect flow run {f.id}", f.model_dump_json().encode()) for f in flow_runs]

    everything = b"".join(data for _, data in corpus)
    assert b"pf-it-a" in everything and b"training_pipeline" in everything  # the scan reads real content
    leaks = [(where, name) for where, data in corpus for name, value in SECRETS.items() if value.encode() in data]
    assert not leaks, f"credential values found in: {leaks}"
    print(f"\nscanned {len(corpus)} records, {len(everything) / 1e6:.1f} MB, for {len(SECRETS)} credentials")


def test_dvc_remote_on_the_same_s3_shares_the_data_between_copies(runs, stack):
    """`dvc push` from one run's copy to s3:// on the stack's endpoint, `dvc pull` into the other: same bytes."""
    pipelines, _, _ = runs
    first, second = pipelines["a"].root, pipelines["b"].root
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}

    def dvc(root: Path, *args: str) -> str:
        out = subprocess.run([str(BIN / "dvc"), *args], cwd=root, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, f"dvc {' '.join(args)}:\n{out.stdout[-2000:]}{out.stderr[-2000:]}"
        return out.stdout

    for root in (first, second):
        dvc(root, "remote", "add", "-f", "-d", "team", f"s3://{DVC_BUCKET}/paretoflow")
        dvc(root, "remote", "modify", "team", "endpointurl", stack.s3_endpoint)
    dvc(first, "commit", "--force", "ingest")
    dvc(first, "push", "-r", "team", "ingest")
    (second / "dvc.lock").write_text((first / "dvc.lock").read_text())
    pairs = second / "artifacts/data/pairs.parquet"
    pairs.unlink()
    dvc(second, "pull", "--force", "-r", "team", "ingest")
    assert pairs.read_bytes() == (first / "artifacts/data/pairs.parquet").read_bytes()
