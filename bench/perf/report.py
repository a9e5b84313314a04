"""bench/README.md (tables, targets, where the official path wins) and the PNG charts, from results.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jax2tfjs import atomic
from jax2tfjs.tables import markdown_table, sci, text


def _f(digits: int, suffix: str = "") -> Any:
    return lambda v: "-" if v is None else f"{v:,.{digits}f}{suffix}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.2%}"


def _kb(v: int | None) -> str:
    return "-" if v is None else f"{v / 1024:,.0f}"


def _x(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}×"


def _ops(ops: dict[str, int] | None) -> str:
    return " ".join(
        f"{op}×{n}" for op, n in sorted((ops or {}).items()) if op not in {"Const", "Placeholder"}
    )


CONVERSION = [
    ("label", "converter", text),
    ("batch", "batch", text),
    ("wall_s", "wall s (median)", _f(2)),
    ("wall_vs_ours", "wall / ours", _x),
    ("import_s", "imports s", _f(2)),
    ("convert_s", "convert s", _f(2)),
    ("peak_rss_mb", "peak RSS MB", _f(0)),
    ("rss_vs_ours", "RSS / ours", _x),
    ("model_bytes", "model KB", _kb),
    ("bytes_written", "written KB", _kb),
    ("compute_ops", "ops (TF.js compute / ONNX nodes)", text),
    ("error", "error", text),
]
INFERENCE = [
    ("export", "export", text),
    ("runtime", "runtime", text),
    ("backend", "backend", text),
    ("load_ms", "load ms", _f(1)),
    ("batch1_ms", "batch 1 ms", _f(2)),
    ("batch32_ms", "batch 32 ms", _f(2)),
    ("max_abs_diff_vs_jax", "max |Δ| vs JAX", sci),
    ("argmax_agreement_vs_jax", "argmax = JAX", _pct),
    ("error", "error", text),
]
QUANT = [
    ("quantization", "quantization", text),
    ("model_bytes", "model KB", _kb),
    ("bytes_vs_none", "vs none", _x),
    ("accuracy", "accuracy", _pct),
    ("accuracy_drop_points", "drop (points)", _f(2)),
    ("argmax_agreement_vs_jax", "argmax = JAX", _pct),
    ("max_abs_diff_vs_jax", "max |Δ|", sci),
    ("load_ms", "load ms", _f(1)),
    ("batch1_ms", "batch 1 ms", _f(2)),
    ("batch32_ms", "batch 32 ms", _f(2)),
]
TRAINING = [
    ("model", "model", text),
    ("bare_step_images_per_s", "bare step img/s", _f(0)),
    ("loop_images_per_s", "loop img/s", _f(0)),
    ("ratio", "loop / bare", _pct),
]
JOBS = [
    ("job", "job", text),
    ("image", "image", text),
    ("what", "run", text),
    ("wall_s", "wall s", _f(1)),
    ("guard_peak_rss_mb", "peak RSS MB (tree)", _f(0)),
    ("process_peak_rss_mb", "peak RSS MB (main process)", _f(0)),
    ("share_of_limit", "of the limit", _pct),
]
TARGETS = [
    ("target", "target", text),
    ("measured", "measured", text),
    ("met", "met", lambda v: "n/a" if v is None else "yes" if v else "**no**"),
]


ZOO_BACKENDS = ("cpu", "wasm")
# bench.perf.zoo_ops's official variants, as the table labels them (report.py imports nothing heavy).
ZOO_VARIANTS = {"official": "oneDNN default", "portable": "oneDNN off"}


def _official_state(row: dict[str, Any]) -> str:
    if any(f"{v}_ops" in row for v in ZOO_VARIANTS):
        return "yes"
    error = str(row.get("official_error", ""))
    return "no (cannot build)" if error.startswith("official venv cannot build") else "no" if error else "-"


def _ratio_mark(limit: float) -> Any:
    """A ratio with ✗ when it misses `limit`."""
    return lambda v: "-" if v is None else f"{v:.2f}" + ("" if v <= limit else " ✗")


def _official_ms(row: dict[str, Any], backend: str) -> str:
    """The official figure ours is compared with: † when only the oneDNN-off export ran."""
    baseline = row.get(f"{backend}_baseline")
    if baseline:
        return f"{row[f'{backend}_ms_{baseline}']:.3f}" + (" †" if baseline != "official" else "")
    tried = [v for v in ZOO_VARIANTS if f"{v}_ops" in row]
    return "fails" if tried and all(row.get(f"{backend}_error_{v}") for v in tried) else "-"


def _ours_ms(row: dict[str, Any], backend: str) -> str:
    if row.get(f"{backend}_error_ours"):
        return "fails"
    return _f(3)(row.get(f"{backend}_ms_ours"))


def zoo_ops_columns(ops_target: float, latency_target: float, latencies: bool) -> list[tuple[str, str, Any]]:
    columns: list[tuple[str, str, Any]] = [
        ("name", "model", text),
        ("_official", "official converts", text),
        ("ours_ops", "ops ours", text),
        ("official_ops", "ops official", text),
        ("portable_ops", "ops official, oneDNN off", text),
        ("ops_ratio", f"ops ratio (≤ {ops_target:g})", _ratio_mark(ops_target)),
    ]
    if latencies:
        for backend in ZOO_BACKENDS:
            columns += [
                (f"_{backend}_ours", f"{backend} ms ours", text),
                (f"_{backend}_official", f"{backend} ms official", text),
                (f"{backend}_ratio", f"{backend} ratio (≤ {latency_target:g})", _ratio_mark(latency_target)),
            ]
        columns.append(("_diff", "max |Δ| ours vs official", sci))
    return columns


def _zoo_table_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    shown = []
    for row in rows:
        diffs = [row[f"{b}_max_abs_diff"] for b in ZOO_BACKENDS if row.get(f"{b}_max_abs_diff") is not None]
        extra: dict[str, Any] = {"_official": _official_state(row), "_diff": max(diffs) if diffs else None}
        for backend in ZOO_BACKENDS:
            extra[f"_{backend}_ours"] = _ours_ms(row, backend)
            extra[f"_{backend}_official"] = _official_ms(row, backend)
        shown.append({**row, **extra})
    return shown


def _cannot(rows: list[dict[str, Any]]) -> list[str]:
    """What the official path could not convert, and the backends where none of its exports ran."""
    notes = []
    for row in rows:
        errors = {v: row[f"{v}_error"] for v in ZOO_VARIANTS if row.get(f"{v}_error")}
        if errors and len(set(errors.values())) == 1:
            notes.append(f"{row['name']}: {next(iter(errors.values()))}")
        else:
            notes += [f"{row['name']} ({ZOO_VARIANTS[v]}): {e}" for v, e in errors.items()]
        for backend in ZOO_BACKENDS:
            tried = [v for v in ZOO_VARIANTS if f"{v}_ops" in row]
            failures = {v: row.get(f"{backend}_error_{v}") for v in tried}
            if tried and all(failures.values()):
                causes = "; ".join(dict.fromkeys(failures.values()))
                notes.append(f"{row['name']}: no official export runs on TF.js {backend}: {causes}")
    return notes


def zoo_ops_markdown(section: dict[str, Any]) -> str:
    """The zoo section: ours vs the official convert_jax per zoo model, then where we miss."""
    summary, rows, latencies = section["summary"], section["rows"], section["latencies"]
    columns = zoo_ops_columns(summary["ops_target"], summary["latency_target"], latencies)
    # Sorted: results.json is written with sorted keys, and the README must read the same from it.
    official = ", ".join(f"{k} {v}" for k, v in sorted(section["official_versions"].items()) if k != "python")
    timing = (
        f"Latency: TF.js 4.22 in Node, batch {section['batch']}; per backend {section['rounds']} Node processes, "
        f"each running every model's exports side by side (order rotated each round); a figure is the median "
        f"over rounds of the median of {section['repeats']} predictions after 5 warm-up ones. Medians of "
        "sub-millisecond models move by ~10 % between runs: a ratio near 1.0 is a tie. The official figure is "
        "its export as converted here, or † the oneDNN-off one where only that runs; `fails`: no export of "
        "that side runs on the backend (listed below); max |Δ|: ours vs that official export, same inputs."
        if latencies
        else "Latency was not measured in this run (`--latencies=False`)."
    )
    backends = "".join(
        f"; {b}: ours no slower on {summary[f'{b}_met']} of {summary[f'{b}_timed']} timed (median ratio "
        f"{_x(summary[f'{b}_ratio_median'])}), no official export runs on {summary[f'{b}_official_cannot_run']}"
        for b in ZOO_BACKENDS
        if latencies
    )
    lines = [
        "## The zoo: ours vs the official convert_jax, op counts and latency",
        "",
        f"Measured {section['created']} by `python -m bench.perf zoo-ops` (part of `make bench`, "
        f"{section['wall_s']:.0f} s). Every zoo model (docs/zoo.md) is converted by ours (jax "
        f"{section['ours_versions'].get('jax', '?')}, dynamic batch, quantization none) and by the official "
        f"`convert_jax` in .venv/official ({official}) at the fixed shapes fed (batch {section['batch']}), with "
        "our weights loaded into its model (an nnx module split into its state and merged back inside "
        "`apply_fn`, bench/perf/zoo_official.py). The official path runs twice: with TensorFlow's defaults (on this "
        "AVX-512 machine oneDNN fuses MatMul+Tanh/GELU into `_FusedMatMul` ops TF.js refuses) and with "
        "`TF_ENABLE_ONEDNN_OPTS=0`. Ops: TF.js compute ops in model.json (Const, Placeholder, Identity and "
        "other plumbing excluded), one count for all; the ratio is against the smaller official count. "
        f"Targets: ops ≤ {summary['ops_target']:g}× the official, latency ≤ {summary['latency_target']:g}×; "
        "✗ marks a miss.",
        "",
        timing,
        "",
        f"Summary: the official path converts {summary['official_converted']} of {summary['models']} models; "
        f"ops target met on {summary['ops_met']} of {summary['official_converted']} (median ratio "
        f"{_x(summary['ops_ratio_median'])}, worst {_x(summary['ops_ratio_worst'])}){backends}.",
        "",
        markdown_table(_zoo_table_rows(rows), columns),
        "",
        "### Where we miss",
        "",
        *([f"- {note}" for note in section["misses"]] or ["- nowhere: every target met."]),
        "",
        "### What the official path cannot convert or run",
        "",
        *([f"- {note}" for note in _cannot(rows)] or ["- nothing: it converted and ran every model."]),
        "",
    ]
    return "\n".join(lines)


def write_zoo_ops(section: dict[str, Any], out_dir: Path) -> None:
    """Put `section` under results.json's zoo_ops key (the other keys kept) and rewrite README.md."""
    path = out_dir / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    results["zoo_ops"] = section
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic.write_json(path, results)
    with atomic.atomic_path(out_dir / "README.md") as tmp:
        tmp.write_text(markdown(results))


