"""`doctor` on a checkpoint: finished (not an interrupted save), no damaged step in the model's
folder, files as recorded at save time (sizes and sha256), metadata readable, model in the registry
and the one its folder is named for, state restorable, parameters matching the registry model (or
fixable by auto-fix: a warning saying what it will do), dtypes TF.js has."""

from __future__ import annotations

from pathlib import Path

from jax2tfjs import checkpoints, sources
from jax2tfjs.doctor.findings import ERROR, OK, WARNING, Finding, from_error
from jax2tfjs.errors import CheckpointError, CheckpointModelError, Jax2TfjsError, ModelInputError
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
    findings += _damaged_steps(path, steps)
    step_dir = path / str(steps[-1]) if steps else path
    try:
        checkpoints.validate(step_dir, check_files=False)
    except CheckpointError as err:
        return [*findings, from_error("finished", err)]
    findings.append(Finding(OK, "finished", f"{step_dir.name}: a finished save"))
    files = _files_finding(step_dir)
    findings.append(files)
    if files.level == ERROR:
        return findings
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
    wanted = checkpoints.folder_model(step_dir)
    if wanted:
        try:
            checkpoints.check_model(step_dir, wanted, meta)
            findings.append(Finding(OK, "model", f"in its model's folder ({step_dir.parent.name}/)"))
        except CheckpointModelError as err:
            return [*findings, from_error("model", err)]
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


def _damaged_steps(path: Path, steps: list[int]) -> list[Finding]:
    """Step folders of a model folder that cannot be used: an error when at or past the newest
    finished step (training refuses to resume past it), a warning when older (ignored)."""
    found = []
    for step, problem in checkpoints.damaged_steps(path).items():
        newest = not steps or step >= steps[-1]
        found.append(
            Finding(
                ERROR if newest else WARNING,
                "steps",
                f"step {step}: {problem}",
                CheckpointError.code,
                f"move it out of the way (`mv {path / str(step)} {path / str(step)}.damaged`)",
            )
        )
    return found


def _files_finding(step_dir: Path) -> Finding:
    """Every file against the record written at save time: sizes and sha256 (reads every byte)."""
    try:
        problems = checkpoints.file_problems(step_dir, hashes=True)
    except CheckpointError as err:
        return from_error("files", err)
    if problems is None:
        return Finding(
            OK,
            "files",
            "no file record (saved before records existed, or stopped before writing it): not compared",
        )
    if problems:
        return from_error(
            "files",
            CheckpointError(
                checkpoints.corrupt_cause(problems),
                fix="use another step (`make check` lists them) or retrain; never edit a checkpoint by hand",
                path=step_dir,
            ),
        )
    return Finding(OK, "files", "every file as recorded at save time (sizes and sha256)")
