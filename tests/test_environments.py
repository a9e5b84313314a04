"""The two environments: built from their lock files, importable, and kept apart."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, run, venv_python

LOCKS = {
    "train": ROOT / "docker/train/requirements.lock",
    "convert": ROOT / "docker/convert/requirements.lock",
}


def locked_versions(lock: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s\\]+)", lock.read_text(), flags=re.M)
    return {name.lower().replace("_", "-"): version for name, version in pins}


def installed_versions(python: Path) -> dict[str, str]:
    code = "import importlib.metadata as m\nfor d in m.distributions(): print(d.metadata['Name'], d.version)"
    out = run([python, "-c", code]).stdout.split("\n")
    return {
        name.lower().replace("_", "-"): version for name, version in (line.split() for line in out if line)
    }


def test_convert_env_imports_tensorflowjs_and_its_converter():
    code = (
        "import tensorflowjs, tensorflow, tensorflow_datasets, jax, flax, orbax.checkpoint\n"
        "from tensorflowjs.converters import tf_saved_model_conversion_v2\n"
        "print(tensorflow.__version__, tensorflowjs.__version__, jax.__version__)"
    )
    proc = run([venv_python("convert"), "-W", "ignore", "-c", code])
    assert proc.returncode == 0, proc.stderr[-2000:]
    tf_version, tfjs_version, _ = proc.stdout.split()
    assert tf_version.startswith("2.19.") and tfjs_version == "4.22.0"


def test_train_env_has_the_jax_stack_and_no_tensorflow():
    code = (
        "import importlib.util as u, jax, flax, optax, orbax.checkpoint, psutil, fire, tqdm\n"
        "print(u.find_spec('tensorflow') is None, jax.__version__)"
    )
    proc = run([venv_python("train"), "-c", code])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[0] == "True", "tensorflow leaked into .venv/train"


@pytest.mark.parametrize("name", sorted(LOCKS))
def test_each_venv_matches_its_lock_file_exactly(name):
    locked = locked_versions(LOCKS[name])
    installed = installed_versions(venv_python(name))
    installed.pop("jax2tfjs")  # the project itself, installed editable on top of the lock
    assert installed == locked


def test_convert_lock_keeps_the_measured_pins():
    pins = locked_versions(LOCKS["convert"])
    assert pins["ydf"] == "0.11.0"  # ydf 0.16 breaks `import tensorflowjs` (protobuf gencode 6)
    assert tuple(int(p) for p in pins["numpy"].split(".")[:2]) < (2, 2)  # TF 2.19
    assert pins["protobuf"].startswith("5.")
    assert "tensorflow" not in locked_versions(LOCKS["train"])


def test_hf_test_lock_is_the_convert_lock_plus_transformers():
    # tests/hf_env runs the convert code beside transformers: a different jax, TF or numpy there
    # would test another converter than the one the image ships (`make lock` constrains it).
    convert = locked_versions(LOCKS["convert"])
    hf = locked_versions(ROOT / "tests/envs/transformers.lock")
    assert {name: hf.get(name) for name in convert} == convert
    assert hf["transformers"] == "4.57.6"  # the last release with the Flax models


def test_second_setup_is_a_no_op():
    proc = run(["make", "-q", "setup"])
    assert proc.returncode == 0, "make setup would rebuild although the venvs are up to date"


def _fake_system(tmp_path: Path, *present: str) -> dict[str, str]:
    """A PATH holding only `present` (links to the real programs) and an `id` that says uid 1000,
    so tests/check_prereqs.sh sees a machine where it may not install anything."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in present:
        found = shutil.which(name)
        assert found, f"{name} is not on this machine"
        (bin_dir / name).symlink_to(found)
    (bin_dir / "id").write_text("#!/bin/sh\necho 1000\n")
    (bin_dir / "id").chmod(0o755)
    return {"PATH": str(bin_dir), "HOME": str(tmp_path)}


def test_prereqs_pass_on_this_machine_within_seconds():
    started = time.monotonic()
    proc = run(["bash", ROOT / "tests/check_prereqs.sh"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert time.monotonic() - started < 10
    assert proc.stdout.startswith("[prereqs] ok: Python 3.11")


def test_missing_prereqs_stop_at_once_with_the_command_to_run(tmp_path):
    # node, npm and nginx are there; python3.11 is not (and chromium, if this machine lacks it).
    env = _fake_system(tmp_path, "node", "npm", "nginx", "dirname")
    proc = subprocess.run(
        ["/bin/bash", ROOT / "tests/check_prereqs.sh"], capture_output=True, text=True, timeout=30, env=env
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "[prereqs] missing: python3.11 python3.11-venv" in proc.stderr
    assert "apt-get install -y --no-install-recommends python3.11 python3.11-venv" in proc.stderr
