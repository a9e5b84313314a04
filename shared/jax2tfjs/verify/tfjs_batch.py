"""Run many exports in real TF.js on one backend in ONE Node process (node/verify_exports.mjs).

Starting Node and loading TF.js takes about as long as checking a small export, so verify pays for
it once per backend instead of once per export. The process is started by the runners' shared
contract (tfjs_runtime.run_node_script); this module only lays out the files for many exports.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jax2tfjs.errors import ExportError
from jax2tfjs.tfjs_runtime import (
    BACKENDS,
    NODE_DIR,
    NodeScriptFailed,
    check_setup,
    node_temp_dir,
    read_outputs,
    run_node_script,
    write_input,
)

RUNNER = NODE_DIR / "verify_exports.mjs"
# Per export on top of the process's start: the cpu backend needs about 10 s for 2,000 CNN inputs.
SECONDS_PER_EXPORT = 120.0
# verify_exports.mjs prints this on stderr before each export (index, then the folder).
_STARTING = re.compile(r"^verify: starting (\d+) (.*)$", re.MULTILINE)


@dataclass(frozen=True)
class ExportRuns:
    """The runs to put through one export: `inputs` maps each run's name (golden, test) to its inputs
    by the export's input names (model.json's signature, tfjs_runtime.export_io). `timed` names the
    run whose rows time batch sizes. Runs that share an input array (the test split, the same object
    for every export of a backend) share its file too. Arrays cross in their own dtype (bools as
    bools, other integers as int32, the rest float32); the runner casts each to the dtype the export
    declares, and a missing or unknown input name is that export's error."""

    folder: Path
    inputs: dict[str, dict[str, np.ndarray]]
    timed: str | None = None


@dataclass
class ExportOutcome:
    """What TF.js gave for one export: per run name, its outputs by output name (in the runner's
    order, model.json's), or the error that stopped it."""

    folder: Path
    outputs: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    load_ms: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    error: str | None = None


def _export_specs(runs: list[ExportRuns], tmp: Path) -> list[dict[str, Any]]:
    """Each export's runs for the request, each run's outputs in tmp/out-<export>-<run>/; every
    distinct input array is written once (the test split is the same array for every export of a
    backend run)."""
    written: dict[int, dict[str, Any]] = {}
    specs = []
    for i, run in enumerate(runs):
        spec: dict[str, Any] = {"model_dir": str(run.folder.absolute()), "runs": [], "timed_run": run.timed}
        for j, (run_name, named) in enumerate(run.inputs.items()):
            inputs = []
            for input_name, values in named.items():
                if id(values) not in written:
                    written[id(values)] = write_input(tmp / f"input-{len(written)}.bin", values)
                inputs.append({"name": input_name, **written[id(values)]})
            spec["runs"].append({"name": run_name, "inputs": inputs, "output_dir": str(tmp / f"out-{i}-{j}")})
        specs.append(spec)
    return specs


def _outcome(run: ExportRuns, spec: dict[str, Any], found: dict[str, Any]) -> ExportOutcome:
    if "error" in found:
        return ExportOutcome(run.folder, error=found["error"])
    outputs = {
        planned["name"]: read_outputs(Path(planned["output_dir"]), found["runs"][planned["name"]]["outputs"])
        for planned in spec["runs"]
    }
    return ExportOutcome(run.folder, outputs, found["load_ms"], found.get("timings") or {})


def _died(backend: str, runs: list[ExportRuns], failed: NodeScriptFailed, runtime: Path) -> ExportError:
    """The error for a Node process that ended without its result: which export it was running."""
    started = _STARTING.findall(failed.stderr)
    if not started:
        return ExportError(
            f"TF.js ({backend}) could not start: {failed.cause}",
            fix=f"check the node runtime {runtime} (`make setup` fills it in a checkout)",
        )
    index = int(started[-1][0])
    folder = runs[index].folder
    return ExportError(
        f"TF.js ({backend}) died while running export {folder.parent.name}/{folder.name} "
        f"({index + 1} of {len(runs)}): {failed.cause}",
        fix="verify that export alone (MODEL=, QUANT=) to see its error; re-run `make convert` for it",
        path=folder,
    )


def run_exports(
    runs: list[ExportRuns],
    backend: str,
    *,
    timing_batches: tuple[int, ...] = (1, 32),
    warmup: int = 3,
    repeats: int = 10,
    setup: tuple[str, Path] | None = None,
) -> list[ExportOutcome]:
    """One outcome per run, in order. An export TF.js cannot load or run is an outcome with its
    error; a backend that cannot start, a Node process that dies or hangs raises ExportError.
    `setup` is tfjs_runtime.check_setup()'s (node, runtime) when the caller has checked it already."""
    if backend not in BACKENDS:
        raise ExportError(
            f"unknown TF.js backend {backend!r}", fix=f"use one or more of {', '.join(BACKENDS)}"
        )
    node, runtime = setup or check_setup()
    timeout_s = 60 + SECONDS_PER_EXPORT * len(runs)
    with node_temp_dir("verify") as name:
        tmp = Path(name)
        specs = _export_specs(runs, tmp)
        request = {
            "backend": backend,
            "node_runtime": str(runtime),
            "warmup": warmup,
            "repeats": repeats,
            "timing_batches": list(timing_batches),
            "exports": specs,
        }
        try:
            _, result = run_node_script(node, RUNNER, request, timeout_s=timeout_s, workdir=tmp)
        except subprocess.TimeoutExpired as err:
            raise ExportError(
                f"TF.js ({backend}) did not finish {len(runs)} exports within {timeout_s:g} s",
                fix="use fewer samples (SAMPLES=) or verify fewer exports (MODEL=, QUANT=)",
            ) from err
        except NodeScriptFailed as failed:
            raise _died(backend, runs, failed, runtime) from failed
        try:
            return [
                _outcome(run, spec, entry)
                for run, spec, entry in zip(runs, specs, result["exports"], strict=True)
            ]
        except (KeyError, TypeError, ValueError, OSError) as err:  # zip(strict), a bad output shape
            raise ExportError(
                f"TF.js ({backend}) answered for {len(result.get('exports') or [])} of {len(runs)} exports "
                f"or left an output unreadable: {err}",
                fix="a bug in the runner (node/verify_exports.mjs); please report it with this message",
            ) from err