# Written by the verify timing run (old vs new `make verify`), not by `make bench`: rendered when present.
VERIFY_SPEED = Path(__file__).parents[1] / "verify_speed.json"


def verify_speed_lines(path: Path = VERIFY_SPEED) -> list[str]:
    if not path.exists():
        return []
    speed = json.loads(path.read_text())
    runs = ", ".join(f"{r['code']} {r['wall_s']:.0f} s" for r in speed["runs"])
    return [
        f"## `make verify` on the {speed['exports']} demo exports: old vs new",
        "",
        f"Measured {speed['created']} ({speed['machine']}), alternating old and new, medians: old "
        f"**{speed['median_old_s']:.0f} s**, new **{speed['median_new_s']:.1f} s**, new/old = "
        f"**{speed['new_over_old']:.3f}** ({speed['speedup']:.0f}× faster; the target was at most 1/4). "
        f"Runs in order: {runs}.",
        "",
        f"- old: {speed['old']}.",
        f"- new: {speed['new']}.",
        f"- how: {speed['command']}. Raw figures: verify_speed.json.",
        "",
    ]


def zoo_ops_lines(results: dict[str, Any]) -> list[str]:
    return [zoo_ops_markdown(results["zoo_ops"]), ""] if "zoo_ops" in results else []


def markdown(results: dict[str, Any]) -> str:
    if "conversion" not in results:  # only `python -m bench.perf zoo-ops` has run so far
        return "\n".join(
            [
                "# Benchmarks",
                "",
                "Only the zoo section has been measured; `make bench` measures the rest.",
                "",
                *zoo_ops_lines(results),
            ]
        )
    conv, inf, quant = results["conversion"], results["inference"], results["quantization"]
    ops = "\n".join(f"- {row['label']}: {_ops(row['ops'])}" for row in conv["rows"])
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` on {results['created']} ({results['machine']}). Everything below was "
        f"measured side by side in that one run; times are medians, ratios are against ours. Regenerate "
        f"with `make bench`; the raw figures are in results.json.",
        "",
        "## Targets",
        "",
        markdown_table(results["targets"], TARGETS),
        "",
        "## Where the official path wins, and where it cannot follow",
        "",
        *[f"- {line}" for line in results["findings"]],
        "",
        f"## Conversion ({conv['rounds']} rounds, each converter in a fresh process, rotated order)",
        "",
        f"The same trained weights ({results['seed']['checkpoint']}, test accuracy "
        f"{_pct(results['seed']['test_accuracy'])}) go through each converter. Wall time and peak RSS are "
        "the whole process's, imports included (peak RSS: the process's own VmHWM at exit). `convert s` is the "
        "converter call alone; ours includes tracing, lowering, SavedModel, tfjs conversion, the "
        "JAX golden outputs (an XLA compile of the model) and the SavedModel self-check, which the "
        "official path does not do. A failed converter's row shows its error.",
        "",
        markdown_table(conv["rows"], CONVERSION),
        "",
        "Graph ops after each converter (ONNX: every node):",
        "",
        ops,
        "",
        "![conversion](conversion.png)",
        "",
        f"## Inference in Node ({inf['rounds']} rounds × {inf['repeats']} timed predictions, "
        f"{inf['samples']} test digits for parity)",
        "",
        "TF.js 4.22 (`@tensorflow/tfjs` cpu, `@tensorflow/tfjs-backend-wasm`), onnxruntime-web "
        f"{results['versions'].get('onnxruntime-web', '?')} wasm with one thread. The official exports are "
        "fixed-batch (batch 1 and batch 32 exports); ours and the ONNX one take any batch.",
        "",
        markdown_table(inf["rows"], INFERENCE),
        "",
        "Ours vs the official export, same inputs: "
        + (
            "; ".join(
                f"{backend}: max |Δ| {sci(a['max_abs_diff'])}, argmax agreement {_pct(a['argmax_agreement'])}"
                for backend, a in inf["ours_vs_official"].items()
            )
            or "no backend ran both"
        ),
        "",
        "![inference](inference.png)",
        "",
        f"## Quantization (ours, TF.js {quant['backend']}, all {quant['samples']} test digits, "
        f"{quant['rounds']} rounds; JAX accuracy {_pct(quant['jax_accuracy'])})",
        "",
        markdown_table(quant["rows"], QUANT),
        "",
        "![quantization](quantization.png)",
        "",
        "## Training speed (the training loop vs the bare jitted step)",
        "",
        markdown_table(results["training"]["rows"], TRAINING),
        "",
        f"## Peak RSS of every job (limit {results['jobs_memory']['limit_gb']:g} GB)",
        "",
        markdown_table(results["jobs_memory"]["rows"], JOBS),
        "",
        *zoo_ops_lines(results),
        *verify_speed_lines(),
    ]
    return "\n".join(lines)


def charts(results: dict[str, Any], out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []

    def save(fig: Any, name: str) -> None:
        fig.tight_layout()
        with atomic.atomic_path(out_dir / name) as tmp, tmp.open("wb") as fh:
            fig.savefig(fh, format="png")
        plt.close(fig)
        written.append(out_dir / name)

    conv = results["conversion"]["rows"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8), dpi=110)
    names = [row["converter"] for row in conv]
    left.bar(names, [row["import_s"] for row in conv], label="imports", color="#9ecae1")
    left.bar(
        names,
        [row["wall_s"] - row["import_s"] for row in conv],
        bottom=[row["import_s"] for row in conv],
        label="rest (conversion, start-up)",
        color="#3182bd",
    )
    left.set_ylabel("seconds (median)")
    left.set_title("Conversion wall time")
    left.legend(fontsize=8)
    right.bar(names, [row["peak_rss_mb"] for row in conv], color="#e6550d")
    right.set_ylabel("MB")
    right.set_title("Conversion peak RSS")
    save(fig, "conversion.png")

    inf = [row for row in results["inference"]["rows"] if "error" not in row]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), dpi=110)
    labels = [f"{row['export']}\n{row['backend']}" for row in inf]
    for ax, batch in zip(axes, (1, 32), strict=True):
        ax.bar(labels, [row[f"batch{batch}_ms"] or 0 for row in inf], color="#31a354")
        ax.set_title(f"Inference, batch {batch}")
        ax.set_ylabel("ms (median)")
        ax.set_yscale("log")
        ax.tick_params(axis="x", labelsize=7)
    save(fig, "inference.png")

    quant = results["quantization"]["rows"]
    fig, ax = plt.subplots(figsize=(6, 3.8), dpi=110)
    for row in quant:
        ax.scatter(row["model_bytes"] / 1024, 100 * row["accuracy"], s=50)
        ax.annotate(row["quantization"], (row["model_bytes"] / 1024, 100 * row["accuracy"]), fontsize=8)
    ax.set_xlabel("model KB (model.json + shards)")
    ax.set_ylabel("TF.js test accuracy (%)")
    ax.set_title("Quantization: size vs accuracy")
    ax.grid(alpha=0.3)
    save(fig, "quantization.png")
    return written


def write(results: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    charts(results, out_dir)
    atomic.write_json(out_dir / "results.json", results)
    with atomic.atomic_path(out_dir / "README.md") as tmp:
        tmp.write_text(markdown(results))
