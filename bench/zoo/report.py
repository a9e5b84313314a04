"""The zoo's table (terminal and markdown), its summary line, and zoo.md."""

from __future__ import annotations

from typing import Any

from jax2tfjs.compare import RELATIVE_RULE, TOLERANCE
from jax2tfjs.tables import Column, format_table, markdown_table, sci, text


def _converted(row: dict[str, Any]) -> str:
    return "yes" if row["converted"] and not row["error"] else (row["error"] or "no")


COLUMNS: list[Column] = [
    ("name", "model", text),
    ("style", "style", text),
    ("_converted", "converted", text),
    ("max_abs_diff", "max |Δ|", sci),
    ("rel_err", "rel err", sci),
    ("_worst", "worst output", text),
    ("_passed", "parity", text),
    ("_failing", "failing backends", text),
    ("tfjs_compute_ops", "tfjs ops", text),
    ("model_bytes", "size KB", lambda v: "-" if v is None else f"{v / 1024:.1f}"),
    ("convert_s", "convert s", lambda v: "-" if v is None else f"{v:.2f}"),
]


def _worst(row: dict[str, Any]) -> str | None:
    """The output with the largest relative error, named only when there are several."""
    return row.get("worst_output") if len(row.get("outputs") or ()) > 1 else None


def _failing(row: dict[str, Any], tolerance: float) -> str | None:
    """The backends (Node's `wasm`, the browser's `chromium-webgl`) that failed the row, with why."""
    failed = []
    for name, result in (row.get("backends") or {}).items():
        if "error" in result:
            failed.append(f"{name} (error)")
        elif result["rel_err"] > tolerance:
            failed.append(f"{name} ({sci(result['rel_err'])})")
    return ", ".join(failed) or None


def _display_rows(rows: list[dict[str, Any]], tolerance: float) -> list[dict[str, Any]]:
    return [
        {
            **r,
            "_converted": _converted(r),
            "_passed": "ok" if r["passed"] else "FAIL",
            "_worst": _worst(r),
            "_failing": _failing(r, tolerance),
        }
        for r in rows
    ]


def _tensor(tensor: dict[str, Any]) -> str:
    dims = ", ".join("?" if d is None else str(d) for d in tensor.get("dims", tensor["shape"]))
    return f"`{tensor['name']}` [{dims}] {tensor['dtype']}"


def signature_line(row: dict[str, Any]) -> str:
    """`name`: inputs → outputs, as the export names them (dims: a symbol when dynamic)."""
    sig = row["signature"]
    inputs = ", ".join(_tensor(t) for t in sig["inputs"])
    outputs = ", ".join(_tensor(t) for t in sig["outputs"])
    return f"- `{row['name']}`: {inputs} → {outputs}"


def _has_signature(row: dict[str, Any]) -> bool:
    """More than one image in, one array out: several inputs or outputs, a scalar, a static shape,
    a stated dim, or an output that is not float32."""
    sig = row.get("signature")
    if not sig:
        return False
    if len(sig["inputs"]) > 1 or len(sig["outputs"]) > 1:
        return True
    (only_in,), (only_out,) = sig["inputs"], sig["outputs"]
    return (
        only_in["dims"][:1] != ["b"]
        or any(isinstance(d, str) for d in only_in["dims"][1:])
        or (only_out["dtype"] != "float32")
    )


def table(rows: list[dict[str, Any]], tolerance: float = TOLERANCE) -> str:
    return format_table(_display_rows(rows, tolerance), COLUMNS)


def per_backend_line(summary: dict[str, Any]) -> str:
    """`cpu 33/33, wasm 33/33, chromium-webgl 31/33`: models within the tolerance per backend, of those
    that ran there (a model that failed to convert runs nowhere)."""
    counts = summary.get("per_backend") or {}
    return ", ".join(f"{name} {c['passed']}/{c['ran']}" for name, c in counts.items())


def browser_line(result: dict[str, Any]) -> str | None:
    """What Chromium offered: the backend the demo's order (webgl → wasm → cpu) lands on there, and
    WebGPU's adapter or why there is none."""
    found = result.get("browser")
    if not found:
        return None
    return (
        f"Chromium (headless, TF.js {found.get('tfjs_version', '?')}): backends "
        f"{', '.join(result['config'].get('browser') or [])}; the order webgl → wasm → cpu lands on "
        f"{found.get('default_backend', '?')}, the backend a user's browser falls back to; webgpu: "
        f"{found.get('webgpu', '?')}."
    )


def summary_line(summary: dict[str, Any], backends: list[str]) -> str:
    worst = summary["worst_max_abs_diff"]
    verdict = "met" if summary["targets_met"] else "MISSED"
    return (
        f"[zoo] success {summary['passed']}/{summary['models']} = {summary['success_rate']:.1%} "
        f"(converted and relative error <= {summary['tolerance']:g} on {', '.join(backends)}); "
        f"worst max|Δ| {sci(worst)}, worst relative {sci(summary['worst_rel_err'])}; "
        f"targets (100 %, every output within {summary['tolerance']:g}): {verdict}"
        + (f"; per backend {per_backend_line(summary)}" if summary.get("per_backend") else "")
    )


def markdown(result: dict[str, Any]) -> str:
    """zoo.md: what ran, the table, the summary and each failure's message."""
    rows, summary, config = result["rows"], result["summary"], result["config"]
    lines = [
        "# Model zoo: TF.js vs JAX",
        "",
        f"Generated by `make zoo` (`python -m bench.zoo`): {summary['models']} models, TF.js backends "
        f"{', '.join([*config['backends'], *('chromium-' + b for b in config.get('browser') or [])])}, "
        f"batch {config['batch']}, seed {config['seed']}, quantization {config['quantization']}. "
        f"Pass: converted, ran, and {RELATIVE_RULE} <= {summary['tolerance']:g} for every output, each on its own scale.",
        "",
        markdown_table(_display_rows(rows, summary["tolerance"]), COLUMNS),
        "",
        f"**Success rate {summary['passed']}/{summary['models']} = {summary['success_rate']:.1%}**, "
        f"worst max|Δ| {sci(summary['worst_max_abs_diff'])}, worst relative error "
        f"{sci(summary['worst_rel_err'])}; targets {'met' if summary['targets_met'] else 'MISSED'}.",
    ]
    if summary.get("per_backend"):
        lines += [
            "",
            f"Within the tolerance per backend (of the models that ran there): {per_backend_line(summary)}.",
        ]
    if browser_line(result):
        lines += ["", browser_line(result)]
    signed = [r for r in rows if _has_signature(r)]
    if signed:  # what TF.js is fed and returns, by name; each output compared on its own scale
        lines += ["", "## Signatures (inputs → outputs, by name)", ""]
        lines += [signature_line(r) for r in signed]
    fixed = [r for r in rows if r.get("autofixes")]
    if fixed:  # zoo models are built right: a change by auto-fix here is a diagnosis bug to look at
        lines += ["", "## Auto-fixed on conversion", ""]
        lines += [f"- `{r['name']}`: {'; '.join(r['autofixes'])}" for r in fixed]
    failures = [r for r in rows if not r["passed"]]
    if failures:
        lines += ["", "## Failures", ""]
        lines += [f"- `{r['name']}`: {r.get('error_message') or 'outside tolerance'}" for r in failures]
    lines.append("")
    return "\n".join(lines)
