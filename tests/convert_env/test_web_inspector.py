"""The model inspector (web/inspect.html) in a real browser: Debian's Chromium through Playwright,
served by web/serve.sh, on the demo's MNIST exports (the session fixture `site`) and on zoo exports
built here from the zoo's own registry; and the catalog it lists the zoo's exports from
(jax2tfjs.export.catalog)."""

from __future__ import annotations

import collections
import contextlib
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path

import jax
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from web_harness import CHROMIUM, OUTPUT, Server, collect_problems, wait_state

from bench import zoo
from bench.zoo.registry import InputSpec
from bench.zoo.runner import convert_entry
from conftest import ROOT
from jax2tfjs.browser.chromium import FLAGS
from jax2tfjs.export import catalog

# Small, fast zoo entries: an MLP, an image CNN with BatchNorm, two with two named inputs (float +
# bool keywords; float + a rank-0 scalar), int and bool outputs, and a while loop (executeAsync and a
# function library).
ZOO_ENTRIES = (
    "mlp_tanh_sigmoid_jax",
    "batchnorm_cnn_linen",
    "keyword_pooler_nnx",
    "temperature_scalar_jax",
    "classify_int_bool_jax",
    "fixed_point_while_jax",
)
MUST_PASS = ("webgl", "wasm", "cpu")
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
RUN_TOLERANCE = 1e-3  # the page's own limit for float32 exports (web/js/inspect/selfcheck.js)


@pytest.fixture(scope="module")
def zoo_exports(tmp_path_factory):
    """The zoo entries converted as `make zoo` converts them (golden.json on 2 random rows), the
    catalog written by catalog.write; {"dir", "built": {name: Built}}."""
    root = tmp_path_factory.mktemp("zoo")
    built = {}
    for name in ZOO_ENTRIES:
        entry = zoo.get(name)
        built[name] = entry.build(0)
        golden = entry.random_inputs(np.random.default_rng(0), 2)
        convert_entry(entry, built[name], root, golden_inputs=golden)
    catalog.write(root)
    return {"dir": root, "built": built}


@pytest.fixture(scope="module")
def driver() -> Iterator[Playwright]:
    """One Playwright driver for the module: its sync API allows one per thread, so the harness's
    per-test `browser()` cannot open a second one beside the shared page."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: apt-get install chromium (.ci/run installs it)")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def chromium(driver) -> Iterator[Browser]:
    """Chromium with the flags every browser check uses (WebGPU on SwiftShader's adapter)."""
    launched = driver.chromium.launch(executable_path=CHROMIUM, args=list(FLAGS), headless=True)
    yield launched
    launched.close()


@contextlib.contextmanager
def page_in(chromium: Browser, **context_options) -> Iterator[Page]:
    """A fresh context (its own cache and storage) and one page whose console errors and page
    errors are collected in `page.problems`, as web_harness.browser() does."""
    context = chromium.new_context(**context_options)
    page = collect_problems(context.new_page())
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="module")
def inspector(site, zoo_exports, chromium):
    """One server (the demo's exports at /models/, the zoo's at /zoo/) and one page on the
    inspector for most of the module."""
    with Server(site["exports"], zoo=zoo_exports["dir"]) as url, page_in(chromium) as page:
        page.goto(url + "/inspect.html")
        wait_state(page, "checked", 180_000)
        yield {"url": url, "page": page}


def open_export(page, label: str) -> None:
    page.select_option("#models", label=label)
    page.wait_for_selector(
        f"body[data-state='checked'][data-export='{label}']", state="attached", timeout=180_000
    )


def check_rows(page) -> dict[str, dict]:
    rows = {}
    for row in page.locator("#checks tr[data-backend]").all():
        rows[row.get_attribute("data-backend")] = {
            "status": row.get_attribute("data-status"),
            "rel_err": row.get_attribute("data-rel-err"),
            "ms": row.get_attribute("data-ms"),
            "note": row.locator("td.note").inner_text(),
        }
    return rows


