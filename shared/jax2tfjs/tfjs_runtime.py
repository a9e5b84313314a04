"""Run an export in real TF.js (Node, @tensorflow/tfjs 4.22, cpu or wasm backend).

The runner script and its pinned npm manifest (package.json, package-lock.json) ship inside the
package, in jax2tfjs/node/. TF.js itself (308 MB of node_modules) does not: it lives in a "node
runtime" folder, one where `npm ci` ran with that manifest. The folder is $JAX2TFJS_NODE_RUNTIME
when set, else jax2tfjs/node/ itself (`make setup` fills it in a checkout). `install_node_runtime`
(or `python -m jax2tfjs.tfjs_runtime DIR`) makes one.

An export's inputs and outputs are named by model.json's signature (`export_io`): inputs cross by
name as raw files in their dtype, outputs come back by name, raw in their own dtype (float32, int32,
bool), which the runner reports beside their shape. TF.js orders a signature's names alphabetically,
so positions mean nothing: the names are the contract (node/graph_model_io.mjs has the details).

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
from collections.abc import Iterator, Mapping
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
# The dtypes that cross between Python and the runners, both ways, as raw little-endian arrays:
# the name the request and the JSON line use → how its bytes read (a bool is one byte, 0 or 1).
WIRE_DTYPES = {"float32": np.dtype("<f4"), "int32": np.dtype("<i4"), "bool": np.dtype(np.bool_)}
# model.json's signature dtypes → the TF.js dtype its tensors get, as tfjs-converter 4.22 maps them
# (operation_mapper.parseDtypeParam): TF.js has no float64, float16, int64 or int8 tensors.
SIGNATURE_DTYPES = {
    "DT_FLOAT": "float32",
    "DT_HALF": "float32",
    "DT_DOUBLE": "float32",
    "DT_INT32": "int32",
    "DT_INT64": "int32",
    "DT_INT8": "int32",
    "DT_UINT8": "int32",
    "DT_BOOL": "bool",
}
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


def wire_array(values: Any) -> tuple[np.ndarray, str]:
    """`values` as the raw array a runner reads, with its WIRE_DTYPES name: bools stay bools, other
    integers become int32, everything else float32 (TF.js has no wider types)."""
    x = np.asarray(values)
    name = "bool" if x.dtype == np.bool_ else "int32" if np.issubdtype(x.dtype, np.integer) else "float32"
    # Not np.ascontiguousarray: it makes a rank-0 input rank 1 (tobytes() writes C order anyway).
    return np.asarray(x, dtype=WIRE_DTYPES[name]), name


def write_input(path: Path, values: Any) -> dict[str, Any]:
    """Writes one input raw in its wire dtype; returns its request entry but the name: {path, shape,
    dtype}."""
    x, dtype = wire_array(values)
    Path(path).write_bytes(x.tobytes())
    return {"path": str(path), "shape": list(x.shape), "dtype": dtype}


def read_raw(path: Path, shape: list[int], dtype_name: str) -> np.ndarray:
    """A raw little-endian file a runner wrote, in the dtype it reported."""
    if dtype_name not in WIRE_DTYPES:
        raise ValueError(f"the runner reported dtype {dtype_name!r}, not one of {', '.join(WIRE_DTYPES)}")
    return np.frombuffer(Path(path).read_bytes(), dtype=WIRE_DTYPES[dtype_name]).reshape(shape)


def read_outputs(folder: Path, entries: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """The outputs a runner reported ([{name, shape, dtype, file}], files in `folder`), by name, in
    the order it reported them."""
    return {
        entry["name"]: read_raw(Path(folder) / entry["file"], entry["shape"], entry["dtype"])
        for entry in entries
    }


def _signature_dtype(model_dir: Path, name: str, info: dict[str, Any]) -> str:
    dtype = SIGNATURE_DTYPES.get(info.get("dtype", ""))
    if dtype is None:
        raise ExportError(
            f"model.json's signature gives {name!r} the dtype {info.get('dtype')!r}, which TF.js cannot feed",
            fix="re-run `make convert` for this model (jax2tfjs exports use float32, int32 and bool)",
            path=model_dir / "model.json",
        )
    return dtype


def _signature_shape(info: dict[str, Any]) -> list[int | None] | None:
    """A signature tensorShape as a list, None for a dynamic dim; None when the rank is unknown."""
    shape = info.get("tensorShape") or {}
    if shape.get("unknownRank"):
        return None
    return [None if int(dim.get("size", -1)) < 0 else int(dim["size"]) for dim in shape.get("dim", [])]


def _model_json(model_dir: Path) -> Path:
    path = model_dir / "model.json"
    if not path.exists():
        raise ExportError(
            "model.json is missing: this folder is not a TF.js graph model",
            fix="run `make convert` for this model, or pass the folder that holds model.json",
            path=model_dir,
        )
    return path


def export_io(model_dir: str | Path) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """An export's signature from its model.json: (inputs, outputs) where inputs maps each input name
    to {"dtype": "float32" | "int32" | "bool" (the TF.js dtype it is fed as), "shape": list with None
    for dynamic dims, or None for an unknown rank}, and outputs lists the output names. Both are in
    model.json's order, which is alphabetical (tensorflowjs and TF.js sort them), not the model's
    argument order: feed and read them by name."""
    model_dir = Path(model_dir)
    path = _model_json(model_dir)
    try:
        signature = json.loads(path.read_text()).get("signature") or {}
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as err:
        raise ExportError(
            f"model.json is not readable JSON: {err}", fix="re-run `make convert` for this model", path=path
        ) from None
    if not signature.get("inputs") or not signature.get("outputs"):
        raise ExportError(
            "model.json has no signature naming its inputs and outputs",
            fix="re-run `make convert` for this model (the tensorflowjs converter writes the signature)",
            path=path,
        )
    inputs = {
        name: {"dtype": _signature_dtype(model_dir, name, info), "shape": _signature_shape(info)}
        for name, info in signature["inputs"].items()
    }
    return inputs, list(signature["outputs"])


def _named_inputs(
    model_dir: Path, inputs: np.ndarray | Mapping[str, Any], declared: dict[str, dict[str, Any]]
) -> dict[str, np.ndarray]:
    """`inputs` by the export's input names (in the export's order), each cast to the dtype the
    signature declares. One array is allowed only for an export with one input."""
    names = list(declared)
    if not isinstance(inputs, Mapping):
        if len(names) != 1:
            raise ExportError(
                f"this export takes {len(names)} inputs ({', '.join(names)}); one array cannot say which it is",
                fix="pass a dict {name: array} with every input: " + ", ".join(f"{n!r}: ..." for n in names),
                path=model_dir,
            )
        inputs = {names[0]: inputs}
    missing = [name for name in names if name not in inputs]
    unknown = [str(name) for name in inputs if name not in declared]
    if missing or unknown:
        problems = [
            f"missing {', '.join(missing)}" if missing else "",
            f"unknown {', '.join(unknown)}" if unknown else "",
        ]
        raise ExportError(
            f"inputs {'; '.join(p for p in problems if p)}: the export's inputs are {', '.join(names)}",
            fix="pass a dict {name: array} keyed by exactly those names (model.json's signature; "
            "tfjs_runtime.export_io lists them)",
            path=model_dir,
        )
    return {
        name: np.asarray(inputs[name]).astype(WIRE_DTYPES[declared[name]["dtype"]], copy=False)
        for name in names
    }


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
    # npm 10 can print "Exit handler never called!", exit 0 and leave node_modules half filled
    # (seen once in an image build): `npm ls --all` fails on any missing or mismatched package.
    listed = subprocess.run(
        [npm, "ls", "--all", "--loglevel=error"], cwd=target, capture_output=True, text=True
    )
    if listed.returncode != 0:
        problems = [line.strip() for line in listed.stderr.splitlines() if line.strip()][:3]
        raise ExportError(
            f"npm ci in {target} exited 0 but left an incomplete node_modules: "
            f"{' / '.join(problems) or 'npm ls --all failed'}",
            fix=f"delete {target}/node_modules and run install_node_runtime again",
            path=target,
        )
    _check_runtime(target, fix=f"delete {target} and run install_node_runtime again")
    return target


def run_in_tfjs(
    model_dir: str | Path,
    inputs: np.ndarray | Mapping[str, np.ndarray] | None,
    backend: str = "wasm",
    *,
    timing_batches: tuple[int, ...] = (),
    warmup: int = 3,
    repeats: int = 10,
    timeout_s: float = 600,
    golden_self_check: bool = True,
) -> tuple[np.ndarray | dict[str, np.ndarray] | None, dict[str, Any]]:
    """Run the export in `model_dir` on `inputs` in TF.js; returns (outputs, info).

    `inputs`: a dict {input name: array} (the names are model.json's signature, see `export_io`), or
    one array for an export with exactly one input, or None to only load the model (and self-check
    golden.json). Each array is cast to the dtype the export declares (float32, int32 or bool).
    `outputs`: one array when the export has one output; else a dict {output name: array} in the
    order the runner reports them (model.json's, alphabetical); None without inputs. Integer and bool
    outputs come back exactly, in their own dtype.
    `info`: load_ms, predict_ms, backend, tfjs_version, timings per batch (ms; every input with a
    dynamic first dim sliced to `batch` rows, rank-0 inputs fed whole) and, with `golden_self_check`
    and a golden.json in the folder, golden_max_abs_diff and golden_worst_output (the runner's own
    check, worst over the outputs, for callers with no Python side; those that compare golden.json
    themselves turn it off), plus `outputs`, the runner's [{name, shape, dtype, file}] (the files are
    gone: they lived in the run's temporary folder)."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}")
    node, runtime = check_setup()
    model_dir = Path(model_dir).absolute()
    _model_json(model_dir)
    named = None if inputs is None else _named_inputs(model_dir, inputs, export_io(model_dir)[0])
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
        outputs, info = run_node_script(node, RUNNER, request, named, timeout_s=timeout_s)
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
    if isinstance(outputs, dict) and len(outputs) == 1:
        (outputs,) = outputs.values()
    return outputs, info


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
    inputs: np.ndarray | Mapping[str, np.ndarray] | None = None,
    *,
    timeout_s: float,
    workdir: Path | None = None,
) -> tuple[np.ndarray | dict[str, np.ndarray] | None, dict[str, Any]]:
    """The contract our Node runners share: a request.json, inputs and outputs as raw little-endian
    files in their dtype (WIRE_DTYPES), one JSON line back.

    With a dict of `inputs` (run_graph_model.mjs), this function writes each as the request's
    `inputs: [{name, path, shape, dtype}]` with an `output_dir`, and returns the outputs the JSON
    line's `outputs: [{name, shape, dtype, file}]` names, as a dict in that order. With one array
    (bench/node/run_onnx.mjs, a one-input one-output runner) the request gets `input: {path, shape}`
    (float32) and `output_path`, and the output array comes back, read by the line's output_shape and
    output_dtype (float32 when absent). A caller whose request names its own files
    (verify_exports.mjs) passes `workdir` (where request.json goes, beside them) and reads its outputs
    itself. Raises subprocess.TimeoutExpired, or NodeScriptFailed with stderr on a non-zero exit or
    when no JSON line came back."""
    with contextlib.ExitStack() as stack:
        tmp = workdir or Path(stack.enter_context(node_temp_dir("node")))
        request = dict(request)
        if isinstance(inputs, Mapping):
            request["inputs"] = [
                {"name": name, **write_input(tmp / f"input-{i}.bin", values)}
                for i, (name, values) in enumerate(inputs.items())
            ]
            request["output_dir"] = str(tmp / "outputs")
        elif inputs is not None:
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
        try:
            if isinstance(inputs, Mapping):
                outputs = read_outputs(tmp / "outputs", info["outputs"])
            elif inputs is not None:
                outputs = read_raw(
                    tmp / "output.bin", info["output_shape"], info.get("output_dtype", "float32")
                )
        except (KeyError, TypeError, ValueError, OSError) as err:
            raise NodeScriptFailed(f"{proc.stderr}\nits output is unreadable: {err!r}") from err
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
