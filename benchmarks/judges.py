"""Judge backend throughput: requests/s on a batch of short chat calls, and the cache hit rate on a re-run.

Backends measured on the same questions (the first user turns of HH-RLHF helpful dev, shortest first):
  hf               the converted Gemma 3 270M in process, batched greedy generation;
  openai-serve     the openai client against `transformers serve` on loopback serving the same Gemma;
  openai-loopback  the openai client against an instant local server: the client's own ceiling.
Each first run starts from an empty cache; the re-run uses a fresh client on the same cache and counts the
requests that still went out. Writes benchmarks/results/judges.json. Run under the shared lock:
`flock /tmp/pf-heavy.lock .venv/bin/python -m benchmarks.judges`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from benchmarks.hh_rlhf import hh_rlhf_pairs
from components.common.model_store import policy_dir
from components.judges.cache import CachedChatClient
from components.judges.hf_chat import HFChatClient
from components.judges.local_server import transformers_serve
from components.judges.openai_chat import OpenAIChatClient
from paretoflow.schema import GgufModel, HFJudge, OpenAIJudge

REPO = Path(__file__).resolve().parents[1]
HELPFUL = REPO.parent / "shared" / "data" / "hh-rlhf" / "helpful-base.dev.jsonl.gz"
RESULTS = REPO / "benchmarks" / "results"
SYSTEM = "Answer in one short sentence."


def questions(n: int) -> list[list[dict]]:
    pairs = hh_rlhf_pairs(HELPFUL, "helpfulness")
    firsts = sorted({p[0]["content"] for p in pairs["prompt"] if len(p) == 1 and len(p[0]["content"]) < 160})
    picked = sorted(firsts, key=lambda q: (len(q), q))[:n]
    return [[{"role": "system", "content": SYSTEM}, {"role": "user", "content": q}] for q in picked]


def measure(make_inner, cache: Path, conversations, max_tokens: int) -> dict:
    """First run on an empty cache, then a re-run through a fresh client on the same cache."""
    first = CachedChatClient(make_inner(), cache)
    started = time.perf_counter()
    replies = first.chat(conversations, max_tokens=max_tokens)
    seconds = time.perf_counter() - started
    again = CachedChatClient(make_inner(), cache)
    started = time.perf_counter()
    assert again.chat(conversations, max_tokens=max_tokens) == replies
    rerun_seconds = time.perf_counter() - started
    return {
        "calls": len(conversations),
        "seconds": round(seconds, 3),
        "requests_per_s": round(len(conversations) / seconds, 3),
        "rerun_seconds": round(rerun_seconds, 4),
        "rerun_hit_rate": again.hit_rate,
        "rerun_requests_sent": getattr(again.inner, "requests", again.misses),
        "empty_replies": sum(not r.strip() for r in replies),
        "sample_replies": replies[:3],
    }


class _Instant(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        payload = json.dumps({"choices": [{"message": {"content": "ok " + body["messages"][-1]["content"][:8]}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=32, help="chat calls per backend")
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8, help="hf backend")
    parser.add_argument("--concurrency", type=int, default=4, help="openai backend against transformers serve")
    parser.add_argument("--loopback-calls", type=int, default=512)
    args = parser.parse_args()
    conversations = questions(args.n)
    cache_dir = REPO / ".cache"
    gemma = policy_dir(GgufModel(kind="gguf"), cache_dir)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        hf = HFJudge(kind="hf", batch_size=args.batch_size)
        results["hf"] = measure(lambda: HFChatClient(hf, cache_dir), tmp / "hf", conversations, args.max_tokens)
        results["hf"]["batch_size"] = args.batch_size

        with transformers_serve(gemma, tmp / "serve.log") as url:
            served = OpenAIJudge(kind="openai", base_url=url, model=str(gemma), max_concurrency=args.concurrency)
            results["openai-serve"] = measure(
                lambda: OpenAIChatClient(served), tmp / "serve", conversations, args.max_tokens
            )
            results["openai-serve"]["max_concurrency"] = args.concurrency

        server = ThreadingHTTPServer(("127.0.0.1", 0), _Instant)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            loop = OpenAIJudge(
                kind="openai",
                base_url=f"http://127.0.0.1:{server.server_address[1]}/v1",
                model="instant",
                max_concurrency=16,
            )
            many = [[{"role": "user", "content": f"question {i}"}] for i in range(args.loopback_calls)]
            results["openai-loopback"] = measure(lambda: OpenAIChatClient(loop), tmp / "loop", many, args.max_tokens)
            results["openai-loopback"]["max_concurrency"] = 16
        finally:
            server.shutdown()
            server.server_close()
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "max_tokens": args.max_tokens,
        "questions": f"{args.n} shortest single-turn user prompts of HH-RLHF helpful-base dev, system: {SYSTEM!r}",
        "backends": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "judges.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: {m: v[m] for m in ("requests_per_s", "rerun_hit_rate")} for k, v in results.items()}))


if __name__ == "__main__":
    main()
