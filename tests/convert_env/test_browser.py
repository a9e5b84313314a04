"""Exports in headless Chromium (jax2tfjs.browser): golden parity and timings on webgl, wasm and cpu,
the backend a user's browser falls back to, WebGPU reported as not offered, a wrong golden.json
caught by the browser backends, the typed error without Chromium or Playwright, `verify --browser`
on an export, and the zoo with browser backends. Debian's chromium at /usr/bin/chromium (WebGL2 on
SwiftShader, no GPU needed)."""

from __future__ import annotations

import http.client
import json
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bench import zoo
from bench.zoo import runner as zoo_runner
from conftest import ROOT, run, venv_python
from jax2tfjs import compare, hashing
from jax2tfjs.api import to_tensorflowjs
from jax2tfjs.browser import chromium, serve, session
from jax2tfjs.browser.session import BrowserOutcome, BrowserRuns, ChromiumSession
from jax2tfjs.errors import BrowserError
from jax2tfjs.export import golden as golden_file
from jax2tfjs.verify.runner import verify_exports
from jax2tfjs.verify.thresholds import Thresholds

BACKENDS = ("webgl", "wasm", "cpu", "webgpu")
ZOO_MODELS = ["mlp_gelu_linen", "embed_bag_jax"]


class TinyCnn(nn.Module):
    """A conv, a dense layer and a softmax (kernels every backend implements its own way), and the top
    class as a second, int32 output: it must come back by name and exact, not as floats."""

    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(4, (3, 3))(x))
        probs = nn.softmax(nn.Dense(5)(x.reshape((x.shape[0], -1))))
        return {"probs": probs, "top": jnp.argmax(probs, axis=-1).astype(jnp.int32)}


@pytest.fixture(scope="module")
def export_root(tmp_path_factory):
    """exports/tiny/none: the tiny CNN converted as a user would, golden.json included."""
    root = tmp_path_factory.mktemp("browser-exports")
    module = TinyCnn()
    variables = module.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))
    spec = jax.ShapeDtypeStruct((1, 8, 8, 1), jnp.float32)
    to_tensorflowjs(module, variables, input_spec=spec, out_dir=root / "tiny" / "none", progress=False)
    return root


def _copy_export(export_root, tmp_path):
    import shutil

    shutil.copytree(export_root / "tiny", tmp_path / "tiny")
    return tmp_path / "tiny" / "none"


def test_an_export_matches_golden_on_webgl_wasm_and_cpu_with_timings(export_root):
    folder = export_root / "tiny" / "none"
    golden = golden_file.read(folder)
    runs = [BrowserRuns(folder, {"golden": golden.inputs}, "golden")]
    with ChromiumSession(repeats=3) as browser:
        # What a user's page gets from the demo's order (webgl, wasm, cpu) in this browser, and
        # WebGPU's software adapter (SwiftShader, under chromium.FLAGS).
        assert browser.info["default_backend"] == "webgl" and browser.info["webgl_version"] == 2
        assert browser.info["tfjs_version"] == "4.22.0"
        assert browser.info["webgpu"].startswith("offered: adapter"), browser.info
        for backend in BACKENDS:
            (outcome,) = browser.run(backend, runs)
            assert outcome.error is None and outcome.skipped is None, outcome
            assert compare.compare_named(outcome.outputs["golden"], golden.outputs).within(), backend
            assert outcome.outputs["golden"]["top"].dtype == np.int32
            assert outcome.load_ms > 0 and outcome.predict_ms > 0
        # A browser without an adapter: webgpu is reported, not run, and not an error.
        browser.info["webgpu"] = "not offered: navigator.gpu.requestAdapter() returned no adapter"
        (webgpu,) = browser.run("webgpu", runs)
        assert webgpu.skipped.startswith("not offered") and webgpu.error is None and not webgpu.outputs


