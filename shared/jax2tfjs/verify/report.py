"""The verification summary: `report.md` (a table of every export) and a size-vs-accuracy chart.

Rows come from this run and, for a partial run, from the verify.json files earlier runs left: any of
those may be damaged (edited, from an older version, missing keys), so every row is cleaned into the
shape the table needs first (`cleaned`): what is missing counts as failed, never as passed, and a
damaged row never stops the report, nor any later verify.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from jax2tfjs import atomic
from jax2tfjs.compare import RELATIVE_RULE

COLUMNS = (
    "export",
    "model KB",
    "reference acc",
    "TF.js acc (wasm)",
    "drop (pts)",
    "golden max |Δ|",
    "golden rel err",
    "golden argmax",
    "load ms",
    "ms b=1 (wasm)",
    "ms b=32 (wasm)",
    "ms b=1 (cpu)",
    "Chromium ms (golden rows)",
    "status",
)
BROWSER_PREFIX = "chromium-"  # jax2tfjs.browser.session.NAME_PREFIX: browser backends in `tfjs`


REVERIFY = "run `make verify` for it again"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _texts(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def cleaned(row: Any, export: str) -> dict[str, Any]:
    """`row` in the shape the table and chart read: every key present with its type; what is missing
    or mistyped counts as failed, never as passed. `export` names it when the row does not."""
    row = _dict(row)
    failures = _texts(row.get("failures"))
    passed = row.get("passed")
    if not isinstance(passed, bool):
        passed = False
        failures.append(f"its verify.json records no verdict: {REVERIFY}")
    elif not passed and not failures:
        failures.append(f"its verify.json records a failure without a reason: {REVERIFY}")
    return {
        **row,
        "export": str(row.get("export") or export),
        "model": str(row.get("model") or export.split("/")[0]),
        "quantization": str(row.get("quantization") or export.split("/")[-1]),
        "samples": row.get("samples") if isinstance(row.get("samples"), int) else 0,
        "passed": passed and not failures,
        "failures": failures,
        "notes": _texts(row.get("notes")),
        "tfjs": {str(name): _dict(result) for name, result in _dict(row.get("tfjs")).items()},
        "bytes": _dict(row.get("bytes")),
        "reference": _dict(row.get("reference")),
        "browser": _dict(row.get("browser")),
    }


def _number(value: Any, spec: str) -> str:
    return format(value, spec) if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def _status(row: dict[str, Any]) -> str:
    return "pass" if row["passed"] else "FAIL: " + "; ".join(row["failures"])


def _worst(results: list[dict[str, Any]], key: str, pick: Any) -> float | None:
    values = [r[key] for r in results if isinstance(r.get(key), int | float)]
    return pick(values) if values else None


def _browser_times(backends: dict[str, dict[str, Any]]) -> str:
    """Each Chromium backend's median time for golden.json's rows: `webgl 7.7, wasm 0.50`."""
    times = [
        f"{name[len(BROWSER_PREFIX) :]} {_number(result.get('infer_ms_golden'), '.2f')}"
        for name, result in backends.items()
        if name.startswith(BROWSER_PREFIX)
    ]
    return ", ".join(times) or "-"


def _cells(row: dict[str, Any]) -> list[str]:
    backends = {name: r for name, r in row["tfjs"].items() if "error" not in r}
    model_bytes = row["bytes"].get("model")
    size = _number(model_bytes / 1024 if isinstance(model_bytes, int | float) else None, ",.0f")
    if not backends:
        return [row["export"], size, *["-"] * (len(COLUMNS) - 3), _status(row)]
    results = list(backends.values())
    main = backends.get("wasm") or results[0]
    cpu = backends.get("cpu", {})
    return [
        row["export"],
        size,
        _number(row["reference"].get("accuracy"), ".2%"),
        _number(main.get("accuracy"), ".2%"),
        _number(_worst(results, "accuracy_drop_points", max), "+.2f"),
        _number(_worst(results, "max_abs_diff", max), ".2e"),
        _number(_worst(results, "rel_err", max), ".2e"),
        _number(_worst(results, "argmax_agreement", min), ".2%"),
        _number(main.get("load_ms"), ".0f"),
        _number(main.get("infer_ms_batch1"), ".2f"),
        _number(main.get("infer_ms_batch32"), ".2f"),
        _number(cpu.get("infer_ms_batch1"), ".2f"),
        _browser_times(backends),
        _status(row),
    ]


def _browser_lines(rows: list[dict[str, Any]]) -> list[str]:
    """What the browser run found, once: which backends ran as `chromium-*` rows of the worst-backend
    columns, and the backend a user's browser lands on by the demo's order (webgl → wasm → cpu)."""
    seen = next((row["browser"] for row in rows if row["browser"]), None)
    if seen is None:
        return []
    skipped = "; ".join(f"{name}: {why}" for name, why in _dict(seen.get("skipped")).items())
    return [
        "",
        f"Chromium (headless, TF.js {seen.get('tfjs_version', '?')}): golden.json on "
        f"{', '.join(BROWSER_PREFIX + str(b) for b in seen.get('backends') or [])}, judged like the Node "
        f"backends (in the worst-backend columns). The order webgl → wasm → cpu lands on "
        f"**{seen.get('default_backend', '?')}** there: the backend a user's browser falls back to."
        + (f" Not run: {skipped}." if skipped else ""),
    ]


def markdown(rows: list[dict[str, Any]], job: dict[str, Any]) -> str:
    """The report; `rows` must be cleaned (write() does it)."""
    samples = max((row["samples"] for row in rows), default=0)
    lines = [
        "# Export verification",
        "",
        f"Generated by `make verify` at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: each export as "
        f"shipped, in TF.js 4.22 in Node (cpu and wasm backends), against its golden.json (JAX's outputs, "
        f"{RELATIVE_RULE}) and, for exports of checkpoints, on {samples} test images. Reference acc: the "
        f"checkpoint's recorded test accuracy (on part of the split: the `none` export's). Drop, diff and "
        f"agreement: worst backend. Peak RSS of the job: {job.get('peak_rss_mb', '?')} MB.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + " --- |" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
    lines += _browser_lines(rows)
    passed = sum(row["passed"] for row in rows)
    notes = [f"- {row['export']}: {'; '.join(row['notes'])}" for row in rows if row["notes"]]
    lines += ["", f"{passed} of {len(rows)} exports pass their thresholds.", ""]
    if notes:
        lines += ["Notes:", "", *notes, ""]
    lines += ["![size vs accuracy](verify_chart.png)", ""]
    return "\n".join(lines)


def chart(rows: list[dict[str, Any]], path: Path) -> None:
    """Size (KB) vs TF.js accuracy, one marker per quantization, one colour per model; `rows` cleaned."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    markers = {"none": "o", "float16": "s", "uint16": "D", "uint8": "^"}
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    models = sorted({row["model"] for row in rows})
    colours = dict(zip(models, plt.get_cmap("tab10").colors, strict=False))
    for row in rows:
        backends = row["tfjs"]
        main = backends.get("wasm") or next(iter(backends.values()), {})
        if not isinstance(main.get("accuracy"), int | float) or not isinstance(
            row["bytes"].get("model"), int
        ):
            continue  # no test split ran (golden.json only), or a damaged row: nothing to plot
        ax.scatter(
            row["bytes"]["model"] / 1024,
            100 * main["accuracy"],
            s=60,
            color=colours[row["model"]],
            marker=markers.get(row["quantization"], "x"),
            edgecolors="black" if row["passed"] else "red",
        )
    for model, colour in colours.items():
        ax.scatter([], [], color=colour, label=model)
    for quant, marker in markers.items():
        ax.scatter([], [], color="grey", marker=marker, label=quant)
    ax.set_xlabel("model size: model.json + weight shards (KB)")
    ax.set_ylabel("TF.js test accuracy (%)")
    ax.set_title("Size vs accuracy per quantization (TF.js wasm)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    with atomic.atomic_path(path) as tmp, tmp.open("wb") as fh:
        fig.savefig(fh, format="png")
    plt.close(fig)


def write(root: Path, rows: list[dict[str, Any]], job: dict[str, Any]) -> None:
    """report.md and verify_chart.png in `root`, from rows of this run or read back (any content)."""
    rows = [cleaned(row, _dict(row).get("export") or "?/?") for row in rows]
    chart(rows, root / "verify_chart.png")
    with atomic.atomic_path(root / "report.md") as tmp:
        tmp.write_text(markdown(rows, job))
