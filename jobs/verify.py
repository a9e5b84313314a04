"""Verify job: `make verify [MODEL=] [QUANT=]` → verify.json per export, exports/report.md + chart.

Exits 4, naming the offending exports, when any export breaks its thresholds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import fire
import numpy as np

from jax2tfjs import atomic
from jax2tfjs.data import load_dataset
from jax2tfjs.errors import ExportError
from jax2tfjs.export import publish as exports_index
from jax2tfjs.jobkit import run_job
from jax2tfjs.models import resolve_name
from jax2tfjs.verify import report as verify_report
from jax2tfjs.verify.runner import VERIFY_FILE, Thresholds, export_folders, verify_export

EXIT_THRESHOLDS_BROKEN = 4


def main(
    model: str | None = None,
    quantization: str | None = None,
    samples: int | None = None,
    backends: str = "cpu,wasm",
    export_dir: str = "volumes/exports",
    data_dir: str = "volumes/data",
    none_max_abs_diff: float = Thresholds.none_max_abs_diff,
    none_min_agreement: float = Thresholds.none_min_agreement,
    float16_max_drop_points: float = Thresholds.float16_max_drop_points,
    uint16_max_drop_points: float = Thresholds.uint16_max_drop_points,
    uint8_max_drop_points: float = Thresholds.uint8_max_drop_points,
    timing_repeats: int = 10,
    memory_limit_gb: float | None = None,
) -> None:
    """Check every export (or MODEL/QUANT) in real TF.js against JAX on the test split.

    Args:
      model: only this model's exports (jax_cnn, flax_cnn, flax_mlp or jax, flax, mlp).
      quantization: only this quantization.
      samples: use the first N test images (default: the whole test split).
      backends: comma-separated TF.js backends (cpu, wasm).
      none_max_abs_diff, none_min_agreement, *_max_drop_points: thresholds.
      timing_repeats: timed runs per batch size (median reported).
    """
    thresholds = Thresholds(
        none_max_abs_diff,
        none_min_agreement,
        float16_max_drop_points,
        uint16_max_drop_points,
        uint8_max_drop_points,
    )
    root = Path(export_dir)

    def work() -> dict:
        folders = export_folders(root, resolve_name(model) if model else None, quantization)
        if not folders:
            raise ExportError(
                f"no exports{f' for {model}' if model else ''}{f' at {quantization}' if quantization else ''} under {root}",
                fix="run `make convert` (or `make convert-all`) first",
                path=root,
            )
        arrays, _ = load_dataset(data_dir)
        count = samples or len(arrays["y_test"])
        images = arrays["x_test"][:count].astype(np.float32) / 255.0
        labels = arrays["y_test"][:count]
        rows = []
        for folder in folders:
            print(f"[verify] {folder.parent.name}/{folder.name} ...", flush=True)
            row = verify_export(
                folder, images, labels, thresholds, tuple(backends.split(",")), timing_repeats
            )
            if folder.exists():
                atomic.write_json(folder / VERIFY_FILE, row)
            rows.append(row)
            print(
                f"[verify] {row['export']}: {'pass' if row['passed'] else 'FAIL ' + '; '.join(row['failures'])}"
            )
        return {"rows": rows}

    result = run_job("verify", work, memory_limit_gb=memory_limit_gb, report_path=None)
    job = {key: result[key] for key in ("wall_s", "peak_rss_mb", "memory_limit_gb")}
    rows = [{**row, "job": job} for row in result["rows"]]
    for row in rows:  # each verify.json also records the whole job's cost (known only now)
        folder = root / row["export"]
        if folder.exists():
            atomic.write_json(folder / VERIFY_FILE, row)
    if model is None and quantization is None:
        verify_report.write(root, rows, job)
    else:  # a partial run: the summary covers every verified export on disk
        every = [
            json.loads((f / VERIFY_FILE).read_text())
            for f in export_folders(root)
            if (f / VERIFY_FILE).exists()
        ]
        verify_report.write(root, every, job)
    exports_index.rebuild(root)
    print((root / "report.md").read_text())
    failed = [row["export"] for row in rows if not row["passed"]]
    if failed:
        print(f"[verify] FAILED: {', '.join(failed)} broke their thresholds (see above)", file=sys.stderr)
        raise SystemExit(EXIT_THRESHOLDS_BROKEN)


if __name__ == "__main__":
    fire.Fire(main)
