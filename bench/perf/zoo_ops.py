"""Every zoo model through both converters: TF.js op counts and latencies, ours vs the official path.

Ours: `to_tensorflowjs` as the zoo converts (quantization none, dynamic batch). The official path:
`convert_jax` in .venv/official (bench/perf/zoo_official.py), at the fixed shapes of the very arrays
fed here (batch 4; a dynamic sequence dim as the zoo draws it), with OUR parameter leaves loaded into
its model so both exports compute with the same weights. Op counts use one definition for both
(tfjs_convert.graph_ops / compute_op_count: model.json's nodes minus NON_COMPUTE_OPS).

Latencies: per backend, one Node process per round runs every pair side by side (ours then official,
the order swapped every round); each figure is the median over rounds of the runner's median over
`repeats` predictions after warm-up. Outputs of the two exports are compared leaf by leaf (max |Δ|).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np

from bench.perf import REPO_ROOT, VENV
from bench.perf.zoo_official import nnx_weights, save_leaves
from jax2tfjs.errors import ExportError, Jax2TfjsError
from jax2tfjs.export import tfjs_convert
from jax2tfjs.provenance import package_versions
from jax2tfjs.tfjs_runtime import BACKENDS, export_io
from jax2tfjs.verify.tfjs_batch import ExportOutcome, ExportRuns, run_exports

OPS_TARGET = 0.8  # ours ≤ 0.8 × the official op count (issue 15)
LATENCY_TARGET = 1.0  # and no slower on any backend
BATCH = 4
SEED = 0
CHILD_TIMEOUT_S = 1200
# The official path converted twice: as a user gets it on this machine (TensorFlow's defaults: on
# AVX-512 CPUs oneDNN's grappler fuses MatMul+BiasAdd+Tanh/GELU into a _FusedMatMul that TF.js cpu
# and wasm refuse), and with oneDNN's rewrites off, as on a CPU without AVX-512 ("portable"). The op
# target is against the smaller count; latency against the first variant that runs on the backend.
OFFICIAL_VARIANTS: dict[str, dict[str, str]] = {
    "official": {},
    "portable": {"TF_ENABLE_ONEDNN_OPTS": "0"},
}
CANNOT_BUILD = "official venv cannot build"
VARIANT_LABELS = {"official": "oneDNN default", "portable": "oneDNN off"}
# convert_jax names its inputs after the traced `*xs` (xs_0, xs_1:0, … — the ":0" comes and goes) and
# its outputs output_N, or (a tuple of three, lstm_cell_linen) by their tensors Identity:0,
# Identity_1:0, …: by position in the flattened call, so the number is the leaf index.
_OFFICIAL_NAME = re.compile(r"^(?:xs_|output_|Identity_?)(\d*)(?::0)?$")


def official_index(name: str) -> int:
    """The flat leaf index an official export's input or output name stands for."""
    match = _OFFICIAL_NAME.match(name)
    if not match or (not match[1] and not name.startswith("Identity")):
        raise ValueError(f"{name!r} is not a convert_jax input or output name (xs_N, output_N, Identity_N)")
    return int(match[1] or 0)


