"""No SageMaker job outlives its step unseen: a launcher interrupted (Ctrl-C), cancelled (SIGTERM, bare or through
Prefect's flow engine), timed out or failing on an API error stops its job; a re-run after a SIGKILL re-attaches to
the job still running for its inputs; throttling is retried; `--force` clears the job's S3 checkpoints.

Against moto's server behind the SageMaker stand-in (tests/components/grpo/sagemaker_standin.py: moto has no job
life cycle and no StopTrainingJob), with the launcher as a real process where a signal is the fault.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import boto3
import pytest

from components.grpo.compute import dispatch
from components.grpo.compute.sagemaker import Aws, attach_or_submit, collect, inputs_key, run_training_job, submit
from components.grpo.compute.sagemaker_jobs import JobDeadline, SageMakerApiError, wait
from tests.components.grpo.sagemaker_launcher import launch_params, tiny_inputs
from tests.components.grpo.sagemaker_standin import SageMakerStandIn
from tests.conftest import REPO
from tests.moto_s3 import make_bucket, s3_endpoint  # noqa: F401  (fixture)


@pytest.fixture
def standin(s3_endpoint):  # noqa: F811
    server = SageMakerStandIn(s3_endpoint)
    yield server
    server.close()


@pytest.fixture
def bucket(s3_endpoint) -> str:  # noqa: F811
    name = f"pf-life-{uuid.uuid4().hex[:8]}"
    make_bucket(s3_endpoint, name)
    return name


@pytest.fixture
def prefect_api():
    """The API a `prefect` launcher's flow reports to, stopped with the test. Left to itself the launcher would start
    a temporary server that outlives it: on SIGTERM Prefect's engine re-raises the signal with the default handler,
    so the launcher's exit handlers (the temporary server's stop) never run."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield PREFECT_API_URL.value()


def _launch(
    standin: SageMakerStandIn, bucket: str, folder, how: str, api: str | None = None
) -> tuple[subprocess.Popen, object]:
    """The launcher in its own process (its flow reporting to `api`); returns it once it waits on the job it
    created."""
    log = folder / f"launcher-{how}.log"
    env = {**os.environ, "PYTHONPATH": str(REPO)} | ({"PREFECT_API_URL": api} if api else {})
    command = [sys.executable, "-m", "tests.components.grpo.sagemaker_launcher", standin.url, bucket, how]
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, cwd=folder, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_hear_ctrl_c
        )
    deadline = time.monotonic() + 240
    while not (standin.jobs("InProgress") and standin.calls["DescribeTrainingJob"]):
        assert proc.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, "the launcher created no job in time"
        time.sleep(0.05)
    return proc, log


