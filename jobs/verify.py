"""Verify job: `make verify [MODEL=] [QUANT=] [SAMPLES=]` → verify.json per export, exports/report.md + chart.

Every export is checked from its own folder (jax2tfjs.verify): TF.js on the cpu and wasm backends
(with BROWSER=1 also in headless Chromium: webgl, wasm, cpu, webgpu where offered) against its
golden.json, and, for exports of checkpoints, accuracy on the test split of volumes/data. MODEL and QUANT take comma lists (`MODEL=flax,mlp QUANT=none,uint8`). The job holds
the exports volume's lock to the end, so no convert replaces an export while it is read. Exits 4, naming the offending exports, when any export breaks its thresholds; exits 2
(before reading any export) for a bad flag or a missing TF.js runtime, and when Node dies mid-run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import fire
import numpy as np

from jax2tfjs import atomic
from jax2tfjs.browser.session import BACKENDS as BROWSER_BACKENDS
from jax2tfjs.compare import EXIT_THRESHOLDS_MISSED
from jax2tfjs.data import DATA_FILE, check_dataset, load_dataset
from jax2tfjs.errors import ExportError
from jax2tfjs.export import publish, swap
from jax2tfjs.export.tfjs_convert import QUANTIZATIONS
from jax2tfjs.jobargs import Arg, names, non_negative_number, optional_whole_number, whole_number
from jax2tfjs.jobkit import job_exit, run_job
from jax2tfjs.models import ALIASES, model_names
from jax2tfjs.verify import report as verify_report
from jax2tfjs.verify.runner import VERIFY_FILE, TestSplit, verify_exports
from jax2tfjs.verify.thresholds import Thresholds

MODEL = Arg("MODEL", "--model", "verify", "flax")
QUANT = Arg("QUANT", "--quantization", "verify", "uint8")
SAMPLES = Arg("SAMPLES", "--samples", "verify", "500")
TIMING_REPEATS = Arg(None, "--timing-repeats", "verify", "10")


def _test_split(data_dir: str, samples: int | None) -> tuple[TestSplit | None, tuple | None]:
    """The MNIST test split as the exports take it (uint8 / 255, float32), and the raw digits for
    samples.json; (None, None) with a note when there is no data."""
    manifest, reason = check_dataset(data_dir)
    if manifest is None:
        print(f"[verify] no test data ({reason}): checking golden.json only", flush=True)
        return None, None
    arrays, manifest = load_dataset(data_dir)
    total = len(arrays["y_test"])
    count = min(samples or total, total)  # samples is None (all) or ≥ 1, checked up front
    split = TestSplit(
        images=arrays["x_test"][:count].astype(np.float32) / 255.0,
        labels=arrays["y_test"][:count],
        dataset_sha256=manifest.get("sha256"),
        whole=count == total,
    )
    return split, (arrays["x_test"], arrays["y_test"])


def _rows_on_disk(root: Path) -> list[dict]:
    """Every export's verify.json for report.md. An unreadable one is left out with a warning (that
    export shows as unverified until verified again); one with missing or mistyped keys stays in,
    and verify_report.cleaned shows it failed, never passed. Never a crash of every later verify."""
    rows = []
    for folder in publish.export_folders(root):
        path = folder / VERIFY_FILE
        if not path.exists():
            continue
        try:
            row = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            print(
                f"[verify] warning: {path} is unreadable ({err}); run `make verify` for it", file=sys.stderr
            )
            continue
        if isinstance(row, dict):
            rows.append({**row, "export": str(folder.relative_to(root))})
    return rows


def _backends(value: str | list | tuple) -> tuple[str, ...]:
    """fire turns `--backends=cpu,wasm` into a tuple and `--backends=wasm` into a string."""
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


def _browser_backends(value: bool | str | list | tuple | None) -> tuple[str, ...]:
    """`--browser` alone: every browser backend (webgpu only where Chromium offers it); a list picks."""
    if value is None or value is False:
        return ()
    if value is True:
        return BROWSER_BACKENDS
    return _backends(value)


def main(
    model: str | None = None,
    quantization: str | None = None,
    samples: int | None = None,
    backends: str | tuple[str, ...] = "cpu,wasm",
    export_dir: str = "volumes/exports",
    data_dir: str = "volumes/data",
    none_max_rel_err: float = Thresholds.none_max_rel_err,
    none_min_agreement: float = Thresholds.none_min_agreement,
    none_max_drop_points: float = Thresholds.none_max_drop_points,
    float16_max_rel_err: float = Thresholds.float16_max_rel_err,
    float16_max_drop_points: float = Thresholds.float16_max_drop_points,
    uint16_max_rel_err: float = Thresholds.uint16_max_rel_err,
    uint16_max_drop_points: float = Thresholds.uint16_max_drop_points,
    uint8_max_rel_err: float = Thresholds.uint8_max_rel_err,
    uint8_max_drop_points: float = Thresholds.uint8_max_drop_points,
    timing_repeats: int = 10,
    browser: bool | str | tuple[str, ...] = False,
    memory_limit_gb: float | None = None,
) -> None:
    """Check every export (or MODEL/QUANT) in real TF.js against its golden.json and, for exports of
    checkpoints, its accuracy on the test split.

    Args:
      model: only this model's exports (jax_cnn, flax_cnn, flax_mlp or jax, flax, mlp).
      quantization: only this quantization.
      samples: use the first N test images, N ≥ 1 (default: the whole test split).
      backends: comma-separated TF.js backends (cpu, wasm).
      none_min_agreement, *_max_rel_err (golden.json, per quantization), *_max_drop_points
        (accuracy): thresholds, see jax2tfjs.verify.thresholds.
      timing_repeats: timed runs per batch size (median reported).
      browser: also run golden.json in headless Chromium (`make verify BROWSER=1`): `--browser` for
        webgl, wasm, cpu and webgpu where offered, or a comma list; each is judged like a Node backend.
    """
    limits = {
        "none_max_rel_err": none_max_rel_err,
        "none_min_agreement": none_min_agreement,
        "none_max_drop_points": none_max_drop_points,
        "float16_max_rel_err": float16_max_rel_err,
        "float16_max_drop_points": float16_max_drop_points,
        "uint16_max_rel_err": uint16_max_rel_err,
        "uint16_max_drop_points": uint16_max_drop_points,
        "uint8_max_rel_err": uint8_max_rel_err,
        "uint8_max_drop_points": uint8_max_drop_points,
    }
    root = Path(export_dir)
    with job_exit("verify"):
        models_asked = None if model is None else names(model, model_names(), MODEL, ALIASES)
        quants_asked = None if quantization is None else names(quantization, QUANTIZATIONS, QUANT)
        samples_asked = optional_whole_number(samples, SAMPLES)
        repeats = whole_number(timing_repeats, TIMING_REPEATS)
        thresholds = Thresholds(
            **{
                name: non_negative_number(
                    value, Arg(None, f"--{name}", "verify", str(getattr(Thresholds, name)))
                )
                for name, value in limits.items()
            }
        )
    partial = models_asked is not None or quants_asked is not None

    def work() -> dict:
        swap.repair(root)  # an export a killed convert left aside is put back before it is looked for
        folders = [
            folder
            for folder in publish.export_folders(root)
            if (models_asked is None or folder.parent.name in models_asked)
            and (quants_asked is None or folder.name in quants_asked)
        ]
        if not folders:
            raise ExportError(
                f"no exports{f' for {model}' if model else ''}{f' at {quantization}' if quantization else ''} under {root}",
                fix="run `make convert` (or `make convert-all`) first",
                path=root,
            )
        split, digits = _test_split(data_dir, samples_asked)
        on = [*_backends(backends), *(f"chromium-{b}" for b in _browser_backends(browser))]
        print(f"[verify] {len(folders)} exports on {','.join(on)} ...", flush=True)
        rows = verify_exports(
            folders, split, thresholds, _backends(backends), repeats, browser=_browser_backends(browser)
        )
        for row in rows:
            verdict = "pass" if row["passed"] else "FAIL " + "; ".join(row["failures"])
            print(f"[verify] {row['export']}: {verdict}", flush=True)
        return {"rows": rows, "digits": digits}

    def write_results(result: dict) -> None:
        """verify.json per export, report.md and the index, once the whole job's cost is known."""
        job = {key: result[key] for key in ("wall_s", "peak_rss_mb", "memory_limit_gb")}
        rows = [{**row, "job": job} for row in result["rows"]]
        result["rows"] = rows
        for row in rows:
            folder = root / row["export"]
            if folder.exists():
                atomic.write_json(folder / VERIFY_FILE, row)
        if partial:  # the summary covers every verified export
            verify_report.write(root, _rows_on_disk(root), job)
        else:
            verify_report.write(root, rows, job)
        publish.publish(
            root, result["digits"], samples_source=f"the test split of {Path(data_dir) / DATA_FILE}"
        )
        print((root / "report.md").read_text())

    result = run_job(
        "verify", work, memory_limit_gb=memory_limit_gb, report_path=None, hold=[root], after=write_results
    )
    failed = [row["export"] for row in result["rows"] if not row["passed"]]
    if failed:
        print(f"[verify] FAILED: {', '.join(failed)} broke their thresholds (see above)", file=sys.stderr)
        raise SystemExit(EXIT_THRESHOLDS_MISSED)


if __name__ == "__main__":
    fire.Fire(main)