def run_and_read(page) -> tuple[dict, dict]:
    """Press Run; the inputs the page fed and its outputs, by name."""
    runs = int(page.get_attribute("body", "data-runs") or 0)
    page.click("#run")
    page.wait_for_selector(f"body[data-runs='{runs + 1}']", state="attached", timeout=60_000)
    fed = json.loads(page.get_attribute("#outputs", "data-fed"))
    outputs = {}
    for row in page.locator("#outputs tr[data-name]").all():
        outputs[row.get_attribute("data-name")] = {
            "shape": json.loads(row.get_attribute("data-shape")),
            "dtype": row.get_attribute("data-dtype"),
            "values": json.loads(row.get_attribute("data-values")),
            "argmax": json.loads(row.get_attribute("data-argmax") or "null"),
        }
    return fed, outputs


def jax_outputs(name: str, built, fed: dict) -> list[np.ndarray]:
    """JAX's outputs for the inputs the page fed, paired with the export's output names."""
    entry = zoo.get(name)
    arrays = {k: np.asarray(v["values"], v["dtype"]).reshape(v["shape"]) for k, v in fed.items()}
    inputs = jax.tree.map(lambda s: arrays[s.name], entry.input, is_leaf=lambda s: isinstance(s, InputSpec))
    return [np.asarray(y) for y in jax.tree_util.tree_leaves(built.reference(inputs))]


def relative_error(want: np.ndarray, got: list) -> float:
    got = np.asarray(got, np.float64).reshape(want.shape)
    return float(
        np.max(np.abs(want.astype(np.float64) - got), initial=0.0)
        / max(1.0, np.max(np.abs(want), initial=0.0))
    )


# --- the catalog (pure Python) ---------------------------------------------------------------------


def _fake_export(folder: Path, shard_bytes: int = 12, signature: dict | None = None) -> None:
    folder.mkdir(parents=True)
    model = {
        "format": "graph-model",
        "modelTopology": {"node": [{"op": "Placeholder", "name": "x"}]},
        "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": []}],
        "signature": {
            "inputs": {
                "x": {
                    "name": "x:0",
                    "dtype": "DT_FLOAT",
                    "tensorShape": {"dim": [{"size": "-1"}, {"size": "3"}]},
                }
            },
            "outputs": {
                "y": {"name": "Identity:0", "dtype": "DT_INT32", "tensorShape": {"dim": [{"size": "-1"}]}}
            },
        },
    }
    (folder / "model.json").write_text(json.dumps(model))
    (folder / "group1-shard1of1.bin").write_bytes(b"\0" * shard_bytes)
    if signature is not None:
        (folder / "report.json").write_text(json.dumps({"signature": signature}))


