"""A module's code dependencies: the stage packages (`components/<stage>`) its imports reach, hashed where they are
installed.

Derived, not listed: a helper module added to a package is covered because the whole package folder is hashed,
and a package newly imported is covered because the imports are walked, lazy ones and factories named in
"module:attribute" strings included (a component importing a table of `paretoflow.factories` reaches every
factory that table names). Hashed at the installed location (the checkout for an editable install,
site-packages for a wheel), so a step run from any working directory keys on the code it runs. Configuration
(`paretoflow`) is not a stage package: params enter keys as resolved values.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from itertools import chain
from pathlib import Path

from paretoflow.hashing import dvc_md5, text_sha
from paretoflow.import_graph import Source, sources

STAGES = "components"
CONFIGURATION = "paretoflow"


def package_root() -> Path:
    """The folder that holds the installed `components` package (found without importing it)."""
    spec = importlib.util.find_spec(STAGES)
    return Path(next(iter(spec.submodule_search_locations))).resolve().parent


def code_dependencies(module: str, root: Path | None = None) -> list[str]:
    """The stage packages `module` reaches, as paths relative to the package root: ["components/common", ...]."""
    root = root or package_root()
    found = _sources(root, _listing(root))
    if module not in found or not _is_stage_module(module):
        raise ValueError(f"{module} is not a module of the stage packages in {root / STAGES}")
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current in seen or not _is_stage_module(current):
            continue
        seen.add(current)
        todo.extend(chain(*found[current].named.values()))
        for target, name in found[current].imports:
            if _is_stage_module(target):
                todo.append(target)
            else:  # configuration: only the factories it names in what the component takes from it
                tables = found[target].named
                todo.extend(tables.get(name, ()) if name else chain(*tables.values()))
    return sorted({_stage_of(m, root) for m in seen})


def code_md5(module: str, root: Path | None = None) -> dict[str, str]:
    """DVC md5 of each code dependency of `module`, read at the installed location."""
    root = root or package_root()
    return {path: dvc_md5(root / path) for path in code_dependencies(module, root)}


@lru_cache
def code_version(*modules: str) -> str:
    """One short hash of the code behind `modules`, for caches of computed results (judge replies, rubric scores,
    GRPO runs); computed once per process, as the code a process runs does not change under it."""
    md5s = {path: md5 for module in modules for path, md5 in code_md5(module).items()}
    return text_sha(*(f"{path}={md5}" for path, md5 in sorted(md5s.items())), length=12)


def _is_stage_module(module: str) -> bool:
    return module.startswith(f"{STAGES}.")


def _stage_of(module: str, root: Path) -> str:
    parts = module.split(".")
    folder = root.joinpath(*parts[:2])
    return "/".join(parts[:2]) if folder.is_dir() else f"{'/'.join(parts[:2])}.py"


def _listing(root: Path) -> tuple[tuple[str, int], ...]:
    """The source files with their mtimes: the graphs are re-read only when one changes."""
    files = sorted(f for package in (STAGES, CONFIGURATION) for f in (root / package).rglob("*.py"))
    return tuple((str(f), f.stat().st_mtime_ns) for f in files)


@lru_cache(maxsize=4)
def _sources(root: Path, listing: tuple) -> dict[str, Source]:
    return sources(root, (STAGES, CONFIGURATION))
