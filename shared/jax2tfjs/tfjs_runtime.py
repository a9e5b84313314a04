"""Run an export in real TF.js (Node, @tensorflow/tfjs 4.22, cpu or wasm backend).

The runner script and its pinned npm manifest (package.json, package-lock.json) ship inside the
package, in jax2tfjs/node/. TF.js itself (308 MB of node_modules) does not: it lives in a "node
runtime" folder, one where `npm ci` ran with that manifest. The folder is $JAX2TFJS_NODE_RUNTIME
when set, else jax2tfjs/node/ itself (`make setup` fills it in a checkout). `install_node_runtime`
(or `python -m jax2tfjs.tfjs_runtime DIR`) makes one. Inputs cross as raw float32 files, outputs as
raw files in their own dtype (float32, int32, bool), which the runner reports beside their shape.

Each run's files live in a temporary folder named `jax2tfjs-<kind>-<pid>-*` in $TMPDIR: a job that is
killed cannot remove its own, so every run first removes those whose process is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from jax2tfjs import atomic
from jax2tfjs.errors import EXIT_USER_ERROR, ExportError, Jax2TfjsError
from jax2tfjs.faults import fault_point

NODE_DIR = Path(__file__).parent / "node"
RUNNER = NODE_DIR / "run_graph_model.mjs"
# The manifest `npm ci` installs from; both ship as package data beside the runner.
MANIFEST_FILES = ("package.json", "package-lock.json")
NODE_RUNTIME_ENV = "JAX2TFJS_NODE_RUNTIME"
BACKENDS = ("cpu", "wasm")
RUNNER_FAILED = "tfjs runner failed:"  # run_graph_model.mjs prefixes its error line with this
# What the runners report as `output_dtype` → how its raw bytes read; float32 when absent (runners
# that predate it, bench/node/run_onnx.mjs).
OUTPUT_DTYPES = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4"), "bool": np.dtype(np.bool_)}
# jax2tfjs-<kind>-<pid>-<random>: the pid says whether the folder's owner still runs.
_TEMP_DIR = re.compile(r"^jax2tfjs-(?:node|verify)-(\d+)-")


def _owner_alive(path: Path, pid: int) -> bool:
    try:
        return atomic.owner_alive(pid, path.stat().st_mtime)  # zombies and reused pids are not owners
    except FileNotFoundError:
        return True  # removed meanwhile by its owner: nothing to do


def remove_orphaned_temp_dirs(root: str | Path | None = None) -> list[Path]:
    """Remove the Node runners' temporary folders (in `root`, default $TMPDIR) whose process is gone:
    a job that was killed (SIGKILL, the OOM killer) never ran its own cleanup. Returns them."""
    removed = []
    for path in Path(root or tempfile.gettempdir()).glob("jax2tfjs-*"):
        owner = _TEMP_DIR.match(path.name)
        if owner and path.is_dir() and not atomic.in_flight(path) and not _owner_alive(path, int(owner[1])):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


@contextlib.contextmanager
def node_temp_dir(kind: str) -> Iterator[str]:
    """A temporary folder for one Node run (`kind`: node or verify), named with this process's pid,
    after removing the folders that killed runs left behind. Tracked by jax2tfjs.atomic, so the
    memory guard and Ctrl-C remove it too; only SIGKILL leaves it, for the next run."""
    remove_orphaned_temp_dirs()
    path = Path(tempfile.mkdtemp(prefix=f"jax2tfjs-{kind}-{os.getpid()}-"))
    with atomic.tracked(path):
        yield str(path)


def read_output(path: Path, result: dict[str, Any]) -> np.ndarray:
    """An output file as the runner wrote it: `result` holds its output_shape and output_dtype."""
    dtype_name = result.get("output_dtype", "float32")
    if dtype_name not in OUTPUT_DTYPES:
        raise ValueError(
            f"the runner reported output dtype {dtype_name!r}, not one of {', '.join(OUTPUT_DTYPES)}"
        )
    return np.frombuffer(Path(path).read_bytes(), dtype=OUTPUT_DTYPES[dtype_name]).reshape(
        result["output_shape"]
    )


def node_runtime_dir() -> Path:
    """The folder whose node_modules/ holds TF.js for the runner: $JAX2TFJS_NODE_RUNTIME, else the
    package's own node/ folder."""
    configured = os.environ.get(NODE_RUNTIME_ENV)
    return Path(configured).expanduser().absolute() if configured else NODE_DIR


