"""Debian's chromium, headless, for the UI tests and `docs/screenshots.py`: it renders a page (the MLflow and Prefect
UIs are React apps that fetch their data after loading) and hands back the DOM or a screenshot. No browser is ever
downloaded: where the system has none, `missing()` says so and the browser tests skip with that reason."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
# Virtual time runs ahead while the page is idle and waits for its network requests: long enough for a React app
# to load its bundle and the API answers on a loaded machine, without sleeping when it is ready early.
BUDGET_MS = 10_000


def chromium() -> str | None:
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


def missing() -> str | None:
    """Why no browser test can run here, or None."""
    if chromium() is None:
        return f"no chromium on this machine (looked for {', '.join(CANDIDATES)}; Debian: apt-get install chromium)"
    return None


def _run(url: str, *flags: str, timeout_s: float = 120) -> str:
    """One headless chromium on `url` with a throwaway profile; its stdout. Root (CI containers) needs --no-sandbox."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        command = [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *flags,
            url,
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited with {done.returncode} on {url}: {done.stderr[-2000:]}")
    return done.stdout


def dom(url: str, budget_ms: int = BUDGET_MS) -> str:
    """The page's DOM once its scripts have run (the HTML a person's browser shows, not the server's)."""
    return _run(url, f"--virtual-time-budget={budget_ms}", "--dump-dom")


def screenshot(url: str, path: Path, size: tuple[int, int] = (1600, 1800), budget_ms: int = BUDGET_MS) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    _run(url, f"--virtual-time-budget={budget_ms}", f"--window-size={size[0]},{size[1]}", f"--screenshot={path}")
    if not path.exists():
        raise RuntimeError(f"chromium wrote no screenshot of {url} to {path}")
    return path
