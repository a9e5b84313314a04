"""Inference, side by side in Node: our TF.js export vs the official one (cpu and wasm backends), and
the jax2onnx export in onnxruntime-web (wasm), at batch 1 and 32.

Each round starts one fresh Node process per (export, backend), in an order rotated every round, and takes
the runner's median over `repeats` predictions; the figure reported is the median over rounds. Parity
is each export's outputs on the same test digits against JAX's logits. A backend that cannot run an
export is a result, not a crash: its error is recorded (the official export trips the wasm backend).
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from bench.perf.onnx_runtime import run_in_onnxruntime_web
from jax2tfjs import compare
from jax2tfjs.errors import ExportError
from jax2tfjs.tfjs_runtime import BACKENDS, run_in_tfjs

BATCHES = (1, 32)


def _parity(outputs: np.ndarray, reference: np.ndarray) -> dict[str, float | None]:
    scores = compare.compare(outputs, reference)
    return {
        "max_abs_diff_vs_jax": scores.max_abs_diff,
        "argmax_agreement_vs_jax": scores.argmax_agreement,
    }


def _tfjs(model_dir: Path, x: np.ndarray, backend: str, batches: tuple[int, ...], repeats: int):
    return run_in_tfjs(model_dir, x, backend, timing_batches=batches, warmup=5, repeats=repeats)


def _collect(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Median over rounds of each timing; the first round's outputs carry the parity."""
    merged: dict[str, Any] = {
        "rounds": len(samples),
        "load_ms": statistics.median(s["load_ms"] for s in samples),
    }
    for batch in BATCHES:
        values = [s["timings"][str(batch)] for s in samples if str(batch) in s["timings"]]
        merged[f"batch{batch}_ms"] = statistics.median(values) if values else None
    return merged


def run(
    dirs: dict[str, str],
    images: np.ndarray,
    labels: np.ndarray,
    jax_logits: np.ndarray,
    rounds: int,
    repeats: int,
) -> dict[str, Any]:
    x, reference = images[:32], jax_logits[:32]
    # (row name, runtime, backend, how to run one round) — the official exports are fixed-batch.
    plans: list[tuple[str, str, str, Any]] = []
    for backend in BACKENDS:
        plans.append(
            ("ours", "TF.js", backend, lambda b=backend: [_tfjs(Path(dirs["ours"]), x, b, BATCHES, repeats)])
        )
        plans.append(
            (
                "official",
                "TF.js",
                backend,
                lambda b=backend: [
                    _tfjs(Path(dirs["official"]), x[:1], b, (1,), repeats),
                    _tfjs(Path(dirs["official_b32"]), x, b, (32,), repeats),
                ],
            )
        )
    plans.append(
        (
            "jax2onnx",
            "onnxruntime-web",
            "wasm",
            lambda: [
                run_in_onnxruntime_web(
                    Path(dirs["jax2onnx"]) / "model.onnx",
                    x,
                    timing_batches=BATCHES,
                    warmup=5,
                    repeats=repeats,
                )
            ],
        )
    )
    samples: dict[int, list[dict[str, Any]]] = {i: [] for i in range(len(plans))}
    outputs: dict[int, np.ndarray] = {}
    needs = {"ours": ("ours",), "official": ("official", "official_b32"), "jax2onnx": ("jax2onnx",)}
    errors: dict[int, str] = {
        i: "no export to run: its conversion failed (see the conversion table)"
        for i, plan in enumerate(plans)
        if any(name not in dirs for name in needs[plan[0]])
    }
    order = list(range(len(plans)))
    with tqdm(total=rounds * len(plans), desc="[bench] inference", unit="run") as bar:
        for _ in range(rounds):
            order = order[1:] + order[:1]  # a different export goes first each round
            for i in order:
                run_round = plans[i][3]
                bar.update()
                if i in errors:
                    continue
                try:
                    results = run_round()
                except ExportError as err:
                    errors[i] = err.cause
                    continue
                info = {"load_ms": results[0][1]["load_ms"], "timings": {}}
                for _, part in results:
                    info["timings"].update(part["timings"])
                samples[i].append(info)
                outputs.setdefault(i, results[-1][0])
    rows = []
    for i, (name, runtime, backend, _) in enumerate(plans):
        row: dict[str, Any] = {"export": name, "runtime": runtime, "backend": backend}
        if i in errors:
            row["error"] = errors[i]
        else:
            row.update(_collect(samples[i]))
            row.update(_parity(outputs[i], reference))
        rows.append(row)
    agreement = {}
    ours_out = {plans[i][2]: outputs[i] for i in outputs if plans[i][0] == "ours"}
    for i in outputs:
        name, _, backend, _ = plans[i]
        if name == "official" and backend in ours_out:
            scores = compare.compare(outputs[i], ours_out[backend])
            agreement[backend] = {
                "max_abs_diff": scores.max_abs_diff,
                "argmax_agreement": scores.argmax_agreement,
            }
    return {
        "samples": len(x),
        "rounds": rounds,
        "repeats": repeats,
        "rows": rows,
        "ours_vs_official": agreement,
    }