def parse_child_results(text: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """zoo_official.py's RESULTS.jsonl: (versions, {name: result}). Lines that are not JSON objects
    (a line cut short by a crash) are skipped; a name seen twice keeps its last result."""
    versions: dict[str, Any] = {}
    results: dict[str, dict[str, Any]] = {}
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(item, dict):
            continue
        if "versions" in item:
            versions = item["versions"]
        elif "name" in item and "ok" in item:
            results[item["name"]] = item
    return versions, results


def op_histogram(model_json: Path) -> tuple[int, dict[str, int]]:
    """(compute op count, {op: count} without NON_COMPUTE_OPS) of a graph model."""
    ops = tfjs_convert.graph_ops(model_json)
    compute = {op: n for op, n in ops.items() if op not in tfjs_convert.NON_COMPUTE_OPS}
    return tfjs_convert.compute_op_count(ops), compute


def _error_text(err: BaseException) -> str:
    if isinstance(err, Jax2TfjsError):
        return f"{err.code}: {err.cause}"
    return f"{type(err).__name__}: {str(err)[:300]}"


def _leaves(tree: Any) -> list[np.ndarray]:
    return [np.asarray(leaf) for leaf in jax.tree_util.tree_leaves(tree)]


def _rows_fed(leaves: list[np.ndarray]) -> int:
    """The batch the timing runs at: the rows of the first input with a dim (1 for scalars only)."""
    return next((leaf.shape[0] for leaf in leaves if leaf.ndim), 1)


def prepare_ours(entries: list[Any], work: Path) -> list[dict[str, Any]]:
    """Build each entry, draw its inputs (batch 4, seed 0), convert it with ours; keeps what the
    official side and the TF.js runs need under the row's private `_` keys."""
    from bench.zoo.runner import convert_entry

    rows = []
    for entry in entries:
        print(f"[zoo-ops] ours: {entry.name}", file=sys.stderr, flush=True)
        row: dict[str, Any] = {"name": entry.name, "style": entry.style}
        try:
            built = entry.build(SEED)
            inputs = entry.random_inputs(np.random.default_rng(SEED), BATCH)
            fed = _leaves(inputs)
            reference = _leaves(built.reference(inputs))
        except Exception as err:
            rows.append({**row, "ours_error": f"build: {_error_text(err)}"})
            continue
        row["_fed"], row["_reference"], row["_dirs"] = fed, reference, {}
        row["rows"] = _rows_fed(fed)
        weights = work / "weights" / f"{entry.name}.npz"
        weights.parent.mkdir(parents=True, exist_ok=True)
        state = nnx_weights(built.model) if entry.style == "nnx" else built.params
        save_leaves(weights, jax.tree_util.tree_leaves(state))
        row["_weights"] = str(weights)
        started = time.perf_counter()
        try:
            report = convert_entry(entry, built, work / "ours", golden_inputs=inputs)
        except Exception as err:
            row["ours_error"] = f"convert: {_error_text(err)}"
        else:
            row["ours_convert_s"] = round(time.perf_counter() - started, 2)
            row["ours_ops"], row["ours_op_hist"] = op_histogram(Path(report.out_dir) / "model.json")
            row["_dirs"]["ours"] = str(report.out_dir)
            row["_ours_inputs"] = [t["name"] for t in report.signature["inputs"]]
            row["_ours_outputs"] = [t["name"] for t in report.signature["outputs"]]
        rows.append(row)
    return rows


def _run_child(
    specs: list[dict[str, Any]], work: Path, env: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any], str]:
    work.mkdir(parents=True, exist_ok=True)
    request, results = work / "request.json", work / "results.jsonl"
    request.write_text(json.dumps({"entries": specs}))
    results.unlink(missing_ok=True)
    python = VENV / "official" / "bin" / "python"
    try:
        proc = subprocess.run(
            [str(python), "-m", "bench.perf.zoo_official", str(request), str(results)],
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_S,
            cwd=REPO_ROOT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env},
        )
        tail = proc.stderr.strip()[-600:]
    except subprocess.TimeoutExpired:
        tail = f"timed out after {CHILD_TIMEOUT_S} s"
    versions, found = parse_child_results(results.read_text() if results.exists() else "")
    return versions, found, tail


def _unbuildable(row: dict[str, Any]) -> bool:
    return any(str(row.get(f"{v}_error", "")).startswith(CANNOT_BUILD) for v in OFFICIAL_VARIANTS)