def test_catalog_lists_nested_exports_skips_hidden_ones_and_writes_atomically(tmp_path, monkeypatch):
    ours = {"inputs": [{"name": "ids", "shape": [None, 8], "dtype": "int32"}], "outputs": []}
    _fake_export(tmp_path / "flat")
    _fake_export(tmp_path / "family" / "deep" / "none", signature=ours)
    (tmp_path / "family" / "deep" / "none" / "golden.json").write_text("{}")
    _fake_export(tmp_path / ".hidden" / "inside")
    _fake_export(tmp_path / "family" / ".none.old-123")
    _fake_export(tmp_path / "staging.42-ab.tmp")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model.json").write_text("{ not json")

    index = catalog.write(tmp_path)

    assert set(index) == {"format", "updated", "exports"}
    assert json.loads((tmp_path / "index.json").read_text()) == index
    by_name = {e["name"]: e for e in index["exports"]}
    assert sorted(by_name) == ["family/deep/none", "flat"]  # hidden, temporary and unreadable left out
    deep, flat = by_name["family/deep/none"], by_name["flat"]
    assert deep["model_json"] == "family/deep/none/model.json" and deep["has_golden"] is True
    assert deep["signature"] == ours  # report.json's first
    assert flat["has_golden"] is False
    # else model.json's own signature, in the same shape as jax2tfjs's
    assert flat["signature"] == {
        "inputs": [{"name": "x", "shape": [None, 3], "dtype": "float32"}],
        "outputs": [{"name": "y", "shape": [None], "dtype": "int32"}],
    }
    assert flat["total_bytes"] == (tmp_path / "flat" / "model.json").stat().st_size + 12
    assert flat["quantization"] == "none"

    # Atomic: a write that fails midway leaves the previous index whole and no temporary file.
    before = (tmp_path / "index.json").read_text()
    _fake_export(tmp_path / "later")
    monkeypatch.setenv("JAX2TFJS_FAULT_POINT", "atomic.written:EIO")
    with pytest.raises(OSError):
        catalog.write(tmp_path)
    assert (tmp_path / "index.json").read_text() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp") and p.is_file()] == []


def test_the_catalog_command_line_writes_the_index(tmp_path, capsys):
    _fake_export(tmp_path / "a" / "b")
    assert catalog.main([str(tmp_path)]) == 0
    assert "1 exports" in capsys.readouterr().out
    assert catalog.main([str(tmp_path / "missing")]) == 2


# --- the page ----------------------------------------------------------------------------------------


def test_every_demo_and_zoo_export_passes_its_self_check_on_every_backend(inspector, zoo_exports):
    page = inspector["page"]
    labels = page.locator("#models option").all_inner_texts()
    assert len(labels) == 6 + len(ZOO_ENTRIES), labels
    assert set(ZOO_ENTRIES) <= set(labels)
    timings = {}
    for label in labels:
        started = time.perf_counter()
        open_export(page, label)
        timings[label] = round(time.perf_counter() - started, 1)
        rows = check_rows(page)
        assert set(rows) == {"webgl", "webgpu", "wasm", "cpu"}, label
        for backend in MUST_PASS:
            assert rows[backend]["status"] == "pass", (label, backend, rows[backend])
            assert float(rows[backend]["ms"]) > 0
        # WebGPU: pass where the browser offers an adapter, else "not offered" with the reason.
        assert rows["webgpu"]["status"] in {"pass", "unavailable"}, (label, rows["webgpu"])
        if rows["webgpu"]["status"] == "unavailable":
            assert "not offered" in page.locator("#checks tr[data-backend=webgpu]").inner_text()
            assert rows["webgpu"]["note"]
    print(f"\nself-check seconds per export: {timings}")
    assert page.problems == []


def _ops_of(model: dict) -> dict[str, int]:
    """The op histogram from model.json: the graph's nodes and its function library's."""
    topology = model["modelTopology"]
    ops = collections.Counter(n["op"] for n in topology["node"])
    ops.update(n["op"] for f in topology.get("library", {}).get("function", []) for n in f.get("nodeDef", []))
    return dict(ops)


def _shown_ops(page) -> dict[str, int]:
    return {
        r.get_attribute("data-op"): int(r.get_attribute("data-count"))
        for r in page.locator("#ops tr[data-op]").all()
    }


def test_inputs_outputs_ops_and_size_match_model_json(inspector, zoo_exports):
    page = inspector["page"]
    name = "fixed_point_while_jax"  # a while loop (TF's v1 loop frame), two outputs, int32 and float32
    folder = zoo_exports["dir"] / name
    model = json.loads((folder / "model.json").read_text())
    open_export(page, name)

    signature = model["userDefinedMetadata"]["jax2tfjs"]["signature"]
    for kind in ("input", "output"):
        shown = [
            (
                r.get_attribute("data-name"),
                json.loads(r.get_attribute("data-shape")),
                r.get_attribute("data-dtype"),
            )
            for r in page.locator(f"#io tr[data-kind={kind}]").all()
        ]
        assert shown == [(t["name"], t["shape"], t["dtype"]) for t in signature[f"{kind}s"]]
    assert len(signature["outputs"]) == 2

    assert _shown_ops(page) == _ops_of(model)
    shards = [p for group in model["weightsManifest"] for p in group["paths"]]
    total = (folder / "model.json").stat().st_size + sum((folder / p).stat().st_size for p in shards)
    assert int(page.get_attribute("#size", "data-bytes")) == total
    assert page.get_attribute("#facts", "data-quantization") == "none"
    assert "graph-model" in page.inner_text("#facts")


def test_a_function_library_is_counted_and_runs_with_execute_async(tmp_path, zoo_exports, chromium):
    """Another converter's export may keep functions in model.json's library (a StatelessWhile's
    body): their ops count in the histogram, and TF.js then needs executeAsync, which the
    self-check must use. An unused function added to a zoo export stands in for one."""
    folder = tmp_path / "exports" / "with_library"
    source = zoo_exports["dir"] / "keyword_pooler_nnx"
    folder.mkdir(parents=True)
    for path in source.iterdir():
        (folder / path.name).write_bytes(path.read_bytes())
    model = json.loads((folder / "model.json").read_text())
    model["modelTopology"]["library"] = {
        "function": [
            {
                "signature": {
                    "name": "unused_body",
                    "inputArg": [{"name": "a", "type": "DT_FLOAT"}],
                    "outputArg": [{"name": "y", "type": "DT_FLOAT"}],
                },
                "nodeDef": [
                    {"name": "t", "op": "Tanh", "input": ["a"], "attr": {"T": {"type": "DT_FLOAT"}}},
                    {"name": "u", "op": "Softplus", "input": ["t:y:0"], "attr": {"T": {"type": "DT_FLOAT"}}},
                ],
                "ret": {"y": "u:y:0"},
            }
        ]
    }
    (folder / "model.json").write_text(json.dumps(model))
    with Server(tmp_path / "exports") as url, page_in(chromium) as page:
        page.goto(url + "/inspect.html?model=/models/with_library/model.json")
        wait_state(page, "checked")
        shown = _shown_ops(page)
        assert shown == _ops_of(model) and shown["Softplus"] == 1
        assert page.locator("#ops tr[data-op=Softplus] td").nth(2).inner_text() == "1"  # in functions
        for backend in MUST_PASS:
            assert check_rows(page)[backend]["status"] == "pass", backend
        # The index.json that is not there is the only thing the browser may log.
        assert [p for p in page.problems if not p.startswith("Failed to load resource")] == []


@pytest.mark.parametrize("name", ["keyword_pooler_nnx", "temperature_scalar_jax"])
def test_random_inputs_on_a_two_input_model_give_jaxs_outputs(inspector, zoo_exports, name):
    page = inspector["page"]
    open_export(page, name)
    assert page.locator("#inputs fieldset[data-input]").count() == 2
    fed, outputs = run_and_read(page)
    built = zoo_exports["built"][name]
    signature = json.loads((zoo_exports["dir"] / name / "report.json").read_text())["signature"]
    assert sorted(fed) == sorted(t["name"] for t in signature["inputs"])
    want = jax_outputs(name, built, fed)
    for tensor, expected in zip(signature["outputs"], want, strict=True):
        assert outputs[tensor["name"]]["shape"] == list(expected.shape)
        assert relative_error(expected, outputs[tensor["name"]]["values"]) <= RUN_TOLERANCE, tensor["name"]
    # Another seed gives other inputs; the same seed the same ones.
    page.fill("#seed", "7")
    fed_again, _ = run_and_read(page)
    assert fed_again != fed
    if name == "temperature_scalar_jax":
        # Typed numbers: a flat list fills the batch, a bare number feeds the rank-0 temperature.
        order = [page.locator("#inputs fieldset").nth(i).get_attribute("data-input") for i in range(2)]
        for i, input_name in enumerate(order):
            page.select_option(f"#in-{i}-mode", "numbers")
            page.fill(
                f"#in-{i}-text", "2.5" if input_name == "temperature" else "[0.1, -0.2, 0.3, 0.4, -0.5, 0.6]"
            )
        fed, outputs = run_and_read(page)
        assert fed["temperature"]["shape"] == [] and fed["x"]["shape"] == [1, 6]
        (probs,) = jax_outputs(name, built, fed)
        assert relative_error(probs, next(iter(outputs.values()))["values"]) <= RUN_TOLERANCE
        page.fill(f"#in-{order.index('x')}-text", "1, 2, 3")  # not a whole row of 6
        page.click("#run")
        page.wait_for_selector("#error:not([hidden])", state="attached")
        assert "input x" in page.inner_text("#error")


def _digit_png(samples: dict, index: int) -> bytes:
    pixels = np.asarray(samples["images"][index], np.uint8).reshape(28, 28)
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def test_an_uploaded_digit_is_predicted_by_the_mnist_cnn(inspector, site):
    page = inspector["page"]
    open_export(page, "flax_cnn · none")
    assert page.locator("#in-0-file").count() == 1  # [?, 28, 28, 1] float32: an image input
    samples = json.loads((site["exports"] / "samples.json").read_text())
    for index in range(3):
        runs = int(page.get_attribute("body", "data-runs") or 0)
        page.set_input_files(
            "#in-0-file",
            files=[
                {"name": f"digit{index}.png", "mimeType": "image/png", "buffer": _digit_png(samples, index)}
            ],
        )
        page.wait_for_selector(f"body[data-runs='{runs + 1}']", state="attached", timeout=60_000)
        argmax = json.loads(page.get_attribute("#outputs tr[data-name]", "data-argmax"))
        assert argmax == [site["expected"]["flax_cnn"][index]], index
    # Keyboard: the Run button answers Enter.
    runs = int(page.get_attribute("body", "data-runs"))
    page.focus("#run")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"body[data-runs='{runs + 1}']", state="attached")


