"""Regenerate the UI screenshots under docs/ from a tiny-profile run in a throwaway copy of the project:

    .venv/bin/python docs/screenshots.py [--project DIR]

Every step runs on the tiny profile (a few minutes on two cores), then a real `mlflow server` serves the project's
store and Debian's chromium (`/usr/bin/chromium`, headless) photographs the candidate version's page in the MLflow
UI: `docs/mlflow_model_version.png`. `--project DIR` keeps the project there and reuses it when it already holds a
registered front.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
sys.path.insert(0, str(REPO))  # the test helpers (tiny profile, servers, browser) live in tests/

from paretoflow.config import load_params  # noqa: E402
from paretoflow.steps import ORDER, execute  # noqa: E402
from tests import browser  # noqa: E402
from tests.components.registry.registry_server import sqlite_mlflow_server  # noqa: E402
from tests.conftest import copy_project, tiny  # noqa: E402


def tiny_front(root: Path) -> dict:
    """Every step on the tiny profile in `root` (a project copy made there if missing); the register summary."""
    registered = root / "artifacts/registry/registered.json"
    if not registered.exists():
        copy_project(root)
        os.chdir(root)
        params = load_params("params.yaml", tiny(root, root / ".cache"))
        for name in ORDER:
            print(f"tiny profile: {name}", file=sys.stderr)
            execute(name, params)
    return json.loads(registered.read_text())


def mlflow_version_page(root: Path, registered: dict, out: Path) -> Path:
    server = sqlite_mlflow_server(root).start()
    try:
        ui = server.health_url.removesuffix("/health")
        url = f"{ui}/#/models/{registered['model_name']}/versions/{registered['alias_version']}"
        return browser.screenshot(url, out, size=(1600, 1300))
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, help="where the tiny project is kept (default: a temporary folder)")
    args = parser.parse_args()
    if (reason := browser.missing()) is not None:
        sys.exit(f"cannot take screenshots: {reason}")
    with tempfile.TemporaryDirectory(prefix="paretoflow-screenshots-") as scratch:
        root = (args.project or Path(scratch)).resolve()
        root.mkdir(parents=True, exist_ok=True)
        registered = tiny_front(root)
        print(mlflow_version_page(root, registered, DOCS / "mlflow_model_version.png"))


if __name__ == "__main__":
    main()