def _hear_ctrl_c() -> None:
    """A shell starts a background job with SIGINT ignored and Python then never turns it into KeyboardInterrupt:
    the launcher hears Ctrl-C however the test run itself was started."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    ("how", "sent", "why"),
    [
        pytest.param("plain", signal.SIGINT, "interrupted (Ctrl-C)", id="ctrl-c"),
        pytest.param("plain", signal.SIGTERM, "the step was cancelled (SIGTERM)", id="sigterm"),
        # a Prefect runner cancels a flow run with SIGTERM; the flow engine raises TerminationSignal (+ API start-up)
        pytest.param(
            "prefect", signal.SIGTERM, "the step was cancelled (SIGTERM)", id="prefect-cancel", marks=pytest.mark.slow
        ),
    ],
)
def test_an_interrupted_or_cancelled_launcher_stops_its_job(standin, bucket, tmp_path, how, sent, why, request):
    api = request.getfixturevalue("prefect_api") if how == "prefect" else None
    proc, log = _launch(standin, bucket, tmp_path, how, api)
    proc.send_signal(sent)
    assert proc.wait(timeout=180) != 0  # stopping the job goes through boto3 retries: slow on a loaded machine
    (name,) = standin.jobs()
    output = log.read_text()
    assert "Starting temporary server" not in output  # it would outlive the launcher (see prefect_api)
    assert f"stopping training job {name}: {why}" in output, output[-3000:]
    assert standin.calls["StopTrainingJob"] == 1
    assert standin.status[name] in ("Stopping", "Stopped")


def _finish_once_described(standin: SageMakerStandIn, name: str, status: str, reason: str) -> None:
    """End the job once the launcher has looked at it: ended earlier (a timer on a loaded machine), it is no longer
    running, the launcher rightly submits a second job, and that one never ends."""
    seen = standin.calls["DescribeTrainingJob"]

    def finish() -> None:
        deadline = time.monotonic() + 120
        while standin.calls["DescribeTrainingJob"] == seen and time.monotonic() < deadline:
            time.sleep(0.01)
        standin.finish(name, status, reason)

    threading.Thread(target=finish, daemon=True).start()


def test_a_rerun_reattaches_to_the_job_a_killed_launcher_left(standin, bucket, tmp_path, monkeypatch, capsys):
    proc, _ = _launch(standin, bucket, tmp_path, "plain")
    proc.kill()  # SIGKILL: nothing runs, the job is orphaned
    proc.wait(timeout=30)
    (orphan,) = standin.jobs("InProgress")

    monkeypatch.chdir(tmp_path)
    params = launch_params(standin.url, bucket, "grpo.compute.wait_seconds=120", "grpo.compute.poll_seconds=0.05")
    data, reward_models = tiny_inputs(tmp_path)
    _finish_once_described(standin, orphan, "Failed", "AlgorithmError: CUDA out of memory")
    with pytest.raises(RuntimeError, match=f"{orphan} failed: AlgorithmError: CUDA out of memory"):
        run_training_job(params, params.grpo.compute, data, reward_models, tmp_path / "policies")
    assert f"re-attaching to training job {orphan}, still InProgress" in capsys.readouterr().out
    assert standin.calls["CreateTrainingJob"] == 1  # the killed launcher's, and no second one


def test_a_job_still_stopping_is_waited_for_before_a_new_one(standin, bucket, tmp_path, capsys):
    params = launch_params(standin.url, bucket)
    data, reward_models = tiny_inputs(tmp_path)
    aws = Aws(params.grpo.compute)
    first = submit(aws, params, params.grpo.compute, data, reward_models)["name"]
    standin.stop_seconds = 1.5  # longer than a second: SageMaker job names (ours) are unique to the second
    aws.sagemaker.stop_training_job(TrainingJobName=first)
    second = attach_or_submit(aws, params, params.grpo.compute, data, reward_models)["name"]
    assert second != first
    assert standin.status == {first: "Stopped", second: "InProgress"}
    assert f"{first} is still stopping; waiting for it" in capsys.readouterr().out


def test_the_wait_has_a_deadline_and_stops_the_job(standin, bucket, tmp_path, capsys):
    params = launch_params(standin.url, bucket, "grpo.compute.wait_seconds=1")
    data, reward_models = tiny_inputs(tmp_path)
    started = time.monotonic()
    with pytest.raises(JobDeadline, match=r"still InProgress after 1 s, past grpo.compute.wait_seconds \(1 s\)"):
        run_training_job(params, params.grpo.compute, data, reward_models, tmp_path / "policies")
    assert time.monotonic() - started < 30
    (name,) = standin.jobs()
    assert standin.status[name] in ("Stopping", "Stopped")
    assert f"stopping training job {name}: past its deadline" in capsys.readouterr().out


def test_throttling_is_retried_with_backoff(standin, bucket, tmp_path):
    params = launch_params(standin.url, bucket)
    data, reward_models = tiny_inputs(tmp_path)
    aws = Aws(params.grpo.compute)
    name = submit(aws, params, params.grpo.compute, data, reward_models)["name"]
    standin.finish(name)
    standin.fail_next("DescribeTrainingJob", 3, "ThrottlingException", "Rate exceeded")
    description = wait(aws, name, poll_seconds=0.01, log_lines=0, deadline_seconds=120)
    assert description["TrainingJobStatus"] == "Completed"
    assert description["ResponseMetadata"]["RetryAttempts"] == 3
    assert standin.calls["DescribeTrainingJob"] == 4


def test_another_api_error_is_reported_and_the_job_stopped(standin, bucket, tmp_path, capsys):
    params = launch_params(standin.url, bucket)
    data, reward_models = tiny_inputs(tmp_path)
    aws = Aws(params.grpo.compute)
    job = submit(aws, params, params.grpo.compute, data, reward_models)
    denied = "User: arn:aws:sts::123456789012:assumed-role/worker is not authorized to perform DescribeTrainingJob"
    standin.fail_next("DescribeTrainingJob", 1, "AccessDeniedException", denied)
    with pytest.raises(SageMakerApiError, match=r"describing training job .* failed \(AccessDeniedException: User"):
        collect(aws, params.grpo.compute, job, tmp_path / "policies")
    assert standin.calls["DescribeTrainingJob"] == 1  # not retried: it cannot get better
    assert standin.status[job["name"]] in ("Stopping", "Stopped")
    assert "worker role of infra/aws/paretoflow.yaml" in str(capsys.readouterr().out)


def test_force_stops_the_job_and_clears_its_checkpoints(standin, bucket, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    params = launch_params(standin.url, bucket)
    data, reward_models = tiny_inputs(tmp_path)
    aws = Aws(params.grpo.compute)
    job = submit(aws, params, params.grpo.compute, data, reward_models)
    s3 = boto3.client("s3", endpoint_url=standin.url)
    prefix = job["checkpoint_uri"].removeprefix(f"s3://{bucket}/")
    for key in ("policies/policy-0/finished.json", "policies/policy-1/checkpoints/checkpoint-3/model.safetensors"):
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=b"x")
    s3.put_object(Bucket=bucket, Key="runs/checkpoints/other-inputs/policies/p/finished.json", Body=b"x")
    local = tmp_path / "artifacts" / "policies" / "policy-0"
    local.mkdir(parents=True)
    (local / "finished.json").write_text("{}")

    dispatch.forget_finished(tmp_path / "artifacts" / "policies", params)  # the grpo step's --force hook

    assert standin.status[job["name"]] == "Stopped"  # waited for: it would sync its checkpoints back
    assert s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/")["KeyCount"] == 0
    assert s3.list_objects_v2(Bucket=bucket, Prefix="runs/checkpoints/other-inputs/")["KeyCount"] == 1
    assert not (local / "finished.json").exists()
    assert f"deleted 2 checkpoint files under s3://{bucket}/{prefix}/" in capsys.readouterr().out
    assert inputs_key(params, data, reward_models) in prefix
