"""A step's code dependencies are derived: the stage packages its entry reaches, hashed where they are installed."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from paretoflow import code_deps, paths
from paretoflow.config import load_params
from paretoflow.steps import STEPS
from tests.conftest import copy_project

TREE = {
    "components/__init__.py": "",
    "components/data/__init__.py": "",
    "components/data/entry.py": "from components.data import helper\n\n\ndef run():\n"
    "    from components.common import x\n",  # a lazy import
    "components/data/helper.py": "",
    "components/common/__init__.py": "",
    "components/common/x.py": "",
    "components/scorers/__init__.py": "",
    "components/scorers/pick.py": "from paretoflow.tables import SCORERS\n",
    "components/scorers/length.py": "",
    "components/judges/__init__.py": "",
    "components/judges/llm.py": "",
    "components/grpo/__init__.py": "",
    "components/grpo/remote.py": "",
    "components/grpo/train.py": "BACKENDS = {'llm': 'components.judges.llm:Client'}\n",
    "components/registry/__init__.py": "",
    "components/registry/tags.py": "",
    "paretoflow/__init__.py": "",
    "paretoflow/tables.py": "SCORERS = {'length': 'components.scorers.length:make'}\n"
    "TARGETS = {'remote': 'components.grpo.remote:run'}\n",
    "paretoflow/schema.py": "from paretoflow.tables import TARGETS\n",
}


def _tree(root: Path) -> Path:
    for name, text in TREE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_lazy_imports_named_factories_and_only_the_tables_taken_count(tmp_path):
    root = _tree(tmp_path)
    assert code_deps.code_dependencies("components.data.entry", root) == ["components/common", "components/data"]
    # a component naming a factory in a string reaches its package
    assert code_deps.code_dependencies("components.grpo.train", root) == ["components/grpo", "components/judges"]
    # importing one table of the configuration reaches the factories it names, not those of other tables
    assert code_deps.code_dependencies("components.scorers.pick", root) == ["components/scorers"]
    assert code_deps.code_md5("components.data.entry", root).keys() == {"components/common", "components/data"}
    with pytest.raises(ValueError, match="components.data.gone is not a module"):
        code_deps.code_dependencies("components.data.gone", root)  # a renamed module is not silently code-free


def test_code_is_hashed_where_it_is_installed_without_bytecode(tmp_path, monkeypatch):
    root = _tree(tmp_path / "site")
    monkeypatch.setattr(code_deps, "package_root", lambda: root)
    before = code_deps.code_md5("components.data.entry")
    (root / "components/data/__pycache__").mkdir()
    (root / "components/data/__pycache__/helper.cpython-311.pyc").write_bytes(b"\0")
    assert code_deps.code_md5("components.data.entry") == before
    (root / "components/data/helper.py").write_text("VALUE = 1\n")
    assert code_deps.code_md5("components.data.entry")["components/data"] != before["components/data"]


def test_a_helper_module_added_to_a_stage_package_changes_the_keys_of_the_steps_using_it(tmp_path, monkeypatch):
    """A copy of the installed packages with a throwaway helper that nothing imports: editing it changes the key
    of every step reaching its package and of no other step."""
    site = tmp_path / "site"
    for package in ("components", "paretoflow"):
        src = code_deps.package_root() / package
        shutil.copytree(src, site / package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(code_deps, "package_root", lambda: site)
    (tmp_path / "project").mkdir()
    project = copy_project(tmp_path / "project")
    monkeypatch.chdir(project)
    for folder in (
        paths.DATA,
        paths.VALIDATION,
        paths.SFT,
        paths.RUBRICS,
        paths.REWARD_MODELS,
        paths.EVALUATORS,
        paths.POLICIES,
        paths.EVALUATION,
    ):
        folder.mkdir(parents=True)
    params = load_params("params.yaml")
    steps = {name: replace(step, external=None) for name, step in STEPS.items()}  # the registry is not under test

    def keys() -> dict[str, str]:
        return {name: step.cache_key(params) for name, step in steps.items()}

    helper = site / "components/registry/throwaway_helper.py"
    helper.write_text("VALUE = 1\n")
    first = keys()
    helper.write_text("VALUE = 22\n")  # another size too: the md5 state trusts (size, mtime, inode)
    second = keys()
    using = {name for name, step in steps.items() if "components/registry" in step.dependencies(params)}
    assert {name for name in steps if first[name] != second[name]} == using
    assert "register" in using and "ingest" not in using


@pytest.mark.parametrize("step", list(STEPS))
def test_every_step_depends_on_its_own_package(step):
    entry = STEPS[step].module
    assert "/".join(entry.split(".")[:2]) in code_deps.code_dependencies(entry)
