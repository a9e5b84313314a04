"""Verify exports from their folders alone: does TF.js compute what JAX computed, and what did
quantization cost?

Every export carries golden.json (inputs and JAX's outputs, written at conversion). Each export runs
in real TF.js on every backend (Node, cpu and wasm; one Node process per backend for all exports)
and is compared with golden.json under the shared rule (jax2tfjs.compare). When the export came from
a checkpoint and labelled test images are given, TF.js's (wasm) accuracy on them is compared with the
accuracy the checkpoint recorded (or, on part of the split, with the same model's unquantized
export on the same images). A SavedModel is checked only where the export kept one. Nothing is
re-lowered, and JAX does not run: the export is judged as shipped.

With `browser` backends (make verify BROWSER=1), each export also runs golden.json in headless
Chromium (jax2tfjs.browser: one browser for the whole job, webgl, wasm and cpu, webgpu where the
browser offers an adapter), timed and judged like a Node backend under its name `chromium-<backend>`:
a browser backend off the golden limit fails the row. The backend the demo's order (webgl → wasm →
cpu) lands on in that browser (what a user's page falls back to) is recorded in each row's `browser`.

Before any of that, the export's files are checked against the seal its report.json recorded at
conversion (jax2tfjs.hashing): a file changed since fails the row with ExportIntegrityError (J2T312)
and is not run. Exports converted before seals existed get a note, not a failure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jax2tfjs import compare, hashing, signature, tfjs_runtime
from jax2tfjs.browser import session as browser_session
from jax2tfjs.errors import ExportError, Jax2TfjsError
from jax2tfjs.export import golden as golden_file
from jax2tfjs.export import publish
from jax2tfjs.export.tfjs_convert import download_bytes
from jax2tfjs.signature import LEGACY_INPUT, Signature
from jax2tfjs.verify.tfjs_batch import ExportOutcome, ExportRuns, run_exports
from jax2tfjs.verify.thresholds import Thresholds

VERIFY_FILE = "verify.json"
SAVED_MODEL_DIR = "saved_model"
GOLDEN, TEST = "golden", "test"
# The test split runs on one backend: wasm, the one the demo page uses. Every backend runs golden.json,
# which shows they compute the same function; the cpu backend (a plain-JS reference) needs about a
# minute for 2,000 CNN inputs on 2 cores, which would be most of the job.
ACCURACY_BACKEND = "wasm"
# Timed runs per export in Chromium (median; 2 warm-ups first), at most: software GL and WebGPU are slow
# here (a CNN's golden.json: webgl ~0.3 s, webgpu ~1.3 s a run). The 12 demo exports on all four
# browser backends: 228 s at 10 runs each, 135 s at 5, against 21 s for Node's cpu and wasm alone.
BROWSER_REPEATS = 5


@dataclass(frozen=True)
class TestSplit:
    """Labelled test inputs, already shaped and scaled as the exports expect (float)."""

    images: np.ndarray
    labels: np.ndarray
    dataset_sha256: str | None = None
    whole: bool = True  # the whole split: the checkpoint's recorded accuracy is comparable


@dataclass(frozen=True)
class ExportInfo:
    """What an export folder says about itself (model.json's metadata, report.json as a fallback)."""

    folder: Path
    model: str
    quantization: str
    provenance: dict[str, Any]
    signature: Signature | None

    @property
    def input_shape(self) -> list[int | None] | None:
        """The shape of a one-input export's input (an image classifier's); None with several."""
        only = self.signature.only_input if self.signature else None
        return only.shape if only else None

    @property
    def checkpoint(self) -> str | None:
        return self.provenance.get("checkpoint")


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object of the export (publish.read_object), or ExportError naming the file."""
    try:
        return publish.read_object(path)
    except (OSError, ValueError) as err:
        raise ExportError(
            f"{path.name} is unreadable: {err}", fix="re-run `make convert` for this export", path=path.parent
        ) from None


def read_export(folder: Path) -> ExportInfo:
    if not (folder / "model.json").exists():
        raise ExportError("model.json is missing", fix="re-run `make convert` for this export", path=folder)
    meta = publish.jax2tfjs_metadata(_read_json(folder / "model.json"))
    report = _read_json(folder / "report.json") if (folder / "report.json").exists() else {}
    return ExportInfo(
        folder=folder,
        model=meta.get("model") or report.get("model") or folder.parent.name,
        quantization=meta.get("quantization") or report.get("quantization") or folder.name,
        provenance=meta.get("source") or report.get("provenance") or {},
        signature=signature.from_metadata(meta) or signature.from_metadata(report),
    )


def _check_seal(folder: Path) -> str | None:
    """ExportIntegrityError when a file differs from report.json's seal; the UNSEALED note when the
    export has no seal; None when every sealed file is intact."""
    report = _read_json(folder / "report.json") if (folder / "report.json").exists() else {}
    return hashing.check_seal(folder, report)


def _sizes(folder: Path) -> dict[str, int]:
    """What a browser downloads (model.json + shards), the shards alone, and the whole folder."""
    files = {p.name: p.stat().st_size for p in folder.iterdir() if p.is_file()}
    weights = sum(size for name, size in files.items() if name.endswith(".bin"))
    return {"model": download_bytes(files), "weights": weights, "total": sum(files.values())}


def _test_plan(info: ExportInfo, split: TestSplit | None) -> str | None:
    """Why the test split is not run on this export; None when it is."""
    if not info.checkpoint:
        return "not from a checkpoint: golden.json only"
    if split is None:
        return "no test data: golden.json only"
    if info.signature is not None and info.signature.only_input is None:
        return f"the export takes {len(info.signature.inputs)} inputs; test images feed one: golden.json only"
    if info.input_shape is not None and list(info.input_shape[1:]) != list(split.images.shape[1:]):
        return f"test images {list(split.images.shape[1:])} do not fit the input {info.input_shape}"
    return None


def _recorded_accuracy(info: ExportInfo, split: TestSplit) -> float | None:
    """The test accuracy the checkpoint recorded, when it was measured on exactly these images."""
    recorded = (info.provenance.get("metrics") or {}).get("test_accuracy")
    dataset = info.provenance.get("dataset") or {}
    same_data = split.dataset_sha256 is None or dataset.get("sha256") in (None, split.dataset_sha256)
    same_count = dataset.get("test_images") in (None, len(split.labels))
    return recorded if recorded is not None and split.whole and same_data and same_count else None


def _backend_result(
    outcome: ExportOutcome, golden_y: dict[str, np.ndarray], labels: np.ndarray | None
) -> dict[str, Any]:
    if outcome.error is not None:
        return {"error": f"TF.js could not run the model: {outcome.error}"}
    result = compare.compare_named(outcome.outputs[GOLDEN], golden_y).to_dict()
    result["load_ms"] = outcome.load_ms
    result["infer_ms_batch1"] = outcome.timings.get("1")
    result["infer_ms_batch32"] = outcome.timings.get("32")  # None with < 32 inputs
    if TEST in outcome.outputs and labels is not None:
        (logits,) = outcome.outputs[TEST].values()  # a classifier from a checkpoint: one output
        result["accuracy"] = compare.accuracy(logits, labels)
    return result


def _reference_accuracy(
    row: dict[str, Any], info: ExportInfo, split: TestSplit, rows: dict[str, dict]
) -> None:
    """Set each backend's accuracy drop against the checkpoint's recorded accuracy, or, on part of the
    split, against the same model's unquantized export on the same images (when that one passed)."""
    recorded = _recorded_accuracy(info, split)
    if recorded is not None:
        row["reference"] = {"accuracy": recorded, "source": "the checkpoint's recorded test accuracy"}
    elif info.quantization != "none":
        unquantized = rows.get(f"{info.folder.parent.name}/none")
        if unquantized is None or not unquantized.get("passed"):
            row["notes"].append(
                "accuracy not judged: no recorded accuracy for these images and no passing `none` export"
            )
            return
        baselines = [r["accuracy"] for r in unquantized["tfjs"].values() if "accuracy" in r]
        row["reference"] = {
            "accuracy": baselines[0] if baselines else None,
            "source": "the `none` export in TF.js on the same images",
        }
    else:
        row["notes"].append("accuracy not judged: the checkpoint recorded it on other images")
        return
    for backend, result in row["tfjs"].items():
        if "accuracy" not in result:
            continue
        baseline = recorded
        if baseline is None:
            baseline = rows[f"{info.folder.parent.name}/none"]["tfjs"].get(backend, {}).get("accuracy")
        if baseline is not None:
            result["accuracy_drop_points"] = compare.drop_points(baseline, result["accuracy"])


def _browser_result(
    outcome: browser_session.BrowserOutcome, golden_y: dict[str, np.ndarray]
) -> dict[str, Any]:
    if outcome.error is not None:
        return {"error": f"TF.js in Chromium could not run the model: {outcome.error}"}
    result = compare.compare_named(outcome.outputs[GOLDEN], golden_y).to_dict()
    result["load_ms"] = outcome.load_ms
    # Every golden.json row in one predict (the page's timing, warm-up first): not Node's batch 1.
    result["infer_ms_golden"] = outcome.predict_ms
    return result


def _run_in_browser(plans: list[_Planned], backends: tuple[str, ...], repeats: int) -> None:
    """golden.json of every planned export on each browser backend, one Chromium for all. A backend
    the browser does not offer (webgpu without an adapter) is a note, not a failure."""
    with browser_session.ChromiumSession(repeats=min(repeats, BROWSER_REPEATS)) as browser:
        offered = {key: browser.info.get(key) for key in ("default_backend", "webgpu", "tfjs_version")}
        print(f"[verify] Chromium: {offered}", flush=True)
        runs = [
            browser_session.BrowserRuns(plan.info.folder, {GOLDEN: plan.golden.inputs}, GOLDEN)
            for plan in plans
        ]
        for plan in plans:
            plan.row["browser"] = {**offered, "backends": list(backends), "skipped": {}}
        for backend in backends:
            name = browser_session.backend_name(backend)
            for plan, outcome in zip(plans, browser.run(backend, runs), strict=True):
                if outcome.skipped is not None:
                    plan.row["browser"]["skipped"][name] = outcome.skipped
                    plan.row["notes"].append(f"{name}: {outcome.skipped}")
                else:
                    plan.row["tfjs"][name] = _browser_result(outcome, plan.golden.outputs)


def _savedmodel_row(folder: Path, golden: golden_file.Golden) -> dict[str, Any]:
    # Imported here, not at the top: TensorFlow takes seconds to import and only exports that kept
    # their SavedModel need it.
    from jax2tfjs.export import savedmodel

    outputs = savedmodel.run_saved(folder / SAVED_MODEL_DIR, golden.inputs)
    return compare.compare_named(outputs, golden.outputs).to_dict()


def _row(folder: Path, model: str, quantization: str) -> dict[str, Any]:
    return {
        "export": f"{folder.parent.name}/{folder.name}",
        "model": model,
        "quantization": quantization,
        "samples": 0,
        "notes": [],
        "failures": [],
    }


def _unreadable_row(folder: Path, err: Jax2TfjsError) -> dict[str, Any]:
    """The row of an export whose files cannot be read: named by its folder, failed with the error."""
    row = _row(folder, folder.parent.name, folder.name)
    row["failures"].append(f"error {err.code}: {err.cause} (fix: {err.fix})")
    return row


@dataclass
class _Planned:
    row: dict[str, Any]
    info: ExportInfo
    golden: golden_file.Golden
    runs: ExportRuns


def _plan(folder: Path, split: TestSplit | None) -> _Planned:
    unsealed = _check_seal(folder)  # first: a tampered file is named, never run
    info = read_export(folder)
    golden = golden_file.read(folder)
    row = _row(folder, info.model, info.quantization)
    if unsealed:
        row["notes"].append(unsealed)
    row.update(checkpoint=info.checkpoint, bytes=_sizes(folder), golden_inputs=golden.rows, tfjs={})
    inputs = {GOLDEN: golden.inputs}
    skipped = _test_plan(info, split)
    if skipped is None:
        inputs[TEST] = {info.signature.inputs[0].name if info.signature else LEGACY_INPUT: split.images}
        row["samples"] = len(split.labels)
    else:
        row["notes"].append(skipped)
    return _Planned(row, info, golden, ExportRuns(folder, inputs, TEST if TEST in inputs else GOLDEN))


def _judge(plan: _Planned, split: TestSplit | None, thresholds: Thresholds, rows: dict[str, dict]) -> None:
    row, info = plan.row, plan.info
    if TEST in plan.runs.inputs:
        _reference_accuracy(row, info, split, rows)
    if (info.folder / SAVED_MODEL_DIR).is_dir():
        try:
            row["savedmodel"] = _savedmodel_row(info.folder, plan.golden)
        except Exception as err:  # TensorFlow's own errors have no common base worth naming
            row["failures"].append(f"SavedModel could not run: {type(err).__name__}: {str(err)[:300]}")
        else:
            if row["savedmodel"]["rel_err"] > thresholds.none_max_rel_err:
                row["failures"].append(
                    f"SavedModel: golden.json relative error {row['savedmodel']['rel_err']:.2e} > "
                    f"{thresholds.none_max_rel_err:g}"
                )
    row["failures"] += thresholds.check(info.quantization, row["tfjs"])
    row["passed"] = not row["failures"]


def _baselines(folders: list[Path], split: TestSplit | None) -> list[Path]:
    """On part of the split, quantized exports are judged against their model's `none` export on the
    same images: those not asked for are verified too (a row each)."""
    if split is None or split.whole:
        return []
    wanted = {folder.parent / "none" for folder in folders if folder.name != "none"}
    return sorted(f for f in wanted - set(folders) if (f / "model.json").exists())


def _checked_setup(backends: tuple[str, ...]) -> tuple[str, Path]:
    """The flags and the TF.js runtime, checked before any export is read: a bad flag or a missing
    runtime is the job's error (exit 2), not a failed row per export."""
    unknown = [b for b in backends if b not in tfjs_runtime.BACKENDS]
    if unknown or not backends:
        raise ExportError(
            f"unknown TF.js backend(s) {', '.join(unknown) or '(none given)'}",
            fix=f"pass --backends with one or more of {','.join(tfjs_runtime.BACKENDS)}",
        )
    return tfjs_runtime.check_setup()


def verify_exports(
    folders: list[Path],
    split: TestSplit | None,
    thresholds: Thresholds,
    backends: tuple[str, ...] = ("cpu", "wasm"),
    timing_repeats: int = 10,
    browser: tuple[str, ...] = (),
) -> list[dict[str, Any]]:
    """One row per folder (the caller writes each to folder/verify.json). A broken export is a failed
    row, never a traceback; a bad backend, a missing TF.js runtime or a Node process that dies raises
    ExportError; with `browser` backends, a missing or dead Chromium raises BrowserError."""
    setup = _checked_setup(backends)
    if browser:
        browser_session.check_setup(browser)
    rows: dict[str, dict[str, Any]] = {}
    plans: list[_Planned] = []
    for folder in [*folders, *_baselines(folders, split)]:
        try:
            plan = _plan(folder, split)
        except Jax2TfjsError as err:
            rows[f"{folder.parent.name}/{folder.name}"] = _unreadable_row(folder, err)
            continue
        rows[plan.row["export"]] = plan.row
        plans.append(plan)
    accuracy_backend = ACCURACY_BACKEND if ACCURACY_BACKEND in backends else backends[0]
    for backend in backends if plans else ():
        if backend == accuracy_backend:
            runs, batches = [plan.runs for plan in plans], (1, 32)
        else:  # golden.json only, timed at batch 1: see ACCURACY_BACKEND
            runs, batches = (
                [ExportRuns(plan.runs.folder, {GOLDEN: plan.golden.inputs}, GOLDEN) for plan in plans],
                (1,),
            )
        outcomes = run_exports(runs, backend, timing_batches=batches, repeats=timing_repeats, setup=setup)
        for plan, outcome in zip(plans, outcomes, strict=True):
            labels = split.labels if split is not None and TEST in outcome.outputs else None
            plan.row["tfjs"][backend] = _backend_result(outcome, plan.golden.outputs, labels)
    if browser and plans:
        _run_in_browser(plans, browser, timing_repeats)
    # `none` rows first: on part of the split, quantized rows are judged against them.
    for plan in sorted(plans, key=lambda plan: plan.info.quantization != "none"):
        _judge(plan, split, thresholds, rows)
    for row in rows.values():
        row["passed"] = not row["failures"]
        row["thresholds"] = asdict(thresholds)
    return list(rows.values())