def convert_official(rows: list[dict[str, Any]], work: Path, variant: str) -> dict[str, Any]:
    """convert_jax on every row that built, in as few child processes as crashes allow: a child that
    dies marks the entry it was on as failed and a new child takes the rest. Sets the row's
    `{variant}_ops`, `_op_hist`, `_convert_s` or `{variant}_error`. Returns the versions."""
    python = VENV / "official" / "bin" / "python"
    # The same venv builds the same way for every variant: a model it could not build is not retried.
    pending = [row for row in rows if "_fed" in row and not _unbuildable(row)]
    if not python.exists():
        for row in pending:
            row[f"{variant}_error"] = "no .venv/official: run `make .venv/official/.synced`"
        return {}
    versions: dict[str, Any] = {}
    while pending:
        specs = [
            {
                "name": row["name"],
                "weights": row.get("_weights"),
                "inputs": [{"shape": list(a.shape), "dtype": a.dtype.name} for a in row["_fed"]],
                "out_dir": str(work / variant / row["name"]),
            }
            for row in pending
        ]
        print(f"[zoo-ops] {variant}: {len(specs)} models in .venv/official", file=sys.stderr, flush=True)
        found_versions, found, tail = _run_child(specs, work / f"{variant}-child", OFFICIAL_VARIANTS[variant])
        versions = versions or found_versions
        for row in pending:
            result = found.get(row["name"])
            if result is None:
                continue
            if result["ok"]:
                folder = work / variant / row["name"]
                row[f"{variant}_convert_s"] = result["convert_s"]
                row["_dirs"][variant] = str(folder)
                row[f"{variant}_ops"], row[f"{variant}_op_hist"] = op_histogram(folder / "model.json")
            elif result["stage"] == "build":
                row[f"{variant}_error"] = f"{CANNOT_BUILD}: {result['error']}"
            else:
                row[f"{variant}_error"] = f"{result['stage']}: {result['error']}"
        left = [row for row in pending if row["name"] not in found]
        if left:  # the child died on left[0]
            left[0][f"{variant}_error"] = f"the official converter's process died on it: {tail}"
            left = left[1:]
        pending = left
    return versions


def _official_feed(row: dict[str, Any], model_dir: Path) -> dict[str, np.ndarray]:
    names = export_io(model_dir)[0]
    return {name: row["_fed"][official_index(name)] for name in names}


def official_output_keys(model_json: dict[str, Any]) -> dict[str, str]:
    """Every name the runner may report an official output under → its signature key (output_N).
    TF.js reports the signature's keys for some exports and the tensor names (Identity:0) for others."""
    keys = {}
    for key, info in (model_json.get("signature") or {}).get("outputs", {}).items():
        tensor = str(info.get("name", key))
        keys.update({key: key, tensor: key, tensor.split(":")[0]: key})
    return keys


def _official_outputs(outputs: dict[str, np.ndarray], model_dir: Path) -> list[np.ndarray]:
    keys = official_output_keys(json.loads((model_dir / "model.json").read_text()))
    return [outputs[name] for name in sorted(outputs, key=lambda name: official_index(keys.get(name, name)))]


def _max_abs_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float | None:
    """Worst |Δ| over paired leaves; None when the leaves do not pair up (count or shapes)."""
    if len(a) != len(b) or any(x.shape != y.shape for x, y in zip(a, b, strict=True)):
        return None
    return max(
        (
            float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)), initial=0.0))
            for x, y in zip(a, b, strict=True)
        ),
        default=0.0,
    )


def _export_runs(row: dict[str, Any], side: str) -> ExportRuns:
    folder = Path(row["_dirs"][side])
    if side == "ours":
        feed = dict(zip(row["_ours_inputs"], row["_fed"], strict=True))
    else:
        feed = _official_feed(row, folder)
    return ExportRuns(folder, {"timed": feed}, "timed")


def _outputs(row: dict[str, Any], side: str, outcome: ExportOutcome) -> list[np.ndarray]:
    """An export's outputs as the model's flat output leaves, in JAX order."""
    if side == "ours":
        return [outcome.outputs["timed"][name] for name in row["_ours_outputs"]]
    return _official_outputs(outcome.outputs["timed"], Path(row["_dirs"][side]))


def _run_round(
    rows: list[dict[str, Any]], backend: str, shift: int, **timing: Any
) -> list[dict[str, ExportOutcome | str]]:
    """Every export of every row in one Node process, each row's exports side by side in an order
    rotated by `shift`; a process that dies falls back to one process per row, so an export that
    kills TF.js costs only its own row. Per row: {side: outcome, or the error text}."""
    plans = []
    for row in rows:
        sides = list(row["_dirs"])
        k = shift % len(sides)
        plans.append(sides[k:] + sides[:k])
    runs = [_export_runs(row, side) for row, sides in zip(rows, plans, strict=True) for side in sides]
    try:
        flat: list[ExportOutcome | str] = list(run_exports(runs, backend, **timing))
    except ExportError:
        flat = []
        for row, sides in zip(rows, plans, strict=True):
            try:
                flat += run_exports([_export_runs(row, side) for side in sides], backend, **timing)
            except ExportError as err:
                flat += [err.cause] * len(sides)
    found, i = [], 0
    for sides in plans:
        found.append(dict(zip(sides, flat[i : i + len(sides)], strict=True)))
        i += len(sides)
    return found