def _check_runtime(runtime: Path, fix: str) -> None:
    """Every dependency the runner pins is installed in `runtime`, at the pinned version: a folder
    made for another TF.js would run exports on a version nobody tested here."""
    pinned = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]
    for name, version in pinned.items():
        installed = runtime / "node_modules" / name / "package.json"
        if not installed.exists():
            raise ExportError(f"TF.js is not installed in {runtime}: {name} is missing", fix=fix)
        found = json.loads(installed.read_text()).get("version")
        if found != version:
            raise ExportError(f"{runtime} holds {name} {found}; the runner is pinned to {version}", fix=fix)


def check_setup() -> tuple[str, Path]:
    node = shutil.which("node")
    if node is None:
        raise ExportError("node is not on PATH", fix="install Node.js 20 (apt-get install nodejs npm)")
    if not all((NODE_DIR / name).exists() for name in (RUNNER.name, *MANIFEST_FILES)):
        raise ExportError(
            f"the TF.js runner is missing from the installed package ({NODE_DIR})",
            fix="reinstall jax2tfjs from a wheel that carries its package data (jax2tfjs/node/*)",
        )
    runtime = node_runtime_dir()
    if os.environ.get(NODE_RUNTIME_ENV):
        fix = (
            f"{NODE_RUNTIME_ENV} points there: run `python -m jax2tfjs.tfjs_runtime {runtime}` (npm ci "
            "with the runner's pinned lock), or point it at a folder where that ran"
        )
    else:
        fix = (
            f"run `python -m jax2tfjs.tfjs_runtime DIR` (npm ci with the runner's pinned lock) and set "
            f"{NODE_RUNTIME_ENV}=DIR; in a checkout, `make setup` fills {runtime}"
        )
    _check_runtime(runtime, fix)
    return node, runtime


def install_node_runtime(target: str | Path) -> Path:
    """Make `target` a node runtime for the runner: copy its package.json and lock there and run
    `npm ci` (reusing npm's cache when it holds the pinned tarballs). Returns the folder; point
    $JAX2TFJS_NODE_RUNTIME at it."""
    target = Path(target).expanduser().absolute()
    npm = shutil.which("npm")
    if npm is None:
        raise ExportError(
            "npm is not on PATH", fix="install Node.js 20 with npm (apt-get install nodejs npm)"
        )
    target.mkdir(parents=True, exist_ok=True)
    for name in MANIFEST_FILES:
        shipped, placed = NODE_DIR / name, target / name
        if placed.exists() and placed.read_bytes() == shipped.read_bytes():
            continue  # a runtime made before (or the package's own folder): npm ci refreshes it
        if placed.exists():
            # `npm ci` would replace that project's node_modules with ours.
            raise ExportError(
                f"{target} already holds another {name}",
                fix="pick an empty folder (or one made by install_node_runtime) for the TF.js runtime",
                path=target,
            )
        shutil.copyfile(shipped, placed)
    proc = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error", "--prefer-offline"],
        cwd=target,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        # npm's first error lines name the cause; its last one only points at a log file.
        lines = [line for line in proc.stderr.splitlines() if line.strip()][:3]
        raise ExportError(
            f"npm ci in {target} failed: {' / '.join(lines) or f'exit code {proc.returncode}'}",
            fix="check that npm can reach its registry (or that its cache holds the pinned packages), then retry",
            path=target,
        )
    _check_runtime(target, fix=f"delete {target} and run install_node_runtime again")
    return target


