"""The manual-retrain run form as a person meets it: the Prefect UI, served by `prefect server start`, rendered by
Debian's headless chromium. The form must be the typed one (choices, fields per objective, descriptions), not the
JSON editor the UI falls back to for a schema it cannot draw. The API checks of the same form run everywhere
(test_deployments.py); this one needs chromium and skips without it.

`PARETOFLOW_UPDATE_SCREENSHOTS=1` also copies the screenshot to docs/prefect_run_form.png.
"""

from __future__ import annotations

import html
import os
import re
import shutil

import pytest

from components.judges.local_server import free_port
from flows.deployments import build
from paretoflow.config import load_params
from paretoflow.steps import ORDER
from tests import browser
from tests.conftest import REPO
from tests.servers import BIN, ServerProcess

BUDGET_MS = 30_000  # the run form loads the deployment, its flow and work pool info before it draws
pytestmark = [pytest.mark.slow, pytest.mark.skipif(browser.missing() is not None, reason=str(browser.missing()))]


@pytest.fixture
def prefect_ui(tmp_path):
    """`prefect server start` with its UI, on a free port, its database in a throwaway home."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_UI_API_URL": api,  # where the page's scripts call the API
    }
    env.pop("PREFECT_API_URL", None)
    command = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    server = ServerProcess("prefect-ui", command, env, f"{api}/health", tmp_path).start(timeout=180)
    try:
        yield api
    finally:
        server.stop()


def test_the_manual_retrain_run_form_shows_the_typed_fields(prefect_ui, tmp_path):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    overrides = ["profile=tiny"]
    params = load_params(REPO / "params.yaml", overrides)
    with temporary_settings({PREFECT_API_URL: prefect_ui}):
        ids = {d.name: d.apply() for d in build(params, "params.yaml", overrides)}
    page = f"{prefect_ui.removesuffix('/api')}/deployments/deployment/{ids['manual-retrain']}/run"

    dom = browser.dom(page, budget_ms=BUDGET_MS)
    assert "schema-form-property-kind-json" not in dom, "the UI fell back to a JSON editor for the parameters"
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)))
    form = text[text.index("Parameters") :]
    for label in ("Profile", "Strategy", "Weights", "Max Steps", "Learning Rate", "Sources", "Until", "Force"):
        assert f"{label} (Optional)" in form, label
    assert "tiny cpu gpu" in form and "sweep dynamic soup" in form, "choices"
    assert " ".join(ORDER) in form, "until offers every step, sft included"
    for objective in params.objective_names:
        assert f"weight of {objective} in the reward" in form, objective
    assert "GRPO optimizer steps per policy" in form and "Overrides (Optional) advanced:" in form

    shot = browser.screenshot(page, tmp_path / "prefect_run_form.png", size=(1280, 4400), budget_ms=BUDGET_MS)
    assert shot.stat().st_size > 50_000, "a rendered page, not a blank one"
    if os.environ.get("PARETOFLOW_UPDATE_SCREENSHOTS") == "1":
        shutil.copy2(shot, REPO / "docs/prefect_run_form.png")