def measure_latency(rows: list[dict[str, Any]], rounds: int, repeats: int, warmup: int = 5) -> None:
    """Per backend: `{backend}_ms_{side}` (median over rounds) or `{backend}_error_{side}` for ours and
    each official variant; the baseline (the official export as converted, else the portable one when
    only that runs), ours / baseline, and max |Δ| of the two exports' outputs (and the baseline's
    against JAX: a large one means the weights did not carry over)."""
    timed = [row for row in rows if "ours" in row.get("_dirs", {}) and len(row["_dirs"]) > 1]
    if not timed:
        return
    timing = {
        "timing_batches": tuple(sorted({row["rows"] for row in timed})),
        "warmup": warmup,
        "repeats": repeats,
    }
    for backend in BACKENDS:
        samples = {row["name"]: {side: [] for side in row["_dirs"]} for row in timed}
        outputs: dict[str, dict[str, list[np.ndarray]]] = {row["name"]: {} for row in timed}
        for round_ in range(rounds):
            print(f"[zoo-ops] TF.js {backend}, round {round_ + 1}/{rounds}", file=sys.stderr, flush=True)
            for row, found in zip(timed, _run_round(timed, backend, round_, **timing), strict=True):
                for side, outcome in found.items():
                    error = outcome if isinstance(outcome, str) else outcome.error
                    if error:
                        row[f"{backend}_error_{side}"] = error
                        continue
                    ms = outcome.timings.get(str(row["rows"]))
                    if ms is not None:
                        samples[row["name"]][side].append(ms)
                    if side not in outputs[row["name"]]:
                        try:
                            outputs[row["name"]][side] = _outputs(row, side, outcome)
                        except (KeyError, ValueError) as err:  # names that do not pair: no |Δ|, still timed
                            row[f"{backend}_compare_error_{side}"] = str(err)
        for row in timed:
            for side, values in samples[row["name"]].items():
                if values:
                    row[f"{backend}_ms_{side}"] = statistics.median(values)
            baseline = next((v for v in OFFICIAL_VARIANTS if f"{backend}_ms_{v}" in row), None)
            mine = row.get(f"{backend}_ms_ours")
            if baseline is None or mine is None:
                continue
            row[f"{backend}_baseline"] = baseline
            row[f"{backend}_ratio"] = mine / row[f"{backend}_ms_{baseline}"]
            got = outputs[row["name"]]
            if "ours" in got and baseline in got:
                row[f"{backend}_max_abs_diff"] = _max_abs_diff(got["ours"], got[baseline])
                row[f"{backend}_baseline_vs_jax"] = _max_abs_diff(got[baseline], row["_reference"])


def op_surplus(ours: dict[str, int], theirs: dict[str, int]) -> str:
    """The op types ours has more of, most first: where the graph-slimming work should look."""
    extra = {op: n - theirs.get(op, 0) for op, n in ours.items() if n > theirs.get(op, 0)}
    return (
        ", ".join(f"{op} +{n}" for op, n in sorted(extra.items(), key=lambda kv: (-kv[1], kv[0])))
        or "of none"
    )


def set_ops_ratio(row: dict[str, Any]) -> None:
    """ops_ratio = ours / the smaller official count (the as-converted one on a tie): the stricter target."""
    counts = {v: row[f"{v}_ops"] for v in OFFICIAL_VARIANTS if f"{v}_ops" in row}
    if "ours_ops" in row and counts:
        row["ops_baseline"] = min(counts, key=lambda v: (counts[v], v != "official"))
        row["ops_ratio"] = row["ours_ops"] / counts[row["ops_baseline"]]


