"""The demo page, served by the web container, works in headless Chromium: it loads an export,
its self-check against golden.json passes, and a real test digit is predicted. Part of
`make test-containers` (tests/containers/run.sh); run with the convert venv.

    python tests/containers/page_check.py URL SCREENSHOT
"""

from __future__ import annotations

import sys
import tempfile

from playwright.sync_api import sync_playwright

from jax2tfjs.browser.chromium import FLAGS, chromium_path


def main(url: str, screenshot: str) -> None:
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(chromium_path()), args=list(FLAGS), headless=True
        )
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(url)
        # Selectors, not wait_for_function: the page's CSP forbids the eval it needs.
        page.wait_for_selector("body[data-state='ready']", state="attached", timeout=90_000)
        verdict = page.get_attribute("#selfcheck", "data-verdict")
        diff = page.get_attribute("#selfcheck", "data-max-abs-diff")
        page.click("#sample")
        page.wait_for_selector("body[data-sample='0'] #top[data-label]", state="attached", timeout=30_000)
        top = page.get_attribute("#top", "data-label") or ""
        page.screenshot(path=screenshot, full_page=True)
        context.close()
    if verdict != "passed" or problems or not top.isdigit():
        sys.exit(f"the page did not work: self-check {verdict!r}, prediction {top!r}, errors {problems}")
    print(
        f"the page loaded the export, self-check passed (max |Δ| {diff} vs JAX), predicted {top} for a test digit"
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
