"""A SageMaker training job's life seen from the step that launched it, so that no job outlives its step unseen.

- One job per inputs: its name starts with `paretoflow-grpo-<inputs key>`, so a re-run finds a job still running
  for the same inputs (its launcher killed before it could stop it) and re-attaches instead of starting a second
  one that would write the same checkpoints.
- The wait has a deadline, and whatever ends it early (an error, the deadline, Ctrl-C, Prefect's cancellation,
  SIGTERM) stops the job before the step ends.
- API calls are retried by botocore (throttling and 5xx, exponential backoff with jitter); what is left is reported
  with what to do.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager

from botocore.exceptions import BotoCoreError, ClientError

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
DONE = ("Completed", "Failed", "Stopped")
RUNNING = ("InProgress", "Stopping")
HINTS = {
    "AccessDeniedException": "these AWS credentials may not do this; the worker role of infra/aws/paretoflow.yaml may",
    "ThrottlingException": "still throttled after retries with backoff; try again later or raise "
    "grpo.compute.poll_seconds",
    "ResourceLimitExceeded": "the account's SageMaker quota for this instance type is used up; request more in "
    "Service Quotas or choose another grpo.compute.instance_type",
    "ValidationException": "SageMaker refused the request as invalid",
    "ResourceNotFound": "no such job in this account and region (grpo.compute.region)",
}


class SageMakerApiError(RuntimeError):
    """A SageMaker, S3 or CloudWatch call failed after botocore's retries."""


class JobDeadline(RuntimeError):
    """The job ran past grpo.compute.wait_seconds."""


def job_prefix(key: str) -> str:
    return f"paretoflow-grpo-{key}"


def call(what: str, method, **kwargs):
    """`method(**kwargs)`, its failure (once botocore's retries are spent) said in one line with what to do."""
    try:
        return method(**kwargs)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = error.get("Code", "Unknown")
        hint = HINTS.get(code, "see the message")
        raise SageMakerApiError(f"{what} failed ({code}: {error.get('Message', '')}); {hint}") from None
    except BotoCoreError as exc:
        raise SageMakerApiError(
            f"{what} failed ({exc}); check the network, the AWS credentials and grpo.compute.region / endpoint_url"
        ) from None


def running_job(sagemaker, key: str) -> dict | None:
    """The newest job for these inputs that is still InProgress or Stopping, or None."""
    pages = sagemaker.get_paginator("list_training_jobs").paginate(
        NameContains=job_prefix(key), SortBy="CreationTime", SortOrder="Descending"
    )
    summaries = call(
        f"listing training jobs {job_prefix(key)}-*", lambda: [s for p in pages for s in p["TrainingJobSummaries"]]
    )
    alive = [s for s in summaries if s["TrainingJobStatus"] in RUNNING]
    return max(alive, key=lambda s: s["CreationTime"]) if alive else None


def describe(sagemaker, name: str) -> dict:
    return call(f"describing training job {name}", sagemaker.describe_training_job, TrainingJobName=name)


def stop(sagemaker, name: str, why: str) -> None:
    """Ask SageMaker to stop the job (it sends SIGTERM, and the job saves a checkpoint); a failure is reported with
    the command that stops it by hand, never raised over the error that led here."""
    print(f"[sagemaker] stopping training job {name}: {why}", flush=True)
    try:
        call(f"stopping training job {name}", sagemaker.stop_training_job, TrainingJobName=name)
    except SageMakerApiError as exc:
        print(
            f"[sagemaker] {exc}. If it still runs, stop it with `aws sagemaker stop-training-job --training-job-name "
            f"{name}`; a re-run of the grpo step re-attaches to it otherwise.",
            flush=True,
        )


@contextmanager
def stopped_on_exit(sagemaker, name: str):
    """Stop the job when the block ends by any exception: an error, the deadline, KeyboardInterrupt, Prefect's
    TerminationSignal, or SIGTERM (made an exception here when nothing else handles it)."""
    with _sigterm_raises():
        try:
            yield
        except BaseException as exc:
            stop(sagemaker, name, _why(exc))
            raise


def _why(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    if isinstance(exc, SystemExit) or type(exc).__name__ == "TerminationSignal":
        return "the step was cancelled (SIGTERM)"
    if isinstance(exc, JobDeadline):
        return "past its deadline (grpo.compute.wait_seconds)"
    return f"the step failed: {str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__}"


@contextmanager
def _sigterm_raises():
    """Where SIGTERM would end the process on the spot (its default action), raise SystemExit instead so that
    `stopped_on_exit` runs; Prefect's flow engine installs its own handler, which raises TerminationSignal."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        yield
        return

    def raise_exit(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, raise_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def wait(
    aws, name: str, poll_seconds: float, log_lines: int, deadline_seconds: float | None = None, sleep=time.sleep
) -> dict:
    """Poll until the job ends, printing each status change and the new lines of its log; past the deadline raise
    JobDeadline (the caller's `stopped_on_exit` stops the job)."""
    started, last, seen = time.monotonic(), None, {}
    while True:
        description = describe(aws.sagemaker, name)
        status = (description["TrainingJobStatus"], description.get("SecondaryStatus"))
        elapsed = time.monotonic() - started
        if status != last:
            message = _last_status_message(description)
            print(f"[sagemaker] {name}: {status[0]} / {status[1]} after {elapsed:.0f} s{message}", flush=True)
            last = status
        log_lines = _print_log_tail(aws.logs, name, seen, log_lines)
        if status[0] in DONE:
            return description
        if deadline_seconds is not None and elapsed > deadline_seconds:
            raise JobDeadline(
                f"SageMaker training job {name} is still {status[0]} after {elapsed:.0f} s, past "
                f"grpo.compute.wait_seconds ({deadline_seconds:.0f} s); it is stopped, and a re-run of the grpo step "
                "resumes from its checkpoints. Raise grpo.compute.wait_seconds if it needs longer."
            )
        sleep(poll_seconds)


def _print_log_tail(logs, name: str, seen: dict[str, str], log_lines: int) -> int:
    """Print the newest lines; a log API failure is reported once and the tail switched off (the job goes on)."""
    if not log_lines:
        return 0
    try:
        lines = new_log_lines(logs, name, seen)
    except (ClientError, BotoCoreError) as exc:
        print(f"[sagemaker] log tail of {name} unavailable ({exc}); waiting without it", flush=True)
        return 0
    for line in lines[-log_lines:]:
        print(f"[sagemaker] | {line}", flush=True)
    return log_lines


def _last_status_message(description: dict) -> str:
    transitions = description.get("SecondaryStatusTransitions") or []
    message = transitions[-1].get("StatusMessage") if transitions else None
    return f": {message}" if message else ""


def new_log_lines(logs, name: str, seen: dict[str, str]) -> list[str]:
    """Lines written since the last call, from every log stream of the job (one per instance); `seen` keeps
    each stream's forward token between calls. A job still starting has no log group or stream yet."""
    try:
        streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")["logStreams"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    lines = []
    for stream in streams:
        stream_name = stream["logStreamName"]
        kwargs = {"logGroupName": LOG_GROUP, "logStreamName": stream_name, "startFromHead": True}
        if stream_name in seen:
            kwargs["nextToken"] = seen[stream_name]
        while True:
            page = logs.get_log_events(**kwargs)
            lines.extend(event["message"].rstrip() for event in page["events"])
            token = page.get("nextForwardToken")
            if not page["events"] or token == kwargs.get("nextToken"):
                break
            kwargs["nextToken"] = token
        seen[stream_name] = token
    return lines
