"""The web demo in a real browser: Debian's chromium driven by Playwright, served by real nginx
through web/serve.sh and web/nginx.conf, against exports converted in this session."""

from __future__ import annotations

import gzip
import json
import shutil
import urllib.request

import jax
import numpy as np
import pytest
from web_harness import OUTPUT, Server, browser, wait_state
from web_harness import WEB_MODELS as MODELS
from web_harness import WEB_QUANTS as QUANTS

from jax2tfjs.api import to_tensorflowjs
from jax2tfjs.export import publish


@pytest.fixture
def browser_page():
    with browser() as page:
        yield page


def draw_vertical_line(page):
    box = page.locator("#pad").bounding_box()
    page.mouse.move(box["x"] + 140, box["y"] + 40)
    page.mouse.down()
    for y in range(40, 250, 10):
        page.mouse.move(box["x"] + 140, box["y"] + y)
    page.mouse.up()


def test_every_export_predicts_real_digits_like_jax(site, browser_page):
    page = browser_page
    entries = json.loads((site["exports"] / "index.json").read_text())["exports"]
    samples = json.loads((site["exports"] / "samples.json").read_text())
    page.goto(site["url"] + "/")
    wait_state(page, "ready")
    options = page.locator("#models option")
    assert options.count() == len(MODELS) * len(QUANTS)
    for index in range(options.count()):
        model = options.nth(index).get_attribute("data-model")
        label = options.nth(index).inner_text()
        page.select_option("#models", str(index))
        page.wait_for_selector(
            f"body[data-state='ready'][data-export='{entries[index]['model_json']}']", state="attached"
        )
        assert page.get_attribute("#selfcheck", "data-verdict") == "passed", label
        # The strip marks each test digit right or wrong for this model, as JAX would.
        page.wait_for_selector("#strip .thumb[data-index='19'][data-verdict]", state="attached")
        verdicts = [t.get_attribute("data-verdict") for t in page.locator("#strip .thumb").all()]
        want = [
            "right" if e == y else "wrong"
            for e, y in zip(site["expected"][model], samples["labels"], strict=True)
        ]
        assert verdicts == want, label
        for sample in range(10):
            page.click(f"#strip .thumb[data-index='{sample}']")
            page.wait_for_selector(f"body[data-sample='{sample}'] #top[data-label]", state="attached")
            assert int(page.get_attribute("#top", "data-label")) == site["expected"][model][sample], (
                label,
                sample,
            )
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "samples.png"), full_page=True)
    assert page.problems == []


@pytest.mark.parametrize("model", ["jax_cnn", "flax_cnn"])
def test_a_drawn_vertical_stroke_reads_as_one(site, browser_page, model):
    page = browser_page
    page.goto(site["url"] + "/")
    wait_state(page, "ready")
    index = next(
        i
        for i, o in enumerate(page.locator("#models option").all())
        if o.get_attribute("data-model") == model
    )
    page.select_option("#models", str(index))
    wait_state(page, "ready")
    draw_vertical_line(page)
    page.wait_for_selector("body[data-predictions]", state="attached")
    assert page.inner_text("#top") == "1"
    assert page.inner_text("#backend") in {"webgl", "wasm", "cpu"}
    bars = page.locator("#bars .bar")
    assert bars.count() == 10
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"drawn-{model}.png"), full_page=True)
    assert page.problems == []


def test_without_exports_the_page_says_what_to_run(tmp_path, browser_page):
    with Server(tmp_path) as url:
        browser_page.goto(url + "/")
        wait_state(browser_page, "empty")
        assert "make convert" in browser_page.inner_text("#status")
        # The missing index.json is a 404 the browser logs; nothing else may go wrong.
        assert [p for p in browser_page.problems if not p.startswith("Failed to load resource")] == []


