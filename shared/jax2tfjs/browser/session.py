"""One headless Chromium for a whole check: run exports on its TF.js backends, get outputs and times.

`ChromiumSession` starts the localhost server (serve), launches Chromium once (chromium) and opens
a probe page that records what this browser offers before any backend is chosen: the backend the
demo's order (webgl → wasm → cpu) lands on (what a user's page gets) and whether WebGPU has an adapter.
`run` then puts a list of exports through one backend on that backend's page (kept for the session,
replaced after a crash), export by export; an export that fails is an outcome with its error, never
the end of the session. Outputs come back by the export's output names,
in the dtype TF.js gave them, for the caller to compare (jax2tfjs.compare) like the Node runners'.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jax2tfjs import tfjs_runtime
from jax2tfjs.browser import chromium
from jax2tfjs.browser.serve import serving
from jax2tfjs.errors import BrowserError

PAGE_DIR = Path(__file__).parent
PAGE_FILES = ("runner.html", "browser_runner.js")  # package data, beside this module
BACKENDS = ("webgl", "wasm", "cpu", "webgpu")
NAME_PREFIX = "chromium-"  # how reports name a browser backend: chromium-webgl
# Where the Node runtime (tfjs_runtime.node_runtime_dir) keeps the browser bundles the page loads.
RUNTIME_FILES = {
    "tfjs": ("@tensorflow/tfjs/dist", "tf.min.js"),
    "wasm": ("@tensorflow/tfjs-backend-wasm/dist", "tf-backend-wasm.min.js"),
    "webgpu": ("@tensorflow/tfjs-backend-webgpu/dist", "tf-backend-webgpu.min.js"),
}
# The page's own limit per export (load, golden run, timing); Node's verify allows 120 s an export.
EXPORT_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class BrowserRuns:
    """The runs to put through one export, as tfjs_batch.ExportRuns: `inputs` maps each run's name to
    its inputs by the export's input names; `timed` names the run whose inputs are timed."""

    folder: Path
    inputs: dict[str, dict[str, np.ndarray]]
    timed: str | None = None


@dataclass
class BrowserOutcome:
    """One export on one backend: per run name its outputs by name, or the error that stopped it, or
    `skipped` (the backend is not offered here: not a failure of the export)."""

    folder: Path
    backend: str
    outputs: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    load_ms: float | None = None
    predict_ms: float | None = None
    error: str | None = None
    skipped: str | None = None


def backend_name(backend: str) -> str:
    return NAME_PREFIX + backend


