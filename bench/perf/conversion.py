"""Conversion, side by side: ours vs the official `convert_jax` vs jax2onnx, each in a fresh process.

Every round runs each converter once on the same weights file, in a rotated order so that warm disk
caches and machine noise do not favour one; the figures are medians over rounds. Wall time and peak
RSS are the whole process's (imports included: that is what a user waits for), measured from outside.
"""

from __future__ import annotations

import shutil
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.perf import VENV
from bench.perf.child import run_python
from jax2tfjs import lean_imports
from jax2tfjs.errors import ExportError
from jax2tfjs.export import tfjs_convert


@dataclass(frozen=True)
class Converter:
    name: str
    label: str
    venv: str
    module: str
    extra_args: tuple[str, ...] = ()
    output: str = "tfjs"  # "tfjs" (a graph model folder) or "onnx" (model.onnx)


CONVERTERS = (
    Converter("ours", "jax2tfjs (ours, jax 0.10.2)", "convert", "bench.perf.convert_ours"),
    Converter(
        "official",
        "convert_jax (official, jax 0.4.30)",
        "official",
        "bench.perf.convert_official",
        ("1",),
    ),
    Converter(
        "jax2onnx",
        "jax2onnx → ONNX (jax 0.10.2)",
        "jax2onnx",
        "bench.perf.convert_jax2onnx",
        output="onnx",
    ),
)
# The official path cannot export a dynamic batch for TF.js (see convert_official.py), so the batch-32
# timings need a second, fixed-batch export; it is made once, outside the timed rounds.
OFFICIAL_BATCH32 = Converter(
    "official_b32", "convert_jax, batch 32", "official", "bench.perf.convert_official", ("32",)
)


def convert_once(converter: Converter, params_path: Path, out_dir: Path) -> dict[str, Any]:
    shutil.rmtree(out_dir, ignore_errors=True)
    run = run_python(
        VENV / converter.venv / "bin" / "python",
        ["-m", converter.module, str(params_path), str(out_dir), *converter.extra_args],
        what=f"{converter.label} conversion",
        # Ours runs as our convert job does (the Makefile and compose set this for every job).
        env={lean_imports.ENV: "1"} if converter.name == "ours" else None,
    )
    return {"wall_s": run.wall_s, "peak_rss_mb": run.peak_rss_mb, **run.result}


def _written(converter: Converter, out_dir: Path) -> dict[str, Any]:
    files = {p.name: p.stat().st_size for p in sorted(out_dir.iterdir()) if p.is_file()}
    if converter.output == "onnx":
        return {"files": files, "model_bytes": files["model.onnx"], "bytes_written": sum(files.values())}
    ops = tfjs_convert.graph_ops(out_dir / "model.json")
    model_bytes = tfjs_convert.download_bytes(files)
    return {
        "files": files,
        "model_bytes": model_bytes,
        "bytes_written": sum(files.values()),
        "ops": ops,
        "compute_ops": tfjs_convert.compute_op_count(ops),
    }


def _summary(converter: Converter, samples: list[dict[str, Any]], out_dir: Path) -> dict[str, Any]:
    written = _written(converter, out_dir)
    return {
        "converter": converter.name,
        "label": converter.label,
        "runs": len(samples),
        "wall_s": statistics.median(s["wall_s"] for s in samples),
        "import_s": statistics.median(s["import_s"] for s in samples),
        "convert_s": statistics.median(s["convert_s"] for s in samples),
        "peak_rss_mb": statistics.median(s["peak_rss_mb"] for s in samples),
        "wall_s_all": [round(s["wall_s"], 2) for s in samples],
        "peak_rss_mb_all": [round(s["peak_rss_mb"], 1) for s in samples],
        "batch": samples[-1]["batch"],
        "versions": samples[-1]["versions"],
        "model_bytes": written["model_bytes"],
        "bytes_written": written["bytes_written"],
        "files": written["files"],
        "ops": written.get("ops") or samples[-1].get("ops", {}),
        # TF.js: compute ops (Const, Placeholder, Identity excluded); ONNX: every node.
        "compute_ops": written.get("compute_ops", sum((samples[-1].get("ops") or {}).values())),
    }


def run(params_path: Path, work_dir: Path, rounds: int) -> dict[str, Any]:
    """Medians per converter. Ours failing stops the benchmark; another converter failing is a
    result (its row carries the error) and the rest goes on."""
    runs: dict[str, list[dict[str, Any]]] = {c.name: [] for c in CONVERTERS}
    errors: dict[str, str] = {}
    order = list(CONVERTERS)
    with tqdm(total=rounds * len(order) + 1, desc="[bench] conversions", unit="run") as bar:
        for _ in range(rounds):
            for converter in order:
                bar.update()
                if converter.name in errors:
                    continue
                try:
                    runs[converter.name].append(
                        convert_once(converter, params_path, work_dir / converter.name)
                    )
                except ExportError as err:
                    if converter.name == "ours":
                        raise
                    errors[converter.name] = err.cause
            order = order[1:] + order[:1]
        if "official" not in errors:
            try:
                convert_once(OFFICIAL_BATCH32, params_path, work_dir / OFFICIAL_BATCH32.name)
            except ExportError as err:
                errors[OFFICIAL_BATCH32.name] = err.cause
        bar.update()
    rows = [
        {"converter": c.name, "label": c.label, "error": errors[c.name]}
        if c.name in errors
        else _summary(c, runs[c.name], work_dir / c.name)
        for c in CONVERTERS
    ]
    ours = rows[0]
    for row in rows:
        if "error" not in row:
            row["wall_vs_ours"] = row["wall_s"] / ours["wall_s"]
            row["rss_vs_ours"] = row["peak_rss_mb"] / ours["peak_rss_mb"]
    return {
        "rounds": rounds,
        "rows": rows,
        "errors": errors,
        "dirs": {
            c.name: str(work_dir / c.name) for c in (*CONVERTERS, OFFICIAL_BATCH32) if c.name not in errors
        },
    }
