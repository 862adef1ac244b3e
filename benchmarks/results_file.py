"""The frame that pipeline benchmarks share: a work folder (`--work`, kept between runs, else a temporary one),
params overrides (`-o`), and a results file (`--output`) written whole, its provenance block first."""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from benchmarks.provenance import Provenance


def _absolute(text: str) -> Path:
    """Resolved when parsed: the benchmarks change directory before they run."""
    return Path(text).resolve()


def add_run_arguments(parser: argparse.ArgumentParser, result: Path, kept: str) -> None:
    """`--work` (what it keeps between runs: `kept`), `-o/--override` and `--output` (default `result`)."""
    parser.add_argument("--work", type=_absolute, default=None, help=f"keep {kept} here between runs")
    parser.add_argument("-o", "--override", action="append", default=[], help="extra params overrides")
    parser.add_argument("--output", type=_absolute, default=result)


def write_result(module: str, args: argparse.Namespace, run: Callable[[Path], dict]) -> dict:
    """`run(work folder)`'s result after the provenance of `module`, written whole to `args.output`; returned."""
    provenance = Provenance(module)
    with tempfile.TemporaryDirectory() as tmp:
        result = run(args.work or Path(tmp).resolve())
    result = {**provenance.record(), **result}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    return result
