"""The package as users get it: a wheel, installed (not editable) in a fresh venv, converts a model
and runs it in real TF.js (Node) from there, with TF.js found through $JAX2TFJS_NODE_RUNTIME.

The fresh venv is cheap because uv links the convert lock's packages from its cache (`make setup`
filled it) instead of copying or downloading them; see docs/environments.md for the timings.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ROOT, VENV
from jax2tfjs.errors import ExportError
from jax2tfjs.tfjs_runtime import NODE_RUNTIME_ENV, install_node_runtime, run_in_tfjs

UV = VENV / "uv" / "bin" / "uv"
CONVERT_LOCK = ROOT / "docker" / "convert" / "requirements.lock"
NODE_SOURCES = ROOT / "shared" / "jax2tfjs" / "node"
# The files of the checkout's node/ folder (npm ci adds only the node_modules/ folder): the Node
# scripts and their npm manifest.
RUNNER_FILES = {f"node/{p.name}" for p in NODE_SOURCES.iterdir() if p.is_file()}
HARNESSES = ("bench", "zoo", "corpus", "tests")
# Build outputs of a checkout that must never reach the wheel (node_modules alone is 308 MB).
NOT_SOURCES = shutil.ignore_patterns("node_modules", "__pycache__", "*.egg-info", "build", "dist")

# Runs inside the fresh venv, with the cwd outside the repository. Prints one JSON line.
CHILD = """
import time
started = time.perf_counter()
import json, os, sys
from concurrent.futures import ThreadPoolExecutor
import jax, jax.numpy as jnp, numpy as np
import jax2tfjs
from jax2tfjs import to_tensorflowjs
from jax2tfjs.errors import ExportError
from jax2tfjs.tfjs_runtime import NODE_RUNTIME_ENV, install_node_runtime, run_in_tfjs

work = sys.argv[1]
seconds = {"imports": time.perf_counter() - started}
# npm ci is mostly disk work: let it overlap the conversion.
pool = ThreadPoolExecutor(1)
runtime = pool.submit(install_node_runtime, os.path.join(work, "tfjs-runtime"))

rng = np.random.default_rng(0)
params = {"w": rng.standard_normal((8, 4)).astype(np.float32), "b": rng.standard_normal(4).astype(np.float32)}

def dense_softmax(p, x):
    return jax.nn.softmax(jnp.tanh(x @ p["w"] + p["b"]))

out = os.path.join(work, "export")
mark = time.perf_counter()
to_tensorflowjs(dense_softmax, params, input_spec=jax.ShapeDtypeStruct((1, 8), jnp.float32), out_dir=out, progress=False)
seconds["convert"] = time.perf_counter() - mark
x = rng.standard_normal((5, 8)).astype(np.float32)
want = np.asarray(dense_softmax(params, x))

# The wheel ships no node_modules: without the setting, the runner must say what to do.
os.environ.pop(NODE_RUNTIME_ENV, None)
try:
    run_in_tfjs(out, x, "cpu")
    missing_runtime_error = None
except ExportError as err:
    missing_runtime_error = str(err)

mark = time.perf_counter()
os.environ[NODE_RUNTIME_ENV] = str(runtime.result())
seconds["npm_ci_wait"] = time.perf_counter() - mark
diffs = {}
mark = time.perf_counter()
for backend in ("cpu", "wasm"):
    got, info = run_in_tfjs(out, x, backend)
    diffs[backend] = {"max_abs_diff": float(np.max(np.abs(got - want))), "golden": info["golden_max_abs_diff"]}
seconds["tfjs_runs"] = time.perf_counter() - mark
print(json.dumps({"jax2tfjs_file": jax2tfjs.__file__, "missing_runtime_error": missing_runtime_error,
                  "diffs": diffs, "seconds": seconds}))
"""


def _child_env() -> dict[str, str]:
    """The caller's environment minus anything that would point the child back at the checkout."""
    dropped = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "JAX2TFJS_NODE_RUNTIME")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return env


