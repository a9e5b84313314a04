"""`make bench`: every benchmark of the issue in one run → bench/results.json, README.md, PNG charts.

Order: seed weights, conversion (ours / official / jax2onnx), inference (TF.js cpu + wasm,
onnxruntime-web), quantization, peak RSS of every job; the training-speed figures come from
bench/train_speed.json, which `make bench` writes just before in the train venv.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

from bench.perf import BENCH_NODE, conversion, inference, jobs_memory, quantization, report, seed
from jax2tfjs.errors import ExportError

INFERENCE_TARGET = 1.05  # ours may be at most 5 % slower than the official export


def _compare(target: str, ours: float, theirs: float | None, unit: str, limit: float) -> dict[str, Any]:
    """A target row; `met` is None (shown as n/a) when the official side has no figure to compare."""
    if theirs is None:
        return {
            "target": target,
            "measured": f"ours {ours:,.2f} {unit}; the official path has no figure here",
            "met": None,
        }
    ratio = ours / theirs
    digits = 0 if unit == "MB" else 2
    return {
        "target": target,
        "measured": f"{ours:,.{digits}f} vs {theirs:,.{digits}f} {unit} ({ratio:.2f}×)",
        "met": ratio <= limit,
    }


def _targets(conv: dict[str, Any], inf: dict[str, Any]) -> list[dict[str, Any]]:
    by_name = {row["converter"]: row for row in conv["rows"]}
    ours, official = by_name["ours"], by_name["official"]
    ok = "error" not in official
    targets = [
        _compare(
            "conversion wall time ≤ official's", ours["wall_s"], official["wall_s"] if ok else None, "s", 1.0
        ),
        _compare(
            "conversion peak RSS ≤ official's",
            ours["peak_rss_mb"],
            official["peak_rss_mb"] if ok else None,
            "MB",
            1.0,
        ),
    ]
    rows = {(r["export"], r["backend"]): r for r in inf["rows"] if r["runtime"] == "TF.js"}
    for backend in ("cpu", "wasm"):
        mine, theirs = rows.get(("ours", backend)), rows.get(("official", backend))
        for batch in inference.BATCHES:
            key = f"batch{batch}_ms"
            target = f"TF.js {backend} batch {batch}: ours ≤ {INFERENCE_TARGET:g} × official"
            if mine is None or "error" in mine:
                error = mine.get("error") if mine else "not run"
                targets.append({"target": target, "measured": f"ours failed: {error}", "met": False})
            else:
                other = theirs.get(key) if theirs and "error" not in theirs else None
                targets.append(_compare(target, mine[key], other, "ms", INFERENCE_TARGET))
    return targets


def _findings(conv: dict[str, Any], inf: dict[str, Any]) -> list[str]:
    """Plain statements of where the official path (or jax2onnx) does better, and what it cannot do."""
    by_name = {row["converter"]: row for row in conv["rows"]}
    ours = by_name["ours"]
    notes = []
    for name, who in (("official", "The official path"), ("jax2onnx", "jax2onnx")):
        other = by_name[name]
        if "error" in other:
            notes.append(f"{who} failed to convert the seed CNN: {other['error']}")
            continue
        for key, what, unit, digits in (
            ("wall_s", "the whole conversion process", "s", 2),
            ("import_s", "imports", "s", 2),
            ("convert_s", "the converter call", "s", 2),
            ("peak_rss_mb", "peak RSS", "MB", 0),
            ("model_bytes", "model size", "bytes", 0),
        ):
            theirs_text, ours_text = f"{other[key]:,.{digits}f}", f"{ours[key]:,.{digits}f}"
            if other[key] < ours[key] and theirs_text != ours_text:  # equal when rounded: a tie
                notes.append(f"{who} wins on {what}: {theirs_text} {unit} vs ours {ours_text} {unit}.")
    rows = {(r["export"], r["runtime"], r["backend"]): r for r in inf["rows"]}
    for backend in ("cpu", "wasm"):
        mine, theirs = rows.get(("ours", "TF.js", backend)), rows.get(("official", "TF.js", backend))
        if theirs and "error" in theirs:
            notes.append(f"The official export cannot run on TF.js {backend}: {theirs['error']}")
        elif mine and theirs and "error" not in mine:
            for batch in inference.BATCHES:
                key = f"batch{batch}_ms"
                if theirs[key] < mine[key]:
                    notes.append(
                        f"The official export is faster on TF.js {backend} at batch {batch}: "
                        f"{theirs[key]:.2f} ms vs ours {mine[key]:.2f} ms."
                    )
    ort = rows.get(("jax2onnx", "onnxruntime-web", "wasm"))
    ours_wasm = rows.get(("ours", "TF.js", "wasm"))
    if ort and ours_wasm and "error" not in ort and "error" not in ours_wasm:
        for batch in inference.BATCHES:
            key = f"batch{batch}_ms"
            if ort[key] < ours_wasm[key]:
                notes.append(
                    f"onnxruntime-web runs the jax2onnx export faster than TF.js wasm runs ours at batch {batch}: "
                    f"{ort[key]:.2f} ms vs {ours_wasm[key]:.2f} ms."
                )
    notes.append(
        "The official path needs jax ≤ 0.4.30 and exports a fixed batch only: with a symbolic batch, jax2tf "
        "adds a shape Assert and Switch/Merge ops that the tfjs converter refuses. Ours runs on jax "
        f"{ours['versions']['jax']} with a dynamic batch."
    )
    return notes


def run(
    out_dir: Path,
    checkpoint_dir: str,
    data_dir: str,
    conversion_rounds: int,
    inference_rounds: int,
    repeats: int,
) -> dict[str, Any]:
    train_file = out_dir / "train_speed.json"
    if not train_file.exists():
        raise ExportError(
            f"{train_file} is missing", fix="run `make bench` (it writes it first, in .venv/train)"
        )
    work = out_dir / "work"
    shutil.rmtree(work, ignore_errors=True)
    started = time.time()
    seeded = seed.prepare(checkpoint_dir, data_dir, work)
    conv = conversion.run(seeded.params_path, work / "convert", conversion_rounds)
    inf = inference.run(
        conv["dirs"], seeded.images, seeded.labels, seeded.jax_logits, inference_rounds, repeats
    )
    quant = quantization.run(
        seeded.params_path,
        work / "quant",
        seeded.images,
        seeded.labels,
        seeded.jax_logits,
        inference_rounds,
        repeats,
    )
    jobs = jobs_memory.run(Path(data_dir), work / "volumes")
    versions = {row["converter"]: row["versions"] for row in conv["rows"]}
    ort_version = json.loads((BENCH_NODE / "package.json").read_text())["dependencies"]["onnxruntime-web"]
    results = {
        "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, no GPU used",
        "wall_s": round(time.time() - started, 1),
        "versions": {"onnxruntime-web": ort_version, **{k: v for k, v in versions.items() if v}},
        "seed": {
            "model": seed.SEED_MODEL,
            "checkpoint": seeded.checkpoint,
            "test_accuracy": seeded.test_accuracy,
        },
        "conversion": conv,
        "inference": inf,
        "quantization": quant,
        "training": json.loads(train_file.read_text()),
        "jobs_memory": jobs,
        "targets": _targets(conv, inf),
        "findings": _findings(conv, inf),
    }
    # The zoo section (`zoo-ops`, which `make bench` runs next) is kept until it is measured again;
    # it carries its own date.
    previous = out_dir / "results.json"
    if previous.exists() and "zoo_ops" in (kept := json.loads(previous.read_text())):
        results["zoo_ops"] = kept["zoo_ops"]
    report.write(results, out_dir)
    shutil.rmtree(work, ignore_errors=True)
    return results


def rerender(out_dir: Path) -> dict[str, Any]:
    """README.md and the charts again from results.json (targets and findings recomputed), without
    measuring anything: for a change to the report's wording or layout."""
    path = out_dir / "results.json"
    if not path.exists():
        raise ExportError(f"{path} is missing", fix="run `make bench` first")
    results = json.loads(path.read_text())
    results["targets"] = _targets(results["conversion"], results["inference"])
    results["findings"] = _findings(results["conversion"], results["inference"])
    if "zoo_ops" in results:
        from bench.perf import zoo_ops

        zoo = results["zoo_ops"]
        zoo["summary"], zoo["misses"] = zoo_ops.summarize(zoo["rows"]), zoo_ops.misses(zoo["rows"])
    report.write(results, out_dir)
    return results