def test_accessibility_and_screenshots(inspector, site, chromium):
    """axe-core's serious and critical rules at desktop and phone size (CSP bypassed only to inject
    axe), and the screenshots."""
    samples = json.loads((site["exports"] / "samples.json").read_text())
    OUTPUT.mkdir(parents=True, exist_ok=True)
    address = inspector["url"] + "/inspect.html?model=/models/flax_cnn/none/model.json"
    for size, viewport in {
        "desktop": {"width": 1280, "height": 800},
        "phone": {"width": 390, "height": 844},
    }.items():
        with page_in(chromium, bypass_csp=True, viewport=viewport) as page:
            page.goto(address)
            wait_state(page, "checked", 180_000)
            page.set_input_files(
                "#in-0-file",
                files=[{"name": "d.png", "mimeType": "image/png", "buffer": _digit_png(samples, 0)}],
            )
            page.wait_for_selector("body[data-runs='1']", state="attached", timeout=60_000)
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("axe.run()")
            bad = [
                (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
                for v in result["violations"]
                if v["impact"] in {"serious", "critical"}
            ]
            assert bad == [], size
            page.screenshot(path=str(OUTPUT / f"inspector-{size}.png"), full_page=True)
            assert page.problems == []


def test_a_backend_the_browser_cannot_start_is_not_offered_and_the_rest_still_check(inspector, driver):
    """Without the WebGPU flags Chromium offers no adapter here: webgpu reads "not offered" with the
    reason, the other backends still check, and the model still runs."""
    without_webgpu = [f for f in FLAGS if "webgpu" not in f]
    launched = driver.chromium.launch(executable_path=CHROMIUM, args=without_webgpu, headless=True)
    try:
        with page_in(launched) as page:
            page.goto(inspector["url"] + "/inspect.html?model=/zoo/temperature_scalar_jax/model.json")
            wait_state(page, "checked")
            rows = check_rows(page)
            assert rows["webgpu"]["status"] == "unavailable" and "WebGPU" in rows["webgpu"]["note"]
            assert "not offered" in page.locator("#checks tr[data-backend=webgpu]").inner_text()
            assert all(rows[b]["status"] == "pass" for b in MUST_PASS)
            assert "webgpu" not in page.locator("#run-backend option").all_inner_texts()
            run_and_read(page)
            assert page.problems == []
    finally:
        launched.close()


def test_missing_indexes_and_a_broken_export_are_explained(tmp_path, inspector):
    page = inspector["page"]
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "exports" / "broken"
    broken.mkdir(parents=True)
    (broken / "model.json").write_text("{ not json")
    with Server(empty) as url:
        page.goto(url + "/inspect.html")
        wait_state(page, "empty")
        assert "make convert" in page.inner_text("#status") and "make zoo" in page.inner_text("#status")
    with Server(tmp_path / "exports") as url:
        page.goto(url + "/inspect.html?model=/models/broken/model.json")
        wait_state(page, "broken")
        assert "Could not read" in page.inner_text("#error")
        page.click("#error summary")
        assert "not valid JSON" in page.inner_text("#error pre")
    # The missing indexes are 404s the browser logs; nothing else may go wrong.
    assert [p for p in page.problems if not p.startswith("Failed to load resource")] == []
