"""The DVC entry point: dvc.yaml mirrors the step table, `dvc repro` runs the same components, md5s agree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
import yaml

from paretoflow import paths
from paretoflow.config import load_params
from paretoflow.hashing import dvc_md5
from paretoflow.steps import ORDER, STEPS
from tests.conftest import REPO, copy_project, tiny_params_file

DVC_YAML = yaml.safe_load((REPO / "dvc.yaml").read_text())


def _entries(items) -> list[str]:
    return [next(iter(i)) if isinstance(i, dict) else i for i in items]


def test_dvc_yaml_mirrors_the_step_table():
    params = load_params(REPO / "params.yaml")
    assert list(DVC_YAML["stages"]) == ORDER
    for name, stage in DVC_YAML["stages"].items():
        step = STEPS[name]
        assert stage["cmd"] == f"paretoflow {step.command}"
        assert sorted(stage["deps"]) == step.dependencies(params), name
        assert _entries(stage["outs"]) == [p.as_posix() for p in (*step.outs, step.lineage)], name
        assert stage["params"] == ["profile", "profiles", *step.sections], name
        assert _entries(stage["metrics"]) == [(paths.METRICS / f"{name}.json").as_posix()], name


@pytest.mark.slow
def test_dvc_repro_runs_the_pipeline_and_agrees_on_md5s(tmp_path, model_cache):
    root = copy_project(tmp_path)
    env = tiny_params_file(root, model_cache)
    dvc = [str(Path(sys.executable).parent / "dvc")]

    def sh(*cmd):
        return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=900)

    sh("git", "init", "-q")
    first = sh(*dvc, "repro")
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    lock = yaml.safe_load((root / "dvc.lock").read_text())["stages"]
    params = load_params(root / "params.yaml")
    os.chdir(root)
    try:
        for name in ORDER:
            recorded = {d["path"]: d["md5"] for d in lock[name]["deps"]}
            assert recorded == STEPS[name].deps_md5(params), name
            assert json.loads(STEPS[name].lineage.read_text()) == recorded, name
            for out in lock[name]["outs"]:
                assert out["md5"] == dvc_md5(out["path"]), (name, out["path"])
    finally:
        os.chdir(REPO)
    registered = json.loads((root / "artifacts/registry/registered.json").read_text())
    in_lock = {name: {d["path"]: d["md5"] for d in stage["deps"]} for name, stage in lock.items()}
    registry = mlflow.MlflowClient(params.tracking.uri)
    mlflow.set_tracking_uri(params.tracking.uri)
    for entry in registered["versions"]:  # every registered version's lineage names the md5s dvc.lock records
        tags = registry.get_model_version(registered["model_name"], entry["version"]).tags
        assert mlflow.artifacts.load_dict(tags["lineage"])["steps"] == in_lock
    second = sh(*dvc, "repro")
    assert second.returncode == 0 and "Running stage" not in second.stdout, second.stdout
    status = sh(*dvc, "status")
    assert "up to date" in status.stdout, status.stdout
