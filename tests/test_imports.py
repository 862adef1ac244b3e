"""The import graph of the project's own code: no cycles, and nothing runs back up the layers.

Layers, bottom to top: `paretoflow` configuration (schema, config, hashing, the factory registries, paths, the
params each step reads, code versions) < `components` (the steps, plain Python) < the step table, `flows` and the
CLI. Imports inside functions count too: a lazy import still makes one module depend on another, and a lazy cycle
is still a cycle.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from paretoflow.import_graph import import_graph

REPO = Path(__file__).resolve().parents[1]
CONFIGURATION = (
    "paretoflow.schema",
    "paretoflow.config",
    "paretoflow.hashing",
    "paretoflow.factories",
    "paretoflow.paths",
    "paretoflow.step_params",
    "paretoflow.import_graph",
    "paretoflow.code_deps",
)
ABOVE_COMPONENTS = ("flows", "paretoflow.cli", "paretoflow.steps", "paretoflow.report")


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def upward(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            if module.startswith("components") and target.startswith(ABOVE_COMPONENTS):
                bad.append(f"{module} imports {target}")
            if module in CONFIGURATION and target.startswith("components"):
                bad.append(f"{module} (configuration) imports {target}")
    return bad


def test_the_project_has_no_import_cycles():
    assert cycles(import_graph(REPO)) == []


def test_nothing_imports_back_up_the_layers():
    assert upward(import_graph(REPO)) == []


@pytest.mark.parametrize(
    ("files", "expected_cycles", "expected_upward"),
    [
        (  # a lazy import inside a function still closes a cycle; `from pkg import mod` reaches the module
            {
                "components/__init__.py": "",
                "components/a.py": "from components import b\n",
                "components/b.py": "def f():\n    from components.a import x\n",
            },
            [["components.a", "components.b"]],
            [],
        ),
        (  # a component reaching the CLI, configuration reaching a component
            {
                "components/__init__.py": "",
                "components/a.py": "def main():\n    from paretoflow.cli import app\n",
                "paretoflow/__init__.py": "",
                "paretoflow/cli.py": "",
                "paretoflow/config.py": "from components import a\n",
            },
            [],
            ["components.a imports paretoflow.cli", "paretoflow.config (configuration) imports components.a"],
        ),
    ],
)
def test_the_checks_catch_what_they_claim(tmp_path, files, expected_cycles, expected_upward):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = import_graph(tmp_path)
    assert cycles(graph) == expected_cycles
    assert upward(graph) == expected_upward
