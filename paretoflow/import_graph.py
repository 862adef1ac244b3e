"""The import graph of the project's own code, read from source: which project modules each module imports, and
which it names in `"package.module:attribute"` strings (factory tables, resolved lazily).

Imports inside functions count: a lazy import still makes one module depend on another. Two readers:
tests/test_imports.py keeps the imports free of cycles and layered, and `paretoflow.code_deps` finds the code a
step runs.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ("components", "flows", "paretoflow")
_NAMED = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)+):[A-Za-z_]\w*$")


@dataclass
class Source:
    """What one module's source refers to."""

    imports: set[tuple[str, str | None]] = field(default_factory=set)  # (module, imported name or None: all of it)
    named: dict[str | None, set[str]] = field(default_factory=lambda: defaultdict(set))  # top-level name -> modules


def modules(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of `packages` under `root`."""
    found = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """module -> the project modules it imports (a `from package import name` edge goes to package.name when
    that is a module, else to the package)."""
    return {name: {module for module, _ in source.imports} for name, source in sources(root, packages).items()}


def sources(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Source]:
    """module -> its imports (with the name imported from a module, when not a module itself) and the modules it
    names in "module:attribute" strings, by the top-level assignment holding them (None: anywhere else)."""
    known = modules(root, packages)
    found = {name: Source() for name in known}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found[name].imports |= {(a.name, None) for a in node.names if a.name in known and a.name != name}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:
                    target = (f"{base}.{alias.name}", None) if f"{base}.{alias.name}" in known else (base, alias.name)
                    if target[0] in known and target[0] != name:
                        found[name].imports.add(target)
        for holder, text in _strings(tree):
            match = _NAMED.match(text)
            if match and match.group(1) in known:
                found[name].named[holder].add(match.group(1))
    return found


def _strings(tree: ast.Module):
    """(the top-level name it is assigned to, or None; the text) of every string constant in a module."""
    for statement in tree.body:
        targets = statement.targets if isinstance(statement, ast.Assign) else [getattr(statement, "target", None)]
        holder = targets[0].id if len(targets) == 1 and isinstance(targets[0], ast.Name) else None
        for node in ast.walk(statement):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield holder, node.value
