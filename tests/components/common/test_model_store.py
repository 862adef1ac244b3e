"""Model builds on a shared cache_dir: each build in a folder of its own, renamed into place; a build finished
first by another process is kept, abandoned partial builds of dead processes are cleared, two real processes
building the same model at once both end with the one complete copy."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest

from components.common.model_store import _cached


def _write_model(folder, label: str) -> None:
    (folder / "config.json").write_text(f'{{"built_by": "{label}"}}')
    (folder / "weights.bin").write_text(label * 100)


def test_a_build_lands_complete_and_leaves_no_partial_folder(tmp_path):
    target = tmp_path / "models" / "m"
    seen = []
    assert _cached(target, lambda d: (seen.append(d.name), _write_model(d, "me"))) == target
    assert seen[0].startswith(f"m.partial-{os.getpid()}-") and seen[0].endswith(socket.gethostname())
    assert (target / "config.json").read_text() == '{"built_by": "me"}'
    assert sorted(p.name for p in target.parent.iterdir()) == ["m"]
    assert _cached(target, lambda d: pytest.fail("a complete model is not built again")) == target


def test_another_process_finishing_first_keeps_its_model(tmp_path):
    target = tmp_path / "models" / "m"

    def slow_build(folder):
        _write_model(folder, "slow")
        target.mkdir(parents=True)  # meanwhile another process published its own build
        _write_model(target, "fast")

    assert _cached(target, slow_build) == target
    assert (target / "config.json").read_text() == '{"built_by": "fast"}', "a model in use is never replaced"
    assert sorted(p.name for p in target.parent.iterdir()) == ["m"]


def test_a_failed_build_leaves_nothing_and_an_incomplete_target_is_replaced(tmp_path):
    target = tmp_path / "models" / "m"

    def broken(folder):
        (folder / "half").write_text("x")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _cached(target, broken)
    assert list(target.parent.iterdir()) == []
    target.mkdir()
    (target / "tokenizer.json").write_text("{}")  # an interrupted copy from an older version: no config.json
    _cached(target, lambda d: _write_model(d, "new"))
    assert (target / "config.json").exists() and not (target / "tokenizer.json").exists()


def test_partial_builds_of_dead_processes_are_cleared(tmp_path):
    target = tmp_path / "models" / "m"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = socket.gethostname()
    abandoned = target.with_name(f"m.partial-{dead.stdout.strip()}-0123abcd-{host}")
    live = target.with_name(f"m.partial-{os.getppid()}-0123abcd-{host}")  # a running process: its build stays
    other_host = target.with_name(f"m.partial-{dead.stdout.strip()}-0123abcd-{host}x")  # unknown: stays
    for folder in (abandoned, live, other_host):
        folder.mkdir(parents=True)
    _cached(target, lambda d: _write_model(d, "me"))
    assert not abandoned.exists() and live.exists() and other_host.exists()


BUILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from components.common.model_store import policy_dir
    from paretoflow.schema import TinyModel
    go = Path(sys.argv[2])
    while not go.exists():  # both processes have imported everything: start building at once
        time.sleep(0.01)
    print(policy_dir(TinyModel(kind="tiny"), sys.argv[1]), flush=True)
    """
)


@pytest.mark.slow
def test_two_processes_building_the_same_model_on_one_cache_dir(tmp_path):
    """Before unique partial folders, the second build deleted the first one's `.partial` folder mid-write, or the
    finished model it had just renamed into place."""
    cache, go = tmp_path / "cache", tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", BUILD, str(cache), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    go.write_text("")
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]
    (first, _), (second, _) = outs
    assert first.strip() == second.strip()
    model = cache / "models" / first.strip().rsplit("/", 1)[-1]
    assert [p.name for p in (cache / "models").iterdir()] == [model.name], "no partial or stale folder left"
    from transformers import AutoModelForCausalLM, AutoTokenizer

    AutoModelForCausalLM.from_pretrained(model)
    AutoTokenizer.from_pretrained(model)
