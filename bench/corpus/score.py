"""Run the error corpus and score it: the right code with a fix for every case, and how many auto-fix
repairs with the converted model still computing what the intended model computes.

A conversion case runs twice, auto-fix off then on. Off, it must fail with the expected code and a
fix. On, a fixable case must convert, list its changes, and pass three checks on the golden inputs:
SavedModel vs JAX with the fixed params (the converter's own check), JAX with the fixed params vs the
intended model (so a wrong "fix" fails), and optionally TF.js (Node, wasm) vs the intended model. An
unfixable case must fail the same way again. Checkpoint cases are also put to `doctor`, which must
name the same code. KPIs: % of cases with the right code and a fix (target 100), % fixed
automatically (target ≥ 60).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpus.cases import CHECKPOINT, DTYPES, KEYS, SHAPES, Case, Setup
from jax2tfjs.compare import TOLERANCE, relative_error
from jax2tfjs.doctor import checks as doctor
from jax2tfjs.errors import EXIT_MEMORY_LIMIT, Jax2TfjsError
from jax2tfjs.export import golden as golden_file
from jax2tfjs.tables import format_table, sci, text

TARGET_RIGHT_CODE = 100.0
TARGET_FIXED = 60.0
CONVERTED = "converted"
# Classes whose checkpoint cases doctor must diagnose the same way (it cannot see an input spec).
DOCTOR_CLASSES = (KEYS, SHAPES, DTYPES, CHECKPOINT)


@dataclass
class Result:
    case: str
    error_class: str
    expected: str
    fixable: bool
    kind: str
    code_off: str | None = None  # autofix off (doctor and job cases: their single run)
    fix_off: bool = False
    code_on: str | None = None  # autofix on; CONVERTED when it converted
    fix_on: bool = False
    doctor_code: str | None = None
    autofixes: list[str] = field(default_factory=list)
    # Relative errors (jax2tfjs.compare) on the golden inputs, so all three meet the one TOLERANCE.
    savedmodel_diff: float | None = None
    reference_diff: float | None = None
    tfjs_diff: float | None = None
    seconds: float = 0.0
    note: str = ""
    expected_on: str | None = None  # the code with autofix on when it differs (a later check refuses)

    @property
    def doctor_checked(self) -> bool:
        return self.kind == "convert" and self.error_class in DOCTOR_CLASSES and self.doctor_code != "-"

    @property
    def right_code(self) -> bool:
        ok = self.code_off == self.expected and self.fix_off
        if self.kind == "convert" and not self.fixable:
            ok = ok and self.code_on == (self.expected_on or self.expected) and self.fix_on
        if self.doctor_checked and self.doctor_code is not None:
            ok = ok and self.doctor_code == self.expected
        return ok

    @property
    def fixed(self) -> bool:
        if not (self.fixable and self.code_on == CONVERTED and self.autofixes):
            return False
        required = (self.savedmodel_diff, self.reference_diff)
        if any(d is None or d > TOLERANCE for d in required):
            return False
        return self.tfjs_diff is None or self.tfjs_diff <= TOLERANCE  # measured only with tfjs=True

    @property
    def worst_diff(self) -> float | None:
        diffs = [d for d in (self.savedmodel_diff, self.reference_diff, self.tfjs_diff) if d is not None]
        return max(diffs) if diffs else None


def _attempt(setup: Setup, autofix: bool, out_dir: Path) -> tuple[str, bool, Any, str]:
    """(code or CONVERTED, fix given?, report or None, note)."""
    from jax2tfjs.api import to_tensorflowjs

    try:
        report = to_tensorflowjs(
            setup.model,
            setup.params,
            input_spec=setup.input_spec,
            out_dir=out_dir,
            progress=False,
            autofix=autofix,
        )
    except Jax2TfjsError as err:
        return err.code, bool(err.fix.strip()), None, err.cause
    except Exception as err:  # a crash is a result too: the corpus exists to find them
        return f"crash {type(err).__name__}", False, None, str(err)[:300]
    return CONVERTED, False, report, ""


def _parity(result: Result, setup: Setup, report: Any, out_dir: Path, tfjs: bool) -> None:
    """Relative errors (jax2tfjs.compare), all judged against the one TOLERANCE."""
    result.autofixes = list(report.autofixes)
    golden = golden_file.read(out_dir)
    result.savedmodel_diff = golden.savedmodel_rel_err  # the converter's own check, as it recorded it
    if setup.reference is None:
        result.note = "no reference model to compare with"
        return
    # Corpus models take one input and return one output.
    (x,), (y,) = golden.inputs.values(), golden.outputs.values()
    want = np.asarray(setup.reference(x), np.float32)
    result.reference_diff = relative_error(y.reshape(want.shape), want)
    if tfjs:
        from jax2tfjs.tfjs_runtime import run_in_tfjs

        got, _ = run_in_tfjs(out_dir, x, "wasm", warmup=0, repeats=1, golden_self_check=False)
        result.tfjs_diff = relative_error(np.asarray(got).reshape(want.shape), want)


def _doctor_code(path: Path) -> str | None:
    _, findings = doctor.examine(path)
    coded = [f for f in findings if f.code and f.level in (doctor.ERROR, doctor.WARNING)]
    return coded[0].code if coded else None


def _run_convert(case: Case, setup: Setup, result: Result, scratch: Path, tfjs: bool) -> None:
    result.code_off, result.fix_off, _, note_off = _attempt(setup, False, scratch / "off")
    result.code_on, result.fix_on, report, note_on = _attempt(setup, True, scratch / "on")
    if report is not None and case.fixable:
        _parity(result, setup, report, scratch / "on", tfjs)
    elif report is not None:
        result.note = "converted although the case is not fixable: " + "; ".join(report.autofixes)
    else:
        result.note = note_on if case.fixable else note_off
    if isinstance(setup.model, Path) and case.error_class in DOCTOR_CLASSES:
        result.doctor_code = _doctor_code(setup.model)
    else:
        result.doctor_code = "-"


def _run_doctor(setup: Setup, result: Result) -> None:
    _, findings = doctor.examine(setup.model)
    errors = [f for f in findings if f.level == doctor.ERROR]
    if errors:
        result.code_off, result.fix_off, result.note = errors[0].code, bool(errors[0].fix), errors[0].message
    else:
        result.code_off, result.note = "healthy", "doctor found no error"


def _run_job(setup: Setup, result: Result) -> None:
    assert setup.command is not None
    proc = subprocess.run(setup.command, capture_output=True, text=True, timeout=600)
    found = re.search(r"\b(J2T\d{3})\b", proc.stderr)
    result.code_off = found.group(1) if found else f"exit {proc.returncode}"
    result.fix_off = "fix:" in proc.stderr and proc.returncode == EXIT_MEMORY_LIMIT
    result.note = f"exit code {proc.returncode}"


RUNNERS: dict[str, Callable[..., None]] = {
    "convert": _run_convert,
    "doctor": lambda case, setup, result, scratch, tfjs: _run_doctor(setup, result),
    "job": lambda case, setup, result, scratch, tfjs: _run_job(setup, result),
}


def run_case(case: Case, scratch: Path, *, tfjs: bool = False) -> Result:
    result = Result(case.name, case.error_class, case.code, case.fixable, case.kind, expected_on=case.code_on)
    started = time.perf_counter()
    folder = scratch / case.name
    folder.mkdir(parents=True, exist_ok=True)
    try:
        setup = case.build(folder)
        RUNNERS[case.kind](case, setup, result, folder, tfjs)
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # checkpoints and exports: keep the disk small
    result.seconds = round(time.perf_counter() - started, 2)
    return result


def run(
    cases: list[Case], *, tfjs: bool = False, progress: Callable[[str], None] | None = print
) -> list[Result]:
    results = []
    with tempfile.TemporaryDirectory(prefix="jax2tfjs-corpus-") as tmp:
        for case in cases:
            result = run_case(case, Path(tmp), tfjs=tfjs)
            results.append(result)
            if progress:
                verdict = "fixed" if result.fixed else ("right code" if result.right_code else "WRONG")
                progress(
                    f"[doctor-bench] {case.name}: off {result.code_off}, on {result.code_on or '-'} → {verdict} ({result.seconds} s)"
                )
    return results


def kpis(results: list[Result]) -> dict[str, Any]:
    count = len(results)
    fixable = [r for r in results if r.fixable]
    return {
        "cases": count,
        "right_code_and_fix_pct": round(100 * sum(r.right_code for r in results) / count, 1)
        if count
        else 0.0,
        "fixed_automatically_pct": round(100 * sum(r.fixed for r in results) / count, 1) if count else 0.0,
        "fixable_cases": len(fixable),
        "fixable_cases_fixed": sum(r.fixed for r in fixable),
        "worst_parity_diff": max((r.worst_diff for r in results if r.worst_diff is not None), default=None),
        "targets": {"right_code_and_fix_pct": TARGET_RIGHT_CODE, "fixed_automatically_pct": TARGET_FIXED},
    }


def problems(results: list[Result]) -> list[str]:
    """Why the corpus fails: a wrong code, a fixable case not fixed, a KPI under its target."""
    found = [
        f"{r.case}: expected {r.expected}, got off {r.code_off} / on {r.code_on} / doctor {r.doctor_code} ({r.note})"
        for r in results
        if not r.right_code
    ]
    found += [
        f"{r.case}: fixable but not fixed ({r.note or r.code_on})"
        for r in results
        if r.fixable and not r.fixed
    ]
    found += [
        f"{r.case}: not fixable yet it converted ({r.note})"
        for r in results
        if not r.fixable and r.code_on == CONVERTED
    ]
    summary = kpis(results)
    if summary["right_code_and_fix_pct"] < TARGET_RIGHT_CODE:
        found.append(f"right code and fix: {summary['right_code_and_fix_pct']} % < {TARGET_RIGHT_CODE} %")
    if summary["fixed_automatically_pct"] < TARGET_FIXED:
        found.append(f"fixed automatically: {summary['fixed_automatically_pct']} % < {TARGET_FIXED} %")
    return found


CASE_COLUMNS = [
    ("case", "case", text),
    ("error_class", "class", text),
    ("expected", "expected", text),
    ("code_off", "autofix off", text),
    ("code_on", "autofix on", lambda v: v or "-"),
    ("doctor_code", "doctor", lambda v: v or "-"),
    ("right_code", "code+fix", lambda v: "yes" if v else "NO"),
    ("fixed", "auto-fixed", lambda v: "yes" if v else ""),
    ("worst_diff", "parity |Δ|", sci),
    ("seconds", "s", lambda v: f"{v:.1f}"),
]
CLASS_COLUMNS = [
    ("error_class", "class", text),
    ("cases", "cases", text),
    ("right_code", "right code + fix", text),
    ("fixable", "fixable", text),
    ("fixed", "auto-fixed", text),
]


def render(results: list[Result]) -> str:
    rows = [
        {**asdict(r), "right_code": r.right_code, "fixed": r.fixed, "worst_diff": r.worst_diff}
        for r in results
    ]
    classes = []
    for name in dict.fromkeys(r.error_class for r in results):
        members = [r for r in results if r.error_class == name]
        classes.append(
            {
                "error_class": name,
                "cases": len(members),
                "right_code": sum(r.right_code for r in members),
                "fixable": sum(r.fixable for r in members),
                "fixed": sum(r.fixed for r in members),
            }
        )
    summary = kpis(results)
    lines = [
        format_table(rows, CASE_COLUMNS),
        "",
        format_table(classes, CLASS_COLUMNS),
        "",
        f"right code and a fix: {summary['right_code_and_fix_pct']} % (target {TARGET_RIGHT_CODE:g} %)",
        f"fixed automatically:  {summary['fixed_automatically_pct']} % of {summary['cases']} cases "
        f"({summary['fixable_cases_fixed']} of {summary['fixable_cases']} fixable; target ≥ {TARGET_FIXED:g} %)",
        f"worst parity relative error of a fixed case: {sci(summary['worst_parity_diff'])} (allowed {TOLERANCE:g})",
    ]
    return "\n".join(lines)


def to_json(results: list[Result]) -> dict[str, Any]:
    return {
        "kpis": kpis(results),
        "cases": [{**asdict(r), "right_code": r.right_code, "fixed": r.fixed} for r in results],
        "problems": problems(results),
    }
