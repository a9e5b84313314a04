"""`doctor` on a checkpoint: finished (not an interrupted save), metadata readable, model in the
registry, state restorable, parameters matching the registry model (or fixable by auto-fix: a warning
saying what it will do), dtypes TF.js has."""

from __future__ import annotations

from pathlib import Path

from jax2tfjs import checkpoints, sources
from jax2tfjs.doctor.findings import ERROR, OK, WARNING, Finding, from_error
from jax2tfjs.errors import CheckpointError, Jax2TfjsError, ModelInputError
from jax2tfjs.models import get_model
from jax2tfjs.prepare import autofix
from jax2tfjs.prepare.trees import leaves


def check_checkpoint(path: Path) -> list[Finding]:
    findings: list[Finding] = []
    steps = checkpoints.finished_steps(path)
    for tmp in checkpoints.interrupted_saves(path):
        findings.append(
            Finding(
                WARNING,
                "folder",
                f"{tmp.name}: an interrupted save (ignored; the next training run removes it)",
            )
        )
    if steps:
        findings.append(
            Finding(
                OK,
                "folder",
                f"model folder with {len(steps)} finished steps ({', '.join(map(str, steps))}); checking the newest",
            )
        )
    try:
        step_dir = sources.step_folder(path)
    except CheckpointError as err:
        return [*findings, from_error("finished", err)]
    findings.append(Finding(OK, "finished", f"{step_dir.name}: a finished save"))
    try:
        meta = checkpoints.read_metadata(step_dir)
        model_meta = meta.get("model") if isinstance(meta, dict) else None
        if not isinstance(model_meta, dict) or "name" not in model_meta:
            raise CheckpointError(
                "the metadata names no model (no 'model': {'name': …} entry)",
                fix="re-save the checkpoint with jobs/train, which records the model and its input spec",
                path=step_dir,
            )
        model = get_model(model_meta["name"])
    except Jax2TfjsError as err:
        return [*findings, from_error("metadata", err)]
    metrics = (meta.get("metrics") or [{}])[-1]
    accuracy = metrics.get("test_accuracy") if isinstance(metrics, dict) else None
    accuracy = f", test accuracy {accuracy:.4f}" if isinstance(accuracy, int | float) else ""
    findings.append(
        Finding(
            OK,
            "metadata",
            f"model {model.name}, step {meta.get('step')}, epoch {meta.get('epoch')}{accuracy}",
        )
    )
    spec = model_meta.get("input_spec")
    if spec:
        findings.append(Finding(OK, "input spec", f"{spec['shape']} {spec['dtype']} (batch first)"))
    else:
        findings.append(
            Finding(
                ERROR,
                "input spec",
                "the metadata records no input spec",
                ModelInputError.code,
                "re-save with jobs/train",
            )
        )
    try:
        tree = sources.restore_tree(step_dir)
    except CheckpointError as err:
        return [*findings, from_error("restore", err)]
    findings.append(Finding(OK, "restore", f"the state restores ({len(leaves(tree))} parameter arrays)"))
    expected = sources.registry_params(model)
    try:
        autofix.prepare(tree, expected, autofix=False)
        findings.append(
            Finding(OK, "params", f"keys, shapes and dtypes match the registry model {model.name}")
        )
    except Jax2TfjsError as strict:
        try:
            prepared = autofix.prepare(tree, expected, autofix=True)
        except Jax2TfjsError as err:
            findings.append(from_error("params", err))
        else:
            findings.append(
                Finding(
                    WARNING,
                    "params",
                    strict.cause,
                    strict.code,
                    "conversion fixes this automatically (autofix on): " + "; ".join(prepared.autofixes),
                )
            )
    return findings