# A browser without WebGL: every canvas, on screen or off, refuses a webgl context.
NO_WEBGL = """
for (const Canvas of [HTMLCanvasElement, OffscreenCanvas]) {
  const real = Canvas.prototype.getContext;
  Canvas.prototype.getContext = function (kind, ...rest) {
    return /webgl/.test(kind) ? null : real.call(this, kind, ...rest); // experimental-webgl too
  };
}
"""


def test_without_webgl_the_browser_falls_back_to_wasm(export_root):
    with ChromiumSession(init_script=NO_WEBGL) as browser:
        assert browser.info["default_backend"] == "wasm" and browser.info["webgl_version"] == 0
        (outcome,) = browser.run("webgl", [BrowserRuns(export_root / "tiny" / "none", {}, None)])
    assert "webgl failed to start" in outcome.error


def test_a_broken_export_is_an_outcome_and_the_next_one_still_runs(export_root, tmp_path):
    folder = export_root / "tiny" / "none"
    golden = golden_file.read(folder)
    missing = tmp_path / "gone"
    missing.mkdir()
    runs = [
        BrowserRuns(missing, {"golden": golden.inputs}, "golden"),
        BrowserRuns(folder, {"golden": {"wrong_name": golden.inputs["input"]}}, "golden"),
        BrowserRuns(folder, {"golden": golden.inputs}, "golden"),
    ]
    with ChromiumSession(repeats=1) as browser:
        gone, misnamed, fine = browser.run("wasm", runs)
    assert gone.error and misnamed.error and "wrong_name" in misnamed.error and "input" in misnamed.error
    assert fine.error is None and compare.compare_named(fine.outputs["golden"], golden.outputs).within()


def _reseal(folder):
    """report.json's seal updated to the files as they are: only the thresholds can catch them."""
    report = json.loads((folder / "report.json").read_text())
    report[hashing.SEAL_KEY] = hashing.file_seal(folder, report[hashing.SEAL_KEY])
    (folder / "report.json").write_text(json.dumps(report))


def test_a_wrong_golden_json_fails_the_browser_backends(export_root, tmp_path):
    folder = _copy_export(export_root, tmp_path)
    path = folder / "golden.json"
    golden = json.loads(path.read_text())
    probs = next(entry for entry in golden["outputs"] if entry["name"] == "probs")
    probs["values"][1] += 0.01
    path.write_text(json.dumps(golden))
    _reseal(folder)
    (row,) = verify_exports([folder], None, Thresholds(), ("cpu",), 1, browser=("webgl", "wasm"))
    assert not row["passed"]
    for name in ("cpu", "chromium-webgl", "chromium-wasm"):
        assert any(f.startswith(f"{name}: golden.json relative error") for f in row["failures"]), name
    assert row["tfjs"]["chromium-webgl"]["rel_err"] > 5e-3


def test_without_chromium_or_playwright_the_error_is_typed(monkeypatch, tmp_path):
    monkeypatch.setenv(chromium.CHROMIUM_ENV, str(tmp_path / "no-chromium"))
    with pytest.raises(BrowserError) as err, ChromiumSession():
        pass
    assert err.value.code == "J2T404" and "JAX2TFJS_CHROMIUM" in str(err.value)
    assert "apt-get install chromium" in err.value.fix
    monkeypatch.delenv(chromium.CHROMIUM_ENV)
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)  # import fails as if not installed
    with pytest.raises(BrowserError, match="Playwright is not installed"), ChromiumSession():
        pass
    monkeypatch.setattr(session, "PAGE_DIR", tmp_path)  # a wheel built without the page's files
    with pytest.raises(BrowserError, match=r"runner\.html, browser_runner\.js is missing"), ChromiumSession():
        pass


def test_the_server_serves_only_its_mounts(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "a.wasm").write_bytes(b"\0asm")
    (tmp_path / "secret.txt").write_text("no")
    with serve.serving() as server:
        server.mount("m", tmp_path / "shared")
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        answers = {}
        for url in ("/m/a.wasm", "/m/../secret.txt", "/m/%2e%2e/secret.txt", "/secret.txt"):
            conn.request("GET", url)
            response = conn.getresponse()
            answers[url] = (response.status, response.getheader("Content-Type"), response.read())
    assert answers["/m/a.wasm"] == (200, "application/wasm", b"\0asm")
    assert all(status == 404 for status, _, _ in list(answers.values())[1:]), answers


