"""Per quantization, our export of the seed CNN: bytes, accuracy, load and inference time (TF.js wasm).

All four exports are converted from the same weights, then run in interleaved rounds (a fresh Node
process each) on the whole test split; timings are medians over rounds.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import jax
import numpy as np
from tqdm import tqdm

from bench.perf.weights_file import load_params
from jax2tfjs import compare
from jax2tfjs.api import to_tensorflowjs
from jax2tfjs.export.tfjs_convert import QUANTIZATIONS
from jax2tfjs.models import get_model
from jax2tfjs.tfjs_runtime import run_in_tfjs


def run(
    params_path: Path,
    work_dir: Path,
    images: np.ndarray,
    labels: np.ndarray,
    jax_logits: np.ndarray,
    rounds: int,
    repeats: int,
    backend: str = "wasm",
) -> dict[str, Any]:
    model = get_model("flax_cnn")
    params = load_params(params_path)
    spec = jax.ShapeDtypeStruct((1, *model.input_shape), jax.numpy.float32)
    reports = {}
    for quant in tqdm(QUANTIZATIONS, desc="[bench] quantized exports", unit="export"):
        reports[quant] = to_tensorflowjs(
            model.apply, params, input_spec=spec, out_dir=work_dir / quant, quantization=quant, progress=False
        )
    timings: dict[str, list[dict[str, Any]]] = {q: [] for q in QUANTIZATIONS}
    outputs: dict[str, np.ndarray] = {}
    with tqdm(
        total=rounds * len(QUANTIZATIONS), desc=f"[bench] quantized in TF.js {backend}", unit="run"
    ) as bar:
        order = list(QUANTIZATIONS)
        for _ in range(rounds):
            order = order[1:] + order[:1]  # a different export goes first each round
            for quant in order:
                out, info = run_in_tfjs(
                    work_dir / quant, images, backend, timing_batches=(1, 32), warmup=5, repeats=repeats
                )
                outputs.setdefault(quant, out)
                timings[quant].append(info)
                bar.update()
    baseline = compare.accuracy(jax_logits, labels)
    rows = []
    for quant in QUANTIZATIONS:
        report = reports[quant]
        scores = compare.compare(outputs[quant], jax_logits)
        accuracy = compare.accuracy(outputs[quant], labels)
        rows.append(
            {
                "quantization": quant,
                "model_bytes": report.model_bytes,
                "bytes_vs_none": report.model_bytes / reports["none"].model_bytes,
                "accuracy": accuracy,
                "accuracy_drop_points": compare.drop_points(baseline, accuracy),
                "argmax_agreement_vs_jax": scores.argmax_agreement,
                "max_abs_diff_vs_jax": scores.max_abs_diff,
                "load_ms": statistics.median(t["load_ms"] for t in timings[quant]),
                "batch1_ms": statistics.median(t["timings"]["1"] for t in timings[quant]),
                "batch32_ms": statistics.median(t["timings"]["32"] for t in timings[quant]),
            }
        )
    return {
        "backend": backend,
        "samples": len(images),
        "jax_accuracy": baseline,
        "rounds": rounds,
        "rows": rows,
    }