def _run(cmd: list, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env or _child_env(), capture_output=True, text=True, timeout=600
    )
    command = " ".join(str(c) for c in cmd)[:300]
    assert proc.returncode == 0, f"{command} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of shared/ (setuptools writes build/ and egg-info next to the
    sources it builds; the checkout stays untouched), with the convert venv's setuptools."""
    work = tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT / "shared", work / "src", ignore=NOT_SOURCES)
    build = [UV, "build", "--wheel", "--no-build-isolation", "--python", sys.executable]
    _run([*build, "--out-dir", work / "dist", work / "src"], cwd=work)
    (built,) = (work / "dist").glob("jax2tfjs-*.whl")
    return built


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory, wheel) -> Iterator[Path]:
    """A new venv with exactly the convert lock, plus the wheel without its dependencies. Removed
    afterwards: its 33k links would otherwise wait for whichever later pytest run rotates tmp dirs."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    env = {**_child_env(), "VIRTUAL_ENV": str(venv)}
    _run([UV, "venv", "-q", "--python", "python3.11", venv], cwd=venv.parent)
    _run([UV, "pip", "sync", "-q", CONVERT_LOCK], cwd=venv.parent, env=env)
    _run([UV, "pip", "install", "-q", "--no-deps", wheel], cwd=venv.parent, env=env)
    yield venv
    shutil.rmtree(venv, ignore_errors=True)


def test_wheel_ships_the_runner_and_no_harnesses(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    package_files = {n.removeprefix("jax2tfjs/") for n in names if n.startswith("jax2tfjs/")}
    assert {"node/run_graph_model.mjs", "node/package.json", "node/package-lock.json"} <= RUNNER_FILES
    assert package_files >= RUNNER_FILES
    assert not [n for n in names if "node_modules" in n]
    top_level = {n.split("/")[0] for n in names}
    assert top_level == {"jax2tfjs", wheel.name.split("-py3")[0] + ".dist-info"}
    modules = [n for n in names if n.endswith(".py")]
    assert not [m for m in modules if any(part in HARNESSES for part in Path(m).with_suffix("").parts)]


def test_installed_wheel_converts_and_runs_in_tfjs(fresh_venv, tmp_path):
    # cwd outside the repository and no PYTHONPATH: only the venv's site-packages can supply jax2tfjs.
    try:
        proc = _run([fresh_venv / "bin" / "python", "-c", CHILD, tmp_path], cwd=tmp_path)
    finally:
        shutil.rmtree(tmp_path / "tfjs-runtime", ignore_errors=True)  # 308 MB of node_modules
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print("fresh venv timings (s):", result["seconds"])  # shown with -s; docs/environments.md quotes them

    installed = Path(result["jax2tfjs_file"]).resolve()
    assert installed.is_relative_to(fresh_venv.resolve()), installed
    assert not installed.is_relative_to(ROOT)

    error = result["missing_runtime_error"]
    assert error is not None, "the wheel ran TF.js without any node runtime configured"
    assert (
        "J2T306" in error and "JAX2TFJS_NODE_RUNTIME" in error and "python -m jax2tfjs.tfjs_runtime" in error
    )

    assert set(result["diffs"]) == {"cpu", "wasm"}
    for backend, diff in result["diffs"].items():
        assert diff["max_abs_diff"] < 1e-5, (backend, diff)
        assert diff["golden"] < 1e-5, (backend, diff)


def _fake_runtime(folder: Path, tfjs_version: str) -> Path:
    """A node runtime folder whose installed @tensorflow/tfjs claims `tfjs_version`."""
    for name, version in (("@tensorflow/tfjs", tfjs_version), ("@tensorflow/tfjs-backend-wasm", "4.22.0")):
        package = folder / "node_modules" / name
        package.mkdir(parents=True)
        (package / "package.json").write_text(json.dumps({"name": name, "version": version}))
    return folder


def test_a_configured_runtime_without_tfjs_names_the_setting_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(NODE_RUNTIME_ENV, str(tmp_path))
    with pytest.raises(ExportError, match=r"TF\.js is not installed") as caught:
        run_in_tfjs(tmp_path, None, "cpu")
    assert (
        NODE_RUNTIME_ENV in caught.value.fix
        and f"python -m jax2tfjs.tfjs_runtime {tmp_path}" in caught.value.fix
    )


def test_a_configured_runtime_with_another_tfjs_version_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(NODE_RUNTIME_ENV, str(_fake_runtime(tmp_path, "4.21.0")))
    with pytest.raises(
        ExportError, match=r"holds @tensorflow/tfjs 4\.21\.0; the runner is pinned to 4\.22\.0"
    ):
        run_in_tfjs(tmp_path, None, "cpu")


def test_installing_a_runtime_never_overwrites_another_npm_project(tmp_path):
    manifest = tmp_path / "package.json"
    manifest.write_text('{"name": "someone-elses-app"}')
    with pytest.raises(ExportError, match=r"already holds another package\.json"):
        install_node_runtime(tmp_path)
    assert manifest.read_text() == '{"name": "someone-elses-app"}'


def test_an_npm_ci_that_exits_0_with_a_partial_install_is_refused(tmp_path, monkeypatch):
    # npm 10 once printed "Exit handler never called!", exited 0 and left node_modules half filled
    # in an image build. This npm does the same (its `ci` installs nothing); `ls` is the real npm.
    real_npm = shutil.which("npm")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    fake = fake_bin / "npm"
    fake.write_text(
        f'#!/bin/sh\nif [ "$1" = ci ]; then mkdir -p node_modules; exit 0; fi\nexec {real_npm} "$@"\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ExportError, match=r"exited 0 but left an incomplete node_modules: .*tensorflow"):
        install_node_runtime(tmp_path / "runtime")
