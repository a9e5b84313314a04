"""What the browser tests of the web pages share: web/serve.sh around an exports folder (and a zoo
folder), Debian's Chromium through Playwright, and the pages' readiness markers. The session fixture
`site` (tests/conftest.py) builds and serves the MNIST exports."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from conftest import ROOT
from jax2tfjs.browser.chromium import FLAGS

CHROMIUM = "/usr/bin/chromium"
OUTPUT = ROOT / "tests" / "output" / "web"
# The MNIST exports of the session fixture `site` (tests/conftest.py).
WEB_MODELS = ("jax_cnn", "flax_cnn", "flax_mlp")
WEB_QUANTS = ("none", "float16")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """web/serve.sh start/stop around one exports folder (and optionally a zoo folder)."""

    def __init__(self, exports: Path, zoo: Path | None = None):
        if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
            pytest.fail("nginx is missing: apt-get install nginx (.ci/run installs it)")
        self.port, self.exports, self.zoo = free_port(), exports, zoo

    def __enter__(self) -> str:
        args = [ROOT / "web/serve.sh", "start", str(self.port), str(self.exports)]
        if self.zoo is not None:
            args.append(str(self.zoo))
        proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        subprocess.run([ROOT / "web/serve.sh", "stop", str(self.port)], capture_output=True, timeout=60)


def collect_problems(page: Page) -> Page:
    """The page, collecting its console errors and uncaught page errors in `page.problems`."""
    page.problems = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    return page


@contextlib.contextmanager
def browser(**context_options) -> Iterator[Page]:
    """A fresh headless Chromium profile and one page; console errors and page errors are
    collected in `page.problems`. context_options go to Playwright (viewport, has_touch,
    bypass_csp...)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: apt-get install chromium (.ci/run installs it)")
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=list(FLAGS), headless=True, **context_options
        )
        page = collect_problems(context.new_page())
        try:
            yield page
        finally:
            context.close()


# Selectors, not wait_for_function: the page's CSP forbids eval, which wait_for_function needs.
def wait_state(page: Page, state: str, timeout_ms: int = 60_000) -> None:
    page.wait_for_selector(f"body[data-state='{state}']", state="attached", timeout=timeout_ms)