def run_in_tfjs(
    model_dir: str | Path,
    inputs: np.ndarray | None,
    backend: str = "wasm",
    *,
    timing_batches: tuple[int, ...] = (),
    warmup: int = 3,
    repeats: int = 10,
    timeout_s: float = 600,
    golden_self_check: bool = True,
) -> tuple[np.ndarray | None, dict[str, Any]]:
    """(outputs, info) where info has load_ms, predict_ms, timings per batch and, with
    `golden_self_check` and a golden.json in the folder, golden_max_abs_diff (the runner's own check,
    for callers with no Python side; those that compare golden.json themselves turn it off)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}")
    node, runtime = check_setup()
    model_dir = Path(model_dir).absolute()
    if not (model_dir / "model.json").exists():
        raise ExportError(
            "model.json is missing: this folder is not a TF.js graph model",
            fix="run `make convert` for this model, or pass the folder that holds model.json",
            path=model_dir,
        )
    request: dict[str, Any] = {
        "model_dir": str(model_dir),
        "backend": backend,
        "warmup": warmup,
        "repeats": repeats,
        "timing_batches": list(timing_batches),
        "node_runtime": str(runtime),
        "golden_self_check": golden_self_check,
    }
    try:
        return run_node_script(node, RUNNER, request, inputs, timeout_s=timeout_s)
    except subprocess.TimeoutExpired:
        raise ExportError(
            f"TF.js ({backend}) did not finish within {timeout_s:g} s",
            fix="use fewer samples (SAMPLES=) or a faster backend (wasm)",
            path=model_dir,
        ) from None
    except NodeScriptFailed as failed:
        raise ExportError(
            f"TF.js ({backend}) could not run the model: {failed.cause}",
            fix="the export may be corrupt or use an op this backend lacks; re-run `make convert`",
            path=model_dir,
        ) from failed


def runner_failure_cause(stderr: str) -> str:
    """What a Node runner says failed: its own RUNNER_FAILED line (the JS stack under it names only
    tfjs internals, and the cpu backend prints a Node banner on stderr first), else stderr's last line."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    cause = next((line for line in lines if line.startswith(RUNNER_FAILED)), lines[-1] if lines else "")
    return cause.removeprefix(RUNNER_FAILED).strip() or "no output"


class NodeScriptFailed(Exception):
    """A Node runner exited non-zero or printed no JSON result; `stderr` is all it said."""

    def __init__(self, stderr: str):
        super().__init__(stderr[-800:])
        self.stderr = stderr

    @property
    def cause(self) -> str:
        return runner_failure_cause(self.stderr)


def run_node_script(
    node: str,
    script: Path,
    request: dict[str, Any],
    inputs: np.ndarray | None = None,
    *,
    timeout_s: float,
    workdir: Path | None = None,
) -> tuple[np.ndarray | None, dict[str, Any]]:
    """The contract our Node runners share (run_graph_model.mjs, verify_exports.mjs,
    bench/node/run_onnx.mjs): a request.json, inputs as raw little-endian float32 files, outputs raw in
    the dtype the JSON line names (read_output), one JSON line back. With `inputs`, this function writes them and reads the output back; a caller
    whose request names its own input and output files passes `workdir` (where request.json goes,
    beside them) and reads its outputs itself. Raises subprocess.TimeoutExpired, or NodeScriptFailed
    with stderr on a non-zero exit or when no JSON line came back."""
    with contextlib.ExitStack() as stack:
        tmp = workdir or Path(stack.enter_context(node_temp_dir("node")))
        request = dict(request)
        if inputs is not None:
            x = np.ascontiguousarray(inputs, dtype="<f4")
            (tmp / "input.bin").write_bytes(x.tobytes())
            request["input"] = {"path": str(tmp / "input.bin"), "shape": list(x.shape)}
            request["output_path"] = str(tmp / "output.bin")
        (tmp / "request.json").write_text(json.dumps(request))
        fault_point("tfjs_runtime.node", tmp)  # test-only: a job killed while its Node runner works
        proc = subprocess.run(
            [node, str(script), str(tmp / "request.json")],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            cwd=script.parent,
        )
        if proc.returncode != 0:
            raise NodeScriptFailed(proc.stderr)
        try:
            info = json.loads(proc.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError) as err:
            raise NodeScriptFailed(
                f"{proc.stderr}\nno JSON result line on stdout (it ended: {proc.stdout[-300:]!r})"
            ) from err
        outputs = None
        if inputs is not None:
            try:
                outputs = read_output(tmp / "output.bin", info)
            except (KeyError, ValueError, OSError) as err:
                raise NodeScriptFailed(f"{proc.stderr}\nits output is unreadable: {err}") from err
    return outputs, info


def main(argv: list[str]) -> int:
    """`python -m jax2tfjs.tfjs_runtime DIR`: install_node_runtime(DIR), for shells and Dockerfiles."""
    if len(argv) != 1 or argv[0].startswith("-"):
        print(
            "usage: python -m jax2tfjs.tfjs_runtime DIR  (npm ci of the TF.js runner's lock into DIR)",
            file=sys.stderr,
        )
        return EXIT_USER_ERROR
    try:
        runtime = install_node_runtime(argv[0])
    except Jax2TfjsError as err:
        print(err, file=sys.stderr)
        return err.exit_code
    print(f"TF.js for the runner is installed; use it with: export {NODE_RUNTIME_ENV}={runtime}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
