"""SageMaker's control plane where moto falls short: an HTTP server on loopback in front of moto's server.

Moto records training jobs but marks each one Completed the moment it is created and has no StopTrainingJob. This
stand-in forwards every request (S3, CloudWatch Logs, SageMaker) to moto and, for the jobs created through it, keeps
SageMaker's life cycle: a job stays InProgress until the test finishes it or a StopTrainingJob moves it to Stopping,
then Stopped; DescribeTrainingJob and ListTrainingJobs report that status. It can also answer an operation with
a throttling or other error response for its next calls, as a busy or misconfigured account does, so the client's
real retry and error handling run.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

SECONDARY = {"InProgress": "Training", "Stopping": "Stopping", "Stopped": "Stopped", "Completed": "Completed"}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "content-length"}


class SageMakerStandIn:
    def __init__(self, moto_endpoint: str, stop_seconds: float = 0.2):
        self.moto = urlsplit(moto_endpoint)
        self.stop_seconds = stop_seconds  # Stopping -> Stopped
        self.status: dict[str, str] = {}
        self.reasons: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        self.faults: dict[str, list[tuple[int, str, str]]] = {}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def finish(self, name: str, status: str = "Completed", reason: str | None = None) -> None:
        with self.lock:
            self.status[name] = status
            if reason:
                self.reasons[name] = reason

    def fail_next(self, operation: str, times: int, code: str, message: str, http_status: int = 400) -> None:
        """The next `times` calls of `operation` (e.g. DescribeTrainingJob) get this error instead of an answer."""
        with self.lock:
            self.faults[operation] = [(http_status, code, message)] * times

    def jobs(self, status: str | None = None) -> list[str]:
        with self.lock:
            return [name for name, s in self.status.items() if status is None or s == status]

    # --- serving ---------------------------------------------------------------------------------------------

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # answers botocore's `Expect: 100-continue` on S3 uploads at once

            def log_message(self, *args):
                pass

            def _serve(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                operation = target.split(".", 1)[1] if target.startswith("SageMaker.") else ""
                status, headers, answer = standin._answer(self.command, self.path, dict(self.headers), body, operation)
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                length = headers_length(headers) if self.command == "HEAD" else len(answer)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

        return Handler

    def _answer(self, method: str, path: str, headers: dict, body: bytes, operation: str):
        if operation:
            with self.lock:
                self.calls[operation] += 1
                pending = self.faults.get(operation)
                fault = pending.pop(0) if pending else None
            if fault:
                return _error(*fault)
            if operation == "StopTrainingJob":
                return self._stop(json.loads(body)["TrainingJobName"])
            if operation == "ListTrainingJobs":
                return self._list(method, path, headers, body)
        status, reply_headers, answer = self._forward(method, path, headers, body)
        if operation == "CreateTrainingJob" and status == 200:
            self.finish(json.loads(body)["TrainingJobName"], "InProgress")
        if operation == "DescribeTrainingJob" and status == 200:
            answer = json.dumps(self._described(json.loads(answer))).encode()
        return status, reply_headers, answer

    def _forward(self, method: str, path: str, headers: dict, body: bytes):
        connection = http.client.HTTPConnection(self.moto.hostname, self.moto.port, timeout=60)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
            sent["Content-Length"] = str(len(body))
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _described(self, job: dict) -> dict:
        name = job["TrainingJobName"]
        with self.lock:
            status = self.status.get(name)
            reason = self.reasons.get(name)
        if status is None:  # created on moto directly: moto's own answer
            return job
        job.update(TrainingJobStatus=status, SecondaryStatus=SECONDARY.get(status, status))
        if reason:
            job["FailureReason"] = reason
        return job

    def _stop(self, name: str):
        with self.lock:
            status = self.status.get(name)
            if status == "InProgress":
                self.status[name] = "Stopping"
        if status is None:
            return _error(400, "ValidationException", f"Requested resource not found: {name}")
        if status != "InProgress":
            return _error(400, "ValidationException", f"The job {name} is in status {status} and cannot be stopped")
        threading.Timer(self.stop_seconds, self.finish, (name, "Stopped", "Stopped by StopTrainingJob")).start()
        return 200, [("Content-Type", "application/x-amz-json-1.1")], b"{}"

    def _list(self, method: str, path: str, headers: dict, body: bytes):
        """Moto's listing with this stand-in's statuses, filtered by StatusEquals as SageMaker does."""
        request = json.loads(body or b"{}")
        wanted = request.pop("StatusEquals", None)
        status, reply_headers, answer = self._forward(method, path, headers, json.dumps(request).encode())
        if status != 200:
            return status, reply_headers, answer
        listing = json.loads(answer)
        summaries = []
        for summary in listing["TrainingJobSummaries"]:
            with self.lock:
                summary["TrainingJobStatus"] = self.status.get(summary["TrainingJobName"], summary["TrainingJobStatus"])
            if wanted is None or summary["TrainingJobStatus"] == wanted:
                summaries.append(summary)
        listing["TrainingJobSummaries"] = summaries
        return status, reply_headers, json.dumps(listing).encode()


def _error(http_status: int, code: str, message: str):
    body = json.dumps({"__type": code, "message": message}).encode()
    return http_status, [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-ErrorType", code)], body


def headers_length(headers: list[tuple[str, str]]) -> int:
    return int(next((v for k, v in headers if k.lower() == "content-length"), 0))