def check_backends(backends: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """`backends` when each is a browser backend, else BrowserError naming the known ones."""
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown or not backends:
        raise BrowserError(
            f"unknown browser backend(s) {', '.join(unknown) or '(none given)'}",
            fix=f"use one or more of {','.join(BACKENDS)}",
        )
    return tuple(backends)


def _runtime_mounts() -> dict[str, Path]:
    missing = [name for name in PAGE_FILES if not (PAGE_DIR / name).is_file()]
    if missing:
        raise BrowserError(
            f"the browser runner's {', '.join(missing)} is missing from the installed package ({PAGE_DIR})",
            fix="reinstall jax2tfjs from a wheel that carries its package data (jax2tfjs/browser/*.html, *.js)",
            path=PAGE_DIR,
        )
    runtime = tfjs_runtime.node_runtime_dir()
    mounts = {}
    for name, (folder, bundle) in RUNTIME_FILES.items():
        dist = runtime / "node_modules" / folder
        if not (dist / bundle).is_file():
            raise BrowserError(
                f"the TF.js browser bundle {dist / bundle} is missing from the Node runtime {runtime}",
                fix="`make setup` (or `python -m jax2tfjs.tfjs_runtime DIR` and JAX2TFJS_NODE_RUNTIME=DIR)",
                path=runtime,
            )
        mounts[f"runtime/{name}"] = dist
    return mounts


def check_setup(backends: tuple[str, ...] | list[str]) -> None:
    """The backends, the TF.js bundles, Chromium and Playwright, checked before a job's long part:
    a browser check that cannot run fails up front (BrowserError), not after the Node runs."""
    check_backends(backends)
    _runtime_mounts()
    chromium.chromium_path()
    chromium.sync_playwright()


def _wire_outputs(entries: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    return {
        entry["name"]: np.asarray(entry["values"], dtype=tfjs_runtime.WIRE_DTYPES[entry["dtype"]]).reshape(
            entry["shape"]
        )
        for entry in entries
    }


class ChromiumSession:
    """`with ChromiumSession() as browser: browser.run("webgl", runs)`; `browser.info` says what the
    browser offered (default_backend, webgpu, tfjs_version, user_agent, flags)."""

    def __init__(
        self,
        *,
        warmup: int = 2,
        repeats: int = 5,
        export_timeout_s: float = EXPORT_TIMEOUT_S,
        flags: tuple[str, ...] = chromium.FLAGS,
        init_script: str | None = None,
    ):
        self.warmup, self.repeats, self.export_timeout_s = warmup, repeats, export_timeout_s
        self.flags = flags
        # JS each page runs before its own: a test hides WebGL with it to see the fallback move.
        # (--disable-webgl or --disable-3d-apis cannot: measured on Chromium 156, they turn off a DOM
        # canvas's WebGL, but an OffscreenCanvas, which TF.js prefers, still gives WebGL2.)
        self.init_script = init_script
        self.info: dict[str, Any] = {}
        self._stack = contextlib.ExitStack()
        self._exports = 0
        self._pages: dict[str, Any] = {}  # backend → its page, kept across run() calls (the zoo's)
        self._inputs = 0  # input files written: each gets a new name, never a stale one

    def __enter__(self) -> ChromiumSession:
        mounts = _runtime_mounts()  # checked before a browser starts
        executable = chromium.chromium_path()
        try:
            self._data = self._stack.enter_context(chromium.temp_dir())
            profile = self._stack.enter_context(chromium.temp_dir())
            self._server = self._stack.enter_context(serving())
            for prefix, folder in {**mounts, "page": PAGE_DIR, "data": self._data}.items():
                self._server.mount(prefix, folder)
            playwright = self._stack.enter_context(chromium.sync_playwright())
            self._context = chromium.launch(playwright, profile, executable, self.flags)
            self._stack.callback(self._context.close)
            if self.init_script:
                self._context.add_init_script(self.init_script)
            page = self._page()
            try:
                self.info = {**page.evaluate("() => jax2tfjsBrowser.probe()"), "flags": list(self.flags)}
            finally:
                page.close()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _backend_page(self, backend: str) -> Any:
        """The page running `backend`, opened and started on first use (or after a crash)."""
        if backend not in self._pages:
            page = self._page()
            try:
                page.evaluate("(b) => jax2tfjsBrowser.start(b)", backend)
            except BaseException:
                page.close()
                raise
            self._pages[backend] = page
        return self._pages[backend]

    def _drop_page(self, backend: str) -> None:
        page = self._pages.pop(backend, None)
        if page is not None:
            with contextlib.suppress(Exception):  # a crashed page may refuse to close
                page.close()

    def _page(self) -> Any:
        page = self._context.new_page()
        try:
            page.goto(f"{self._server.base_url}/page/runner.html")
            page.wait_for_function("() => window.jax2tfjsBrowser !== undefined")
        except Exception as err:  # Playwright's Error or TimeoutError
            page.close()
            raise BrowserError(
                f"the runner page did not load in Chromium: {str(err).splitlines()[0][:300]}",
                fix="a bug in jax2tfjs/browser (runner.html, browser_runner.js); please report it",
            ) from None
        return page

    def _not_offered(self, backend: str) -> str | None:
        """Why `backend` cannot run in this browser at all (webgpu without an adapter); None when it
        can be tried."""
        offered = str(self.info.get("webgpu") or "not offered")
        return offered if backend == "webgpu" and not offered.startswith("offered") else None

    def _spec(self, run: BrowserRuns, written: dict[int, dict[str, Any]]) -> dict[str, Any]:
        """The export's request: its folder mounted at /exports/<n>/, each distinct input array
        written once per run() under /data/ (keyed by id(): the arrays live as long as the call)."""
        self._exports += 1
        model_url = self._server.mount(f"exports/{self._exports}", run.folder) + "model.json"
        runs = []
        for run_name, named in run.inputs.items():
            inputs = []
            for name, values in named.items():
                if id(values) not in written:
                    self._inputs += 1
                    file = f"input-{self._inputs}.bin"
                    entry = tfjs_runtime.write_input(self._data / file, values)
                    written[id(values)] = {
                        "url": f"/data/{file}",
                        "shape": entry["shape"],
                        "dtype": entry["dtype"],
                    }
                inputs.append({"name": name, **written[id(values)]})
            runs.append({"name": run_name, "inputs": inputs})
        return {"model_url": model_url, "runs": runs, "timed_run": run.timed}

    def run(self, backend: str, runs: list[BrowserRuns]) -> list[BrowserOutcome]:
        """One outcome per export, in order, all on `backend`'s page. An export that crashes the page
        (or a backend that will not start) is that export's error; the next export gets a new page."""
        check_backends((backend,))
        why_not = self._not_offered(backend)
        if why_not is not None:
            return [BrowserOutcome(run.folder, backend, skipped=why_not) for run in runs]
        request = {"warmup": self.warmup, "repeats": self.repeats, "timeout_ms": self.export_timeout_s * 1000}
        outcomes: list[BrowserOutcome] = []
        written: dict[int, dict[str, Any]] = {}
        for run in runs:
            try:
                found = self._backend_page(backend).evaluate(
                    "([spec, request]) => jax2tfjsBrowser.run(spec, request)",
                    [self._spec(run, written), request],
                )
            except BrowserError:
                raise
            except Exception as err:  # Playwright's Error: the backend refused to start, or a crash
                self._drop_page(backend)
                message = str(err).splitlines()[0][:300]
                outcomes.append(BrowserOutcome(run.folder, backend, error=f"Chromium: {message}"))
                continue
            outcomes.append(self._outcome(run, backend, found))
        return outcomes

    @staticmethod
    def _outcome(run: BrowserRuns, backend: str, found: dict[str, Any]) -> BrowserOutcome:
        if "error" in found:
            return BrowserOutcome(run.folder, backend, error=found["error"])
        try:
            outputs = {name: _wire_outputs(entry["outputs"]) for name, entry in found["runs"].items()}
        except (KeyError, TypeError, ValueError) as err:
            return BrowserOutcome(run.folder, backend, error=f"the page answered unreadable outputs: {err}")
        return BrowserOutcome(run.folder, backend, outputs, found["load_ms"], found.get("predict_ms"))
