"""Architecture before and after a change, measured on two git revisions (default: a579212, the commit before the
renovation of issue 12, and HEAD).

Each revision is exported with `git archive` into a temporary folder and read there, never imported:
- files per folder under `components/` (.py files and other files, `__pycache__` left out);
- import cycles: strongly connected groups of modules in the import graph of `paretoflow.import_graph` (lazy
  imports inside functions count), each with one shortest cycle through it;
- imports that run back up the layers: a component importing `flows`, `paretoflow.cli`, `paretoflow.steps` or
  `paretoflow.report`, or configuration importing a component;
- hand-kept code-dependency lists: tuples/lists of `"components/..."` paths in `paretoflow/steps.py`, and the
  `dvc.yaml` stages whose deps name `components/` files one by one.
The graph reader and both checks are the current checkout's (`paretoflow.import_graph.import_graph`, `cycles` and
`upward` of tests/test_imports.py), applied the same way to both trees. Writes benchmarks/results/architecture.json.

    .venv/bin/python -m benchmarks.architecture [--revisions a579212 HEAD]
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import subprocess
import tarfile
import tempfile
import time
from collections import Counter, deque
from pathlib import Path

import yaml

from benchmarks.provenance import Provenance
from paretoflow.import_graph import import_graph
from tests.test_imports import ABOVE_COMPONENTS, CONFIGURATION, cycles, upward

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "architecture.json"
BEFORE = "a579212"  # the commit before issue 12's renovation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revisions", nargs=2, default=[BEFORE, "HEAD"], metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    provenance = Provenance("benchmarks.architecture")
    measured = {label: measure(rev) for label, rev in zip(("before", "after"), args.revisions, strict=True)}
    report = {
        **provenance.record(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "checks": {"configuration": list(CONFIGURATION), "above_components": list(ABOVE_COMPONENTS)},
        "summary": {key: [measured["before"][key], measured["after"][key]] for key in SUMMARY},
        **measured,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["summary"], indent=2))
    print(f"wrote {OUT.relative_to(REPO)}")


SUMMARY = (
    "components_py_files",
    "components_folders",
    "largest_folder_py_files",
    "import_cycles",
    "upward_imports",
    "hand_kept_code_lists",
    "hand_kept_code_path_entries",
)


def measure(rev: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="paretoflow-architecture-") as tmp:
        root = Path(tmp)
        with tarfile.open(fileobj=io.BytesIO(_git("archive", rev, raw=True))) as archive:
            archive.extractall(root, filter="data")
        folders = files_per_folder(root)
        graph = import_graph(root)
        groups = cycles(graph)
        up = upward(graph)
        lists = code_lists(root)
    return {
        "revision": rev,
        "commit": _git("rev-parse", f"{rev}^{{commit}}").strip(),
        "subject": _git("log", "-1", "--format=%s", rev).strip()[:200],
        "components_py_files": sum(f["py"] for f in folders.values()),
        "components_other_files": sum(f["other"] for f in folders.values()),
        "components_folders": len(folders),
        "largest_folder_py_files": max(f["py"] for f in folders.values()),
        "files_per_folder": folders,
        "modules": len(graph),
        "import_edges": sum(len(t) for t in graph.values()),
        "import_cycles": len(groups),
        "cycles": [{"modules": group, "shortest_cycle": shortest_cycle(graph, group)} for group in groups],
        "upward_imports": len(up),
        "upward": up,
        "hand_kept_code_lists": lists["steps_py"]["lists"] + lists["dvc_yaml"]["stages_listing_paths"],
        "hand_kept_code_path_entries": lists["steps_py"]["path_entries"] + lists["dvc_yaml"]["path_entries"],
        "code_dependency_lists": lists,
    }


def files_per_folder(root: Path) -> dict[str, dict[str, int]]:
    """Folder under components/ (itself included) -> .py files and other files directly in it."""
    counts: dict[str, Counter] = {}
    for path in sorted((root / "components").rglob("*")):
        if "__pycache__" in path.parts:
            continue
        folder = (path if path.is_dir() else path.parent).relative_to(root).as_posix()
        counts.setdefault(folder, Counter())
        if path.is_file():
            counts[folder]["py" if path.suffix == ".py" else "other"] += 1
    return {folder: {"py": c["py"], "other": c["other"]} for folder, c in sorted(counts.items())}


def shortest_cycle(graph: dict[str, set[str]], group: list[str]) -> list[str]:
    """One shortest import cycle through the group's first module, staying inside the group."""
    start, inside = group[0], set(group)
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for nxt in sorted(graph[node] & inside):
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return []


def code_lists(root: Path) -> dict:
    """Code dependencies written out by hand: `components/...` paths in paretoflow/steps.py (each tuple or list
    literal holding one is a list) and the `components/` deps of dvc.yaml stages other than whole stage packages
    (a folder with `__init__.py`: dvc.yaml names those, and tests/flows/test_dvc.py checks them against the
    packages derived from the imports)."""
    steps = root / "paretoflow" / "steps.py"
    lists, entries = 0, []
    if steps.exists():
        for node in ast.walk(ast.parse(steps.read_text())):
            if isinstance(node, ast.Tuple | ast.List):
                paths = [e.value for e in node.elts if isinstance(e, ast.Constant) and _is_code_path(e.value)]
                lists += bool(paths)
                entries += paths
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"] if (root / "dvc.yaml").exists() else {}
    listing, by_hand, packages = 0, 0, 0
    for stage in stages.values():
        deps = [d for d in stage.get("deps", []) if _is_code_path(d)]
        whole = [d for d in deps if (root / d / "__init__.py").is_file()]
        packages += len(whole)
        by_hand += len(deps) - len(whole)
        listing += len(deps) > len(whole)
    return {
        "steps_py": {
            "lists": lists,
            "path_entries": len(entries),
            "py_entries": sum(e.endswith(".py") for e in entries),
        },
        "dvc_yaml": {"stages_listing_paths": listing, "path_entries": by_hand, "stage_package_entries": packages},
    }


def _is_code_path(value: object) -> bool:
    return isinstance(value, str) and value.startswith("components/")


def _git(*args: str, raw: bool = False):
    out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, check=True).stdout
    return out if raw else out.decode()


if __name__ == "__main__":
    main()