def misses(rows: list[dict[str, Any]]) -> list[str]:
    """Plain statements of every target ours misses on a model the official path converted."""
    notes = []
    for row in rows:
        name = row["name"]
        if "ours_error" in row:
            notes.append(f"{name}: ours failed ({row['ours_error']}).")
            continue
        if "ops_ratio" not in row:
            continue
        if row["ops_ratio"] > OPS_TARGET:
            baseline = row["ops_baseline"]
            notes.append(
                f"{name}: {row['ours_ops']} ops vs the official {row[f'{baseline}_ops']} "
                f"({VARIANT_LABELS[baseline]}; {row['ops_ratio']:.2f}×, target ≤ {OPS_TARGET:g}); "
                f"ours has more {op_surplus(row.get('ours_op_hist', {}), row.get(f'{baseline}_op_hist', {}))}."
            )
        for backend in BACKENDS:
            if row.get(f"{backend}_error_ours"):
                notes.append(f"{name}: ours cannot run on TF.js {backend}: {row[f'{backend}_error_ours']}")
            latency = row.get(f"{backend}_ratio")
            if latency is not None and latency > LATENCY_TARGET:
                baseline = row[f"{backend}_baseline"]
                notes.append(
                    f"{name}: slower on TF.js {backend}: {row[f'{backend}_ms_ours']:.3f} ms vs the official "
                    f"{row[f'{backend}_ms_{baseline}']:.3f} ms ({VARIANT_LABELS[baseline]}; {latency:.2f}×)."
                )
    return notes


def official_cannot_run(row: dict[str, Any], backend: str) -> bool:
    """No official variant that converted ran on `backend`."""
    tried = [v for v in OFFICIAL_VARIANTS if f"{v}_ops" in row]
    return bool(tried) and all(row.get(f"{backend}_error_{v}") for v in tried)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    compared = [row for row in rows if "ops_ratio" in row]
    summary: dict[str, Any] = {
        "models": len(rows),
        "official_converted": len(compared),
        "ops_target": OPS_TARGET,
        "ops_met": sum(row["ops_ratio"] <= OPS_TARGET for row in compared),
        "ops_ratio_median": statistics.median(r["ops_ratio"] for r in compared) if compared else None,
        "ops_ratio_worst": max((r["ops_ratio"] for r in compared), default=None),
        "latency_target": LATENCY_TARGET,
    }
    for backend in BACKENDS:
        ratios = [r[f"{backend}_ratio"] for r in compared if r.get(f"{backend}_ratio") is not None]
        summary[f"{backend}_timed"] = len(ratios)
        summary[f"{backend}_met"] = sum(ratio <= LATENCY_TARGET for ratio in ratios)
        summary[f"{backend}_ratio_median"] = statistics.median(ratios) if ratios else None
        summary[f"{backend}_official_cannot_run"] = sum(official_cannot_run(r, backend) for r in compared)
        summary[f"{backend}_ours_cannot_run"] = sum(bool(r.get(f"{backend}_error_ours")) for r in rows)
    return summary


def run(
    entries: list[Any],
    work: Path,
    *,
    latencies: bool = True,
    rounds: int = 3,
    repeats: int = 20,
    keep_work: bool = False,
) -> dict[str, Any]:
    """The zoo_ops section of results.json (rows sorted by op ratio, worst first). `keep_work` keeps
    both sides' exports in work/ (ours/, official/, portable/) to diff their graphs."""
    started = time.time()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rows = prepare_ours(entries, work)
    versions = {}
    for variant in OFFICIAL_VARIANTS:
        versions = convert_official(rows, work, variant) or versions
    for row in rows:
        set_ops_ratio(row)
    if latencies:
        measure_latency(rows, rounds, repeats)
    if not keep_work:
        shutil.rmtree(work, ignore_errors=True)
    rows = [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]
    rows.sort(key=lambda r: (-(r.get("ops_ratio") or -1.0), r["name"]))
    return {
        "created": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "wall_s": round(time.time() - started, 1),
        "batch": BATCH,
        "seed": SEED,
        "latencies": latencies,
        "rounds": rounds if latencies else 0,
        "repeats": repeats,
        "ours_versions": package_versions(("jax", "flax", "tensorflow", "tensorflowjs")),
        "official_versions": versions,
        "rows": rows,
        "summary": summarize(rows),
        "misses": misses(rows),
    }
