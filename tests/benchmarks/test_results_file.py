"""benchmarks/results_file.py: the work folder a pipeline benchmark runs in, and its results file written whole."""

import argparse
import json
from pathlib import Path

from benchmarks.results_file import add_run_arguments, write_result


def _parse(argv: list[str], default: Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser, default, kept="data")
    return parser.parse_args(argv)


def test_paths_are_resolved_when_parsed_and_overrides_collect(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = _parse(["--work", "w", "--output", "out/r.json", "-o", "a=1", "-o", "b=2"], tmp_path / "default.json")
    assert args.work == tmp_path / "w" and args.output == tmp_path / "out" / "r.json"
    assert args.override == ["a=1", "b=2"]
    assert _parse([], tmp_path / "default.json").output == tmp_path / "default.json"


def test_the_result_follows_the_provenance_in_the_file(tmp_path):
    args = _parse(["--output", str(tmp_path / "out" / "r.json")], tmp_path / "default.json")
    folders = []
    result = write_result("benchmarks.example", args, lambda work: folders.append(work) or {"figure": 1})
    assert folders[0].is_absolute() and not folders[0].exists()  # a temporary folder, gone once written
    written = json.loads(args.output.read_text())
    assert written == result and list(written)[-1] == "figure" and "-m benchmarks.example" in written["command"]


def test_a_given_work_folder_is_the_one_run_in(tmp_path):
    args = _parse(["--work", str(tmp_path / "keep"), "--output", str(tmp_path / "r.json")], tmp_path / "d.json")
    write_result("benchmarks.example", args, lambda work: {"work": str(work)})
    assert json.loads(args.output.read_text())["work"] == str(tmp_path / "keep")


def test_provenance_names_the_commit_a_run_started_at_and_where_head_moved(monkeypatch):
    from benchmarks import provenance

    heads = iter(["aaa", "", "bbb"])  # rev-parse at the start, status at the start, rev-parse at the end
    monkeypatch.setattr(provenance, "_git", lambda *args: next(heads))
    record = provenance.Provenance("benchmarks.x").record()
    assert record["commit"] == "aaa" and record["head_at_end"] == "bbb" and not record["uncommitted_changes"]
