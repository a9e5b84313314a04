"""A Lighthouse-style budget for the digit page on a throttled network, in Debian's Chromium: the first
contentful paint and the time until a model is loaded, self-checked and ready to predict.

The exports are the real demo's shape: flax_cnn at full precision and uint8, verified by the verify
job (Node TF.js, 500 test digits), so the page's default is the smallest export within 0.1 point of
the best verified accuracy, as a user's `make demo` gives. The link is DevTools' "Fast 3G" preset as
Chrome applies it (562.5 ms round trip, 1.44 Mbit/s down, 675 kbit/s up), set through the DevTools
protocol, with the browser cache off. The budgets leave room for a loaded 2-core CI machine; the
figures measured here are in README.md ("The web demo")."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from web_harness import OUTPUT, Server, browser, wait_state

from conftest import ROOT

FAST_3G = {
    "offline": False,
    "latency": 562.5,
    "downloadThroughput": 1.44e6 / 8,
    "uploadThroughput": 675e3 / 8,
}
# Before issue 18 TF.js blocked the first paint until 3.7 s and the page was ready at 19 s.
FIRST_PAINT_BUDGET_S = 2.0
# Measured 10.1 s here (1.06 MB: TF.js, the wasm binary, the uint8 export); 15 s leaves room for a loaded machine.
READY_BUDGET_S = 15.0


@pytest.fixture(scope="module")
def verified_demo(site, tmp_path_factory):
    from jax2tfjs import checkpoints
    from jax2tfjs.api import to_tensorflowjs

    exports = tmp_path_factory.mktemp("budget-exports")
    for quant in ("none", "uint8"):
        to_tensorflowjs(
            checkpoints.resolve(site["checkpoints"], model="flax_cnn"),
            out_dir=exports / "flax_cnn" / quant,
            quantization=quant,
            progress=False,
        )
    proc = subprocess.run(
        [sys.executable, ROOT / "jobs/verify.py", f"--export-dir={exports}", f"--data-dir={site['data']}",
         "--samples=500", "--backends=wasm"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    index = json.loads((exports / "index.json").read_text())["exports"]
    assert all(entry["verified"]["tfjs_accuracy"] is not None for entry in index)
    with Server(exports) as url:
        yield {"url": url, "index": index}


def test_the_digit_page_paints_at_once_and_is_ready_within_budget_on_fast_3g(verified_demo):
    with browser() as page:
        cdp = page.context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        cdp.send("Network.emulateNetworkConditions", FAST_3G)
        start = time.monotonic()
        page.goto(verified_demo["url"] + "/", wait_until="commit")
        wait_state(page, "ready", timeout_ms=90_000)
        ready_s = time.monotonic() - start
        paints = dict(
            json.loads(
                page.evaluate(
                    "JSON.stringify(performance.getEntriesByType('paint').map((e) => [e.name, e.startTime]))"
                )
            )
        )
        first_paint_s = paints["first-contentful-paint"] / 1000
        loaded = json.loads(
            page.evaluate(
                "JSON.stringify(performance.getEntriesByType('resource').map((e) => [e.name, e.transferSize]))"
            )
        )
        shards = [name for name, _ in loaded if name.endswith(".bin")]
        figures = {
            "first_contentful_paint_s": round(first_paint_s, 2),
            "ready_s": round(ready_s, 2),
            "bytes": sum(size for _, size in loaded),
            "shards": shards,
        }
        OUTPUT.mkdir(parents=True, exist_ok=True)
        (OUTPUT / "budget.json").write_text(json.dumps(figures, indent=2))
        # The default is the small uint8 export (same verified accuracy, a quarter of the bytes).
        assert shards and all("/flax_cnn/uint8/" in name for name in shards), figures
        assert first_paint_s < FIRST_PAINT_BUDGET_S, figures
        assert ready_s < READY_BUDGET_S, figures
        assert page.problems == []