def test_a_broken_export_is_named_and_the_page_stays_usable(site, tmp_path, browser_page):
    exports = tmp_path / "exports"
    shutil.copytree(site["exports"] / "flax_mlp", exports / "flax_mlp")
    (exports / "flax_mlp" / "none" / "model.json").write_text("{ not json")
    publish.write_samples(exports, np.zeros((1, 28, 28, 1), np.uint8), [0])
    index = {
        "exports": [
            {**entry, "verified": None}
            for entry in json.loads((site["exports"] / "index.json").read_text())["exports"]
            if entry["model"] == "flax_mlp"
        ]
    }
    (exports / "index.json").write_text(json.dumps(index))
    with Server(exports) as url:
        page = browser_page
        page.goto(url + "/")
        wait_state(page, "broken")
        assert "Could not load Flax MLP · full precision" in page.inner_text("#status")
        assert "damaged" in page.inner_text("#status")
        assert "JSON" in page.text_content("#error-raw")  # the raw error, one click away
        page.select_option("#models", "1")  # flax_mlp float16 still works
        wait_state(page, "ready")


def test_a_two_input_export_self_checks_by_name_and_the_pad_leaves_it_alone(tmp_path, browser_page):
    """An export with two named inputs (an int32 and a bool) and int/float outputs: the page feeds
    golden.json by name (TF.js orders inputs alphabetically, so by position would swap them), checks
    every output, and says the pad cannot feed it instead of predicting garbage."""
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    params = {"emb": jnp.asarray(rng.standard_normal((8, 4)), jnp.float32)}

    def tagger(p, ids, keep):
        h = (p["emb"][ids] * keep[..., None]).sum(1)
        return {"score": h, "label": jnp.argmax(h, -1)}

    exports = tmp_path / "exports"
    to_tensorflowjs(
        tagger,
        params,
        input_spec=(jax.ShapeDtypeStruct((1, 5), jnp.int32), jax.ShapeDtypeStruct((1, 5), jnp.bool_)),
        out_dir=exports / "tagger" / "none",
        progress=False,
    )
    index = publish.rebuild(exports)
    assert [t["name"] for t in index["exports"][0]["signature"]["inputs"]] == ["ids", "keep"]
    with Server(exports) as url:
        page = browser_page
        page.goto(url + "/")
        wait_state(page, "ready")
        assert page.get_attribute("#selfcheck", "data-verdict") == "passed"
        assert float(page.get_attribute("#selfcheck", "data-max-abs-diff")) < 1e-4
        assert "only self-checks it against golden.json" in page.inner_text("#status")
        assert "ids" in page.inner_text("#status") and "keep" in page.inner_text("#status")
        # No samples.json here: its 404 is the one thing the browser may log.
        assert [p for p in page.problems if not p.startswith("Failed to load resource")] == []


def test_nginx_serves_the_right_types_and_headers(site):
    def head(path, gzip_ok=False):
        request = urllib.request.Request(
            site["url"] + path, headers={"Accept-Encoding": "gzip"} if gzip_ok else {}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers, b""

    status, headers, _ = head("/")
    assert status == 200 and "wasm-unsafe-eval" in headers["Content-Security-Policy"]
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    status, headers, _ = head("/vendor/tfjs-backend-wasm/tfjs-backend-wasm.wasm")
    assert status == 200 and headers["Content-Type"] == "application/wasm"
    status, headers, body = head("/models/index.json", gzip_ok=True)
    assert headers["Content-Encoding"] == "gzip" and json.loads(gzip.decompress(body))["exports"]
    status, headers, _ = head("/models/flax_cnn/none/group1-shard1of1.bin")
    assert status == 200 and headers["Content-Type"] == "application/octet-stream"
    status, headers, _ = head("/vendor/tfjs/tf.es2017.min.js")
    assert status == 200 and headers["Cache-Control"] == "public, max-age=86400"
    assert head("/models/flax_cnn/none/model.json")[1]["Cache-Control"] == "no-cache"
    # Only the allow-list answers: no listings, no package files (tests/convert_env/test_faults_web.py
    # holds the rest of the denials as fault cases).
    assert head("/models/")[0] == 404
    assert head("/js/")[0] == 404
    assert head("/node_modules/@tensorflow/tfjs/package.json")[0] == 404
