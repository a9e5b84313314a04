"""Fault table: the job contract, as users meet it through make and the jobs.

Each row is a command a user types: a bad make variable (every one is checked before any work, with
J2T401 naming the variable and the flag), the documented comma lists, the memory guard's exit code
seen through make, Ctrl-C and `docker stop` at a job's busiest instant, a full or foreign volume, and
a volume another job holds. Make-level rows run `make <target> VOLUMES=<this case's volumes>`; the
harness (faultkit) checks the exit code, the error code, that no traceback reached the user, that
what `intact` names is byte-identical, and that no temporary file is left.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path

import pytest
from faultkit import Case, Volumes, base_volumes_fixture, case_volumes, run_case, snapshot

from jax2tfjs import locks

base_volumes = pytest.fixture(scope="session")(base_volumes_fixture)

# {tmp} is <volumes>/tmp, so this is the case's volumes root (data/, checkpoints/, exports/).
VOLUMES = "VOLUMES={tmp}/.."
TRAIN = ("{train}", "jobs/train.py", "--model=mlp", "--data-dir={data}", "--checkpoint-dir={checkpoints}")
CONVERT = (
    "{convert}", "jobs/convert.py", "--model=mlp", "--quantization=none", "--data-dir={data}",
    "--checkpoint-dir={checkpoints}", "--export-dir={exports}",
)  # fmt: skip
VERIFY = ("{convert}", "jobs/verify.py", "--model=mlp", "--data-dir={data}", "--export-dir={exports}")
# The base checkpoint's own configuration: training it again is a no-op ("up to date").
BASE_TRAIN_VARIABLES = ("MODEL=mlp", "EPOCHS=2", "TRAIN_SAMPLES=256")
ALL_VOLUMES = ("data", "checkpoints", "exports")
KEEP_DATA_AND_EXPORTS = ("data", "exports")


def make(target: str, *variables: str) -> tuple[str, ...]:
    return ("make", "--no-print-directory", target, VOLUMES, *variables)


# Locks held by this test process for a case (released after each test).
_held: list[contextlib.ExitStack] = []
# A volume's snapshot as the case's setup found it, keyed by (case root, relative folder).
_before: dict[tuple[Path, str], dict[str, str]] = {}


def _hold(folder_of: str):
    """Setup: this process holds the lock of `folder_of` (relative to the volumes root), as a
    running job would, for the whole command: beside a model's checkpoint folder (as train takes
    it), inside a volume."""

    def setup(volumes: Volumes) -> None:
        stack = contextlib.ExitStack()
        beside = folder_of.startswith("checkpoints/")
        stack.enter_context(locks.hold(volumes.root / folder_of, "test-holder", beside=beside))
        _held.append(stack)

    return setup


def _remember(folder: str):
    def setup(volumes: Volumes) -> None:
        _before[(volumes.root, folder)] = snapshot(volumes.root / folder)

    return setup


def _unchanged(folder: str):
    """Check: what _remember(folder) saw is still there, byte for byte (new files may be added)."""

    def check(volumes: Volumes, result: subprocess.CompletedProcess) -> None:
        before = _before.pop((volumes.root, folder))
        after = snapshot(volumes.root / folder)
        changed = sorted(name for name, digest in before.items() if after.get(name) != digest)
        assert not changed, f"{folder}: earlier files changed or went missing: {changed[:10]}"

    return check


def _both_exports_fresh(volumes: Volumes, result: subprocess.CompletedProcess) -> None:
    index = json.loads((volumes.exports / "index.json").read_text())
    listed = {entry["model_json"] for entry in index["exports"]}
    assert {"flax_mlp/none/model.json", "flax_mlp/uint8/model.json"} <= listed
    for quant in ("none", "uint8"):
        report = json.loads((volumes.exports / "flax_mlp" / quant / "report.json").read_text())
        assert report["job"]["exports_in_job"] == 2  # both made by this one job


def _both_verified(volumes: Volumes, result: subprocess.CompletedProcess) -> None:
    for quant in ("none", "uint8"):
        row = json.loads((volumes.exports / "flax_mlp" / quant / "verify.json").read_text())
        assert row["samples"] == 50 and row["job"]["wall_s"] > 0


def _trained_flax_cnn_too(volumes: Volumes, result: subprocess.CompletedProcess) -> None:
    _unchanged("checkpoints/flax_mlp")(volumes, result)
    steps = [p.name for p in (volumes.checkpoints / "flax_cnn").iterdir() if p.name.isdigit()]
    assert steps, "MODEL=mlp,flax did not train flax_cnn after flax_mlp"


def _new_step_kept(volumes: Volumes, result: subprocess.CompletedProcess) -> None:
    _unchanged("checkpoints/flax_mlp")(volumes, result)
    steps = sorted(int(p.name) for p in (volumes.checkpoints / "flax_mlp").iterdir() if p.name.isdigit())
    assert steps[-1] == 24, f"the epoch finished before Ctrl-C was not kept: steps {steps}"


def bad_variable(name: str, target: str, setting: str, flag: str, *extra: str) -> Case:
    """`make <target> <setting>` refused up front: exit 2 from make, the job's own 2 named, J2T401
    naming the variable and the flag, and nothing changed."""
    return Case(
        name=f"make {target} {setting} is refused up front",
        command=make(target, *extra, setting),
        exit_code=2,
        error_code="J2T401",
        output_has=(f"{setting.split('=')[0]}=", f"({flag})", f"[make] job {target} exited 2"),
    )


CASES = [
    # ---- every numeric make variable, through make: J2T401, nothing touched ------------------------
    bad_variable("EPOCHS", "train", "EPOCHS=abc", "--epochs", "MODEL=mlp"),
    bad_variable("EPOCHS", "train", "EPOCHS=-1", "--epochs", "MODEL=mlp"),
    bad_variable("BATCH_SIZE", "train", "BATCH_SIZE=0", "--batch-size", "MODEL=mlp"),
    bad_variable("LR", "train", "LR=nan", "--lr", "MODEL=mlp"),
    bad_variable("TRAIN_SAMPLES", "train", "TRAIN_SAMPLES=abc", "--train-samples", "MODEL=mlp"),
    bad_variable("MEMORY_LIMIT_GB", "convert", "MEMORY_LIMIT_GB=0", "--memory-limit-gb", "MODEL=mlp"),
    bad_variable("SAMPLES", "verify", "SAMPLES=0", "--samples", "MODEL=mlp"),
    bad_variable("STEP", "convert", "STEP=../flax_mlp/15", "--step", "MODEL=flax"),
    bad_variable("QUANT", "convert", "QUANT=none,float32", "--quantization", "MODEL=mlp"),
    bad_variable("MODEL", "train", "MODEL=mlp,resnet", "--model"),
    Case(
        # FRESH=1 used to move the checkpoints aside before a bad SEED stopped the job.
        name="make train FRESH=1 SEED=abc moves nothing aside",
        command=make("train", "MODEL=mlp", "FRESH=1", "SEED=abc"),
        exit_code=2,
        error_code="J2T401",
        output_has=("SEED=abc (--seed)",),
    ),
    # ---- the same rules on the jobs themselves --------------------------------------------------------
    Case(
        name="train --epochs=0 is refused",
        command=(*TRAIN, "--epochs=0"),
        exit_code=2,
        error_code="J2T401",
        output_has=("EPOCHS=0 (--epochs) is not a whole number ≥ 1",),
    ),
    Case(
        name="train --lr=inf is refused",
        command=(*TRAIN, "--lr=inf"),
        exit_code=2,
        error_code="J2T401",
        output_has=("LR=inf (--lr) is not a finite number > 0",),
    ),
    Case(
        name="train --seed=-1 is refused",
        command=(*TRAIN, "--seed=-1"),
        exit_code=2,
        error_code="J2T401",
        output_has=("SEED=-1 (--seed)",),
    ),
    Case(
        name="MEMORY_LIMIT_GB=nan in the environment is refused",
        command=(*TRAIN, "--epochs=2"),
        env={"MEMORY_LIMIT_GB": "nan"},
        exit_code=2,
        error_code="J2T401",
        output_has=("MEMORY_LIMIT_GB=nan (--memory-limit-gb) is not a finite number > 0",),
    ),
    Case(
        name="verify --samples=-5 is refused",
        command=(*VERIFY, "--samples=-5"),
        exit_code=2,
        error_code="J2T401",
        output_has=("SAMPLES=-5 (--samples)",),
    ),
    # ---- comma lists, as the README documents them ----------------------------------------------------
    Case(
        name="make convert MODEL=mlp QUANT=none,uint8 converts both",
        command=make("convert", "MODEL=mlp", "QUANT=none,uint8"),
        exit_code=0,
        intact=("checkpoints", "data"),
        check=_both_exports_fresh,
    ),
    Case(
        name="make verify MODEL=mlp QUANT=none,uint8 verifies both",
        command=make("verify", "MODEL=mlp", "QUANT=none,uint8", "SAMPLES=50"),
        exit_code=0,
        intact=("checkpoints", "data"),
        check=_both_verified,
    ),
    Case(
        name="make train MODEL=mlp,flax trains each in turn",
        command=make("train", "MODEL=mlp,flax", "EPOCHS=2", "TRAIN_SAMPLES=256"),
        exit_code=0,
        intact=KEEP_DATA_AND_EXPORTS,
        setup=_remember("checkpoints/flax_mlp"),
        check=_trained_flax_cnn_too,
        output_has=("up to date",),
    ),
    # ---- exit codes through make ------------------------------------------------------------------------
    Case(
        name="the memory guard's 86 is named through make",
        command=make("convert", "MODEL=mlp", "MEMORY_LIMIT_GB=0.05"),
        exit_code=2,
        error_code="J2T901",
        output_has=("[make] job convert exited 86: the memory guard stopped the job",),
    ),
    # ---- Ctrl-C and docker stop -------------------------------------------------------------------------
    Case(
        name="Ctrl-C in a convert ends it with 130, no traceback",
        command=CONVERT,
        env={"JAX2TFJS_FAULT_POINT": "job.work:SIGINT"},
        exit_code=130,
        output_has=("[convert] interrupted", "temporary files removed; finished files intact"),
    ),
    Case(
        # JAX's and Orbax's threads are alive here: a KeyboardInterrupt traceback, then a segfault.
        name="Ctrl-C after an epoch of training ends it with 130, the checkpoint kept",
        command=(*TRAIN, "--epochs=3", "--train-samples=256", "--resume"),
        env={"JAX2TFJS_FAULT_POINT": "train.model_done:SIGINT"},
        exit_code=130,
        intact=KEEP_DATA_AND_EXPORTS,
        setup=_remember("checkpoints/flax_mlp"),
        check=_new_step_kept,
        output_has=("[train] interrupted",),
    ),
    Case(
        name="make convert, Ctrl-C: make names the job's 130",
        command=make("convert", "MODEL=mlp"),
        env={"JAX2TFJS_FAULT_POINT": "job.work:SIGINT"},
        exit_code=2,
        output_has=("[make] job convert exited 130: stopped with Ctrl-C",),
    ),
    Case(
        name="docker stop (SIGTERM) ends a verify with 143, no traceback",
        command=VERIFY,
        env={"JAX2TFJS_FAULT_POINT": "job.work:SIGTERM"},
        exit_code=143,
        output_has=("[verify] terminated",),
    ),
    # ---- full, read-only and foreign volumes ------------------------------------------------------------
    Case(
        name="a full disk while verify writes is J2T402, the exports intact",
        command=(*VERIFY, "--samples=50"),
        env={"JAX2TFJS_FAULT_POINT": "atomic.write:ENOSPC"},
        exit_code=2,
        error_code="J2T402",
        output_has=("ENOSPC", "nothing finished was changed", "df -h"),
    ),
    Case(
        name="a data volume the job may not write is J2T402 naming uid 1000",
        command=make("data", "SOURCE=npm"),
        env={"JAX2TFJS_FAULT_POINT": "atomic.write:EACCES"},
        exit_code=2,
        error_code="J2T402",
        output_has=("EACCES", "uid 1000", "[make] job data exited 2"),
    ),
    Case(
        name="a read-only data volume is J2T402 saying so",
        command=("{convert}", "jobs/data.py", "--out-dir={data}", "--source=npm"),
        env={"JAX2TFJS_FAULT_POINT": "atomic.write:EROFS"},
        exit_code=2,
        error_code="J2T402",
        output_has=("EROFS", "the volume is read-only"),
    ),
    # ---- locks ------------------------------------------------------------------------------------------------
    Case(
        name="convert while another job holds the exports is J2T403",
        command=CONVERT,
        setup=_hold("exports"),
        exit_code=2,
        error_code="J2T403",
        output_has=("test-holder",),
    ),
    Case(
        name="verify while another job holds the exports is J2T403",
        command=make("verify", "MODEL=mlp"),
        setup=_hold("exports"),
        exit_code=2,
        error_code="J2T403",
    ),
    Case(
        name="train waits for its own model only: another model's lock does not block it",
        command=make("train", *BASE_TRAIN_VARIABLES),
        setup=_hold("checkpoints/flax_cnn"),
        exit_code=0,
        output_has=("up to date",),
    ),
    Case(
        name="train while another job trains the same model is J2T403",
        command=make("train", *BASE_TRAIN_VARIABLES),
        setup=_hold("checkpoints/flax_mlp"),
        exit_code=2,
        error_code="J2T403",
    ),
    Case(
        name="check reads while a train holds the checkpoints (read-only jobs take no lock)",
        command=make("check"),
        setup=_hold("checkpoints/flax_mlp"),
        exit_code=0,
        output_has=("flax_mlp",),
    ),
]


@pytest.fixture(autouse=True)
def _release_held_locks():
    yield
    while _held:
        _held.pop().close()


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fault(case, base_volumes, tmp_path):
    run_case(case, case_volumes(base_volumes, tmp_path))


def test_table_covers_the_job_contract():
    assert len(CASES) >= 16
    assert len({case.name for case in CASES}) == len(CASES)