def test_leftover_profiles_of_dead_runs_are_removed(tmp_path):
    dead = tmp_path / "jax2tfjs-browser-999999999-abc"
    dead.mkdir()
    mine = tmp_path / "jax2tfjs-browser-1-other"  # pid 1 outlives any test: not an orphan
    mine.mkdir()
    assert chromium.remove_orphaned_profiles(tmp_path) == [dead]
    assert mine.exists() and not dead.exists()


def test_verify_with_browser_adds_chromium_backends_and_the_fallback(export_root, tmp_path):
    folder = _copy_export(export_root, tmp_path)
    proc = run(
        [
            venv_python("convert"),
            ROOT / "jobs/verify.py",
            f"--export_dir={tmp_path}",
            f"--data_dir={tmp_path / 'no-data'}",
            "--timing_repeats=2",
            "--browser",
        ]
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    row = json.loads((folder / "verify.json").read_text())
    assert row["passed"] and {f"chromium-{b}" for b in BACKENDS} <= set(row["tfjs"])
    for name in ("chromium-webgl", "chromium-wasm", "chromium-cpu", "chromium-webgpu"):
        assert row["tfjs"][name]["rel_err"] <= 1e-4 and row["tfjs"][name]["infer_ms_golden"] > 0
    assert row["browser"]["default_backend"] == "webgl" and row["browser"]["skipped"] == {}
    report = (tmp_path / "report.md").read_text()
    assert "falls back to" in report and "**webgl**" in report and "webgl " in report


def test_verify_browser_without_chromium_is_the_jobs_error(export_root, tmp_path, monkeypatch):
    _copy_export(export_root, tmp_path)
    monkeypatch.setenv(chromium.CHROMIUM_ENV, str(tmp_path / "no-chromium"))
    proc = run(
        [
            venv_python("convert"),
            ROOT / "jobs/verify.py",
            f"--export_dir={tmp_path}",
            f"--data_dir={tmp_path / 'no-data'}",
            "--browser=webgl",
        ]
    )
    assert proc.returncode == 2 and "J2T404" in proc.stdout + proc.stderr
    assert not (tmp_path / "tiny" / "none" / "verify.json").exists()


def test_the_zoo_runs_each_model_in_chromium_too(tmp_path):
    result = zoo_runner.run_zoo(zoo.select(ZOO_MODELS), tmp_path, ("wasm",), browser=("webgl", "wasm"))
    for row in result["rows"]:
        assert row["passed"], row.get("error_message")
        assert set(row["backends"]) == {"wasm", "chromium-webgl", "chromium-wasm"}
        assert row["backends"]["chromium-webgl"]["infer_ms"] > 0
    assert result["browser"]["default_backend"] == "webgl"
    assert result["summary"]["per_backend"]["chromium-webgl"] == {"ran": 2, "passed": 2}


def test_a_browser_backend_that_fails_fails_the_zoo_row(tmp_path, monkeypatch):
    real_run = ChromiumSession.run

    def webgl_breaks(self, backend, runs):
        if backend == "webgl":
            return [BrowserOutcome(r.folder, backend, error="kernel Foo is not registered") for r in runs]
        return real_run(self, backend, runs)

    monkeypatch.setattr(ChromiumSession, "run", webgl_breaks)
    result = zoo_runner.run_zoo(zoo.select(ZOO_MODELS[:1]), tmp_path, ("wasm",), browser=("webgl", "wasm"))
    (row,) = result["rows"]
    assert not row["passed"] and row["error"] == "tfjs-chromium-webgl"
    assert "kernel Foo" in row["error_message"] and row["backends"]["chromium-wasm"]["rel_err"] <= 1e-4
    assert result["summary"]["failed"] == ZOO_MODELS[:1]
    assert result["summary"]["per_backend"]["chromium-webgl"] == {"ran": 0, "passed": 0}
