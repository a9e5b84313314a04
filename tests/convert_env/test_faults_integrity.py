"""Fault table: what a conversion writes is finite and sealed, and verify and doctor name tampering.

Each row damages a copy of the base volumes (a flax_mlp checkpoint, its `none` and `uint8` exports,
sealed at conversion) the way a user or a broken disk would, runs the job a user would run, and
checks the exit code, the error code and what must be intact afterwards (faultkit.run_case).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from faultkit import Case, base_volumes_fixture, case_volumes, run_case

base_volumes = pytest.fixture(scope="session")(base_volumes_fixture)

UINT8, NONE = "flax_mlp/uint8", "flax_mlp/none"
READ_ONLY = ("data", "checkpoints")  # what verify never writes (it writes verify.json, report.md, index)


def _verify(*flags: str, samples: int | None = 64) -> tuple[str, ...]:
    """verify on part of the test split (fast); on the whole split (samples=None) a quantized export
    is judged alone, not against its `none` export."""
    return (
        "{convert}",
        "jobs/verify.py",
        "--export-dir={exports}",
        "--data-dir={data}",
        *([f"--samples={samples}"] if samples else []),
        "--timing-repeats=1",
        *flags,
    )


def _convert(quantization: str) -> tuple[str, ...]:
    return (
        "{convert}",
        "jobs/convert.py",
        "--model=mlp",
        f"--quantization={quantization}",
        "--data-dir={data}",
        "--checkpoint-dir={checkpoints}",
        "--export-dir={exports}",
    )


def _doctor(export: str, *flags: str) -> tuple[str, ...]:
    return ("{convert}", "jobs/doctor.py", f"{{exports}}/{export}", *flags)


def _python(script: str) -> tuple[str, ...]:
    """A user's own script: the API called under the jobs' contract (typed error, exit 2)."""
    return ("{convert}", "-c", script)


# A user's script around to_tensorflowjs, run the way the jobs run (jobkit: a typed error is printed
# with its code and fix, exit 2). Scripts hold no literal braces: faultkit fills {placeholders}.
_API_SCRIPT = """
import jax, jax.numpy as jnp, numpy as np
from jax2tfjs.api import to_tensorflowjs
from jax2tfjs.jobkit import run_job
{model}
def work():
    to_tensorflowjs(model, params, input_spec=jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32),
                    out_dir="{{exports}}/flax_mlp/none", progress=False)
    return dict()
run_job("convert", work, memory_limit_gb=None, report_path=None)
"""

NAN_WEIGHTS = _API_SCRIPT.format(
    model="""
params = dict(w=np.ones((784, 10), np.float32))
params["w"][3, :4] = np.nan
params["w"][5, 0] = np.inf
def model(p, x):
    return x.reshape(x.shape[0], -1) @ p["w"]
"""
)

OVERFLOWING_MODEL = _API_SCRIPT.format(
    model="""
params = dict(w=np.full((784, 10), 100.0, np.float32))
def model(p, x):
    return jnp.exp(x.reshape(x.shape[0], -1) @ p["w"])  # exp(>88) is inf in float32
"""
)

# An int output (argmax) converted and run in Node: the runner used to read every output as float32.
INT_OUTPUT = """
import json, jax, jax.numpy as jnp, numpy as np
from jax2tfjs.api import to_tensorflowjs
from jax2tfjs.tfjs_runtime import run_in_tfjs
w = np.random.default_rng(0).normal(size=(784, 10)).astype(np.float32)
def top_class(p, x):
    return jnp.argmax(x.reshape(x.shape[0], -1) @ p["w"], -1)
out = "{exports}/top_class/none"
to_tensorflowjs(top_class, dict(w=w), input_spec=jax.ShapeDtypeStruct((1, 28, 28, 1), jnp.float32),
                out_dir=out, progress=False)
x = np.random.default_rng(1).random((64, 28, 28, 1)).astype(np.float32)
tfjs, info = run_in_tfjs(out, x, "wasm", golden_self_check=True)
print("RESULT " + json.dumps(dict(tfjs=tfjs.tolist(), dtype=str(tfjs.dtype), golden=info["golden_max_abs_diff"],
                                 jax=np.asarray(top_class(dict(w=w), x)).tolist())))
"""


# --- setups: the damage ---------------------------------------------------------------------------


def _edit_json(path, change) -> None:
    payload = json.loads(path.read_text())
    change(payload)
    path.write_text(json.dumps(payload))


def _tamper_golden_output(volumes) -> None:
    def nudge(golden):
        golden["outputs"][0]["values"][25] += 0.5  # one logit, as a hand edit would

    _edit_json(volumes.exports / UINT8 / "golden.json", nudge)


def _truncate_shard(volumes) -> None:
    shard = next((volumes.exports / UINT8).glob("group1-shard*.bin"))
    shard.write_bytes(shard.read_bytes()[:-16])


def _edit_model_json(volumes) -> None:
    def relabel(model_json):
        model_json["userDefinedMetadata"]["jax2tfjs"]["labels"] = ["cat"] * 10

    _edit_json(volumes.exports / UINT8 / "model.json", relabel)


def _unseal(folder) -> None:
    """What an export converted before seals existed looks like: report.json without them (and
    without the format that promises one)."""
    _edit_json(folder / "report.json", lambda report: [report.pop("sealed"), report.pop("format")])


def _seal_deleted(folder) -> None:
    """Tampering that hides itself: golden.json changed, then the seal deleted from report.json."""
    _edit_json(folder / "golden.json", lambda golden: golden["outputs"][0]["values"].__setitem__(0, 123.0))
    _edit_json(folder / "report.json", lambda report: report.pop("sealed"))


def _old_export_tfjs_cannot_load(volumes) -> None:
    folder = volumes.exports / NONE
    _unseal(folder)

    def unknown_op(model_json):
        nodes = model_json["modelTopology"]["node"]
        next(n for n in nodes if n["op"] not in ("Const", "Placeholder"))["op"] = "NoSuchOp"

    _edit_json(folder / "model.json", unknown_op)


def _garbage_verify_json(volumes) -> None:
    (volumes.exports / UINT8 / "verify.json").write_text('{"export": "flax_mlp/uint8", "passed": tr')


def _verify_json_missing_keys(volumes) -> None:
    (volumes.exports / UINT8 / "verify.json").write_text(json.dumps({"export": UINT8, "tfjs": [1, 2]}))


def _another_models_golden_resealed(volumes) -> None:
    """golden.json's outputs replaced with another flax_mlp's (other weights) on the same inputs, and
    the seal in report.json updated to match: only the threshold can catch it."""
    import jax

    from jax2tfjs import hashing
    from jax2tfjs.models import get_model

    folder = volumes.exports / UINT8
    golden = json.loads((folder / "golden.json").read_text())
    model = get_model("flax_mlp")
    inputs = np.asarray(golden["inputs"][0]["values"], np.float32).reshape(golden["inputs"][0]["shape"])
    golden["outputs"][0]["values"] = (
        np.asarray(model.apply(model.init(jax.random.key(7)), inputs)).ravel().tolist()
    )
    (folder / "golden.json").write_text(json.dumps(golden))

    def reseal(report):
        report["sealed"]["golden.json"] = hashing.file_seal(folder, ["golden.json"])["golden.json"]

    _edit_json(folder / "report.json", reseal)


def _nan_checkpoint(volumes) -> None:
    """A newer step of the base checkpoint whose first kernel holds NaN (a training that diverged)."""
    from jax2tfjs import checkpoints

    model_dir = volumes.checkpoints / "flax_mlp"
    newest = max(checkpoints.finished_steps(model_dir))
    state = checkpoints.restore_raw(model_dir / str(newest))
    metadata = checkpoints.read_metadata(model_dir / str(newest))
    kernel = np.array(state["params"]["hidden0"]["kernel"])
    kernel[0, :3] = np.nan
    state["params"]["hidden0"]["kernel"] = kernel
    manager = checkpoints.open_manager(model_dir)
    checkpoints.save(manager, newest + 1, state, {**metadata, "step": newest + 1})
    manager.close()


def _dead_pid() -> int:
    """The pid of a process that has ended (its owner's temporary folders are leftovers)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _leftover_node_dirs(volumes) -> None:
    """What killed runs left in $TMPDIR, beside a folder of a run still going (this test's own pid)."""
    dead = _dead_pid()
    for name in (
        f"jax2tfjs-node-{dead}-x1",
        f"jax2tfjs-verify-{dead}-x2",
        f"jax2tfjs-node-{os.getpid()}-live",
    ):
        (volumes.tmp / name).mkdir()
        (volumes.tmp / name / "input.bin").write_bytes(b"\0" * 64)


# --- checks: what must hold afterwards -------------------------------------------------------------


def _verify_row(volumes, export):
    return json.loads((volumes.exports / export / "verify.json").read_text())


def _uint8_failed_on(code):
    def check(volumes, result):
        row = _verify_row(volumes, UINT8)
        assert not row["passed"] and any(code in failure for failure in row["failures"]), row["failures"]

    return check


def _old_export_failed_and_the_other_still_verifies(volumes, result):
    row = _verify_row(volumes, NONE)
    assert not row["passed"] and "NoSuchOp" in "; ".join(row["failures"])
    assert any("not sealed" in note for note in row["notes"])
    assert _verify_row(volumes, UINT8)["passed"]  # the repair run: a later verify of uint8 alone
    assert "flax_mlp/none" in (volumes.exports / "report.md").read_text()


def _report_lists_uint8_as(text):
    def check(volumes, result):
        lines = [
            line for line in (volumes.exports / "report.md").read_text().splitlines() if "| flax_mlp/" in line
        ]
        assert any(line.startswith(f"| {NONE} |") and line.endswith("| pass |") for line in lines), lines
        if text is not None:
            assert any(line.startswith(f"| {UINT8} |") and text in line for line in lines), lines

    return check


def _no_export_written(volumes, result):
    assert not list(volumes.exports.rglob("*.tmp")) and not (volumes.exports / "flax_mlp" / "nan").exists()


def _ints_exact(volumes, result):
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    found = json.loads(line.removeprefix("RESULT "))
    assert found["dtype"] == "int32" and found["tfjs"] == found["jax"], found
    assert len(set(found["jax"])) > 1 and found["golden"] == 0  # several classes, golden.json exact


def _only_dead_owners_removed(volumes, result):
    left = sorted(p.name for p in volumes.tmp.glob("jax2tfjs-*"))
    assert left == [f"jax2tfjs-node-{os.getpid()}-live"], left


def _no_node_dirs_left(volumes, result):
    left = sorted(p.name for p in volumes.tmp.glob("jax2tfjs-*"))
    assert left == [], left


CASES = [
    Case(
        name="NaN in a checkpoint's params: refused before tracing, previous export intact",
        setup=_nan_checkpoint,
        command=_convert("uint8"),
        exit_code=2,
        error_code="J2T311",
        output_has=("hidden0/kernel (3 of 200,704 values)", "STEP="),
        check=_no_export_written,
    ),
    Case(
        name="NaN and inf in a function's params (API): refused, the export at out_dir intact",
        command=_python(NAN_WEIGHTS),
        exit_code=2,
        error_code="J2T311",
        output_has=("w (5 of 7,840 values)",),
    ),
    Case(
        name="a model whose outputs overflow to inf on the golden inputs: refused, nothing written",
        command=_python(OVERFLOWING_MODEL),
        exit_code=2,
        error_code="J2T311",
        output_has=("outputs on the golden inputs hold NaN or inf",),
    ),
    Case(
        name="golden.json output edited: verify fails that export, naming the file",
        setup=_tamper_golden_output,
        command=_verify("--model=mlp"),
        exit_code=4,
        error_code="J2T312",
        intact=READ_ONLY,
        output_has=("sealed at conversion: golden.json",),
        check=_uint8_failed_on("J2T312"),
    ),
    Case(
        name="golden.json output edited: doctor --golden names it",
        setup=_tamper_golden_output,
        command=_doctor(UINT8, "--golden"),
        exit_code=2,
        error_code="J2T312",
        output_has=("sealed at conversion: golden.json",),
    ),
    Case(
        name="weight shard truncated: verify fails that export, naming the shard",
        setup=_truncate_shard,
        command=_verify("--model=mlp"),
        exit_code=4,
        error_code="J2T312",
        intact=READ_ONLY,
        output_has=("sealed at conversion: group1-shard1of1.bin holds",),
        check=_uint8_failed_on("J2T312"),
    ),
    Case(
        name="weight shard truncated: doctor names it",
        setup=_truncate_shard,
        command=_doctor(UINT8),
        exit_code=2,
        error_code="J2T312",
        output_has=("sealed at conversion: group1-shard1of1.bin holds",),
    ),
    Case(
        name="model.json edited by hand (still valid JSON): doctor names it",
        setup=_edit_model_json,
        command=_doctor(UINT8),
        exit_code=2,
        error_code="J2T312",
        output_has=("sealed at conversion: model.json",),
    ),
    Case(
        name="model.json edited by hand: verify fails that export, the other passes",
        setup=_edit_model_json,
        command=_verify("--model=mlp"),
        exit_code=4,
        error_code="J2T312",
        intact=READ_ONLY,
        output_has=("flax_mlp/none: pass",),
        check=_uint8_failed_on("J2T312"),
    ),
    Case(
        name="an old (unsealed) export TF.js cannot load: a failure row naming it, later verifies work",
        setup=_old_export_tfjs_cannot_load,
        command=_verify(),
        exit_code=4,
        intact=READ_ONLY,
        output_has=("flax_mlp/none: FAIL", "Unknown op 'NoSuchOp'"),
        repair=_verify("--quantization=uint8", samples=None),
        check=_old_export_failed_and_the_other_still_verifies,
    ),
    Case(
        name="golden.json edited and the seal deleted from report.json: doctor still names J2T312",
        setup=lambda volumes: _seal_deleted(volumes.exports / UINT8),
        command=_doctor(UINT8),
        exit_code=2,
        error_code="J2T312",
        output_has=("lost its seal",),
    ),
    Case(
        name="an unsealed export: doctor warns (converted by an older jax2tfjs), no error",
        setup=lambda volumes: _unseal(volumes.exports / UINT8),
        command=_doctor(UINT8),
        exit_code=0,
        output_has=("not sealed (converted by an older jax2tfjs)", "0 errors"),
    ),
    Case(
        name="garbage verify.json of another export: the next (partial) verify and its report work",
        setup=_garbage_verify_json,
        command=_verify("--quantization=none"),
        exit_code=0,
        intact=READ_ONLY,
        check=_report_lists_uint8_as(None),
    ),
    Case(
        name="verify.json with missing and mistyped keys: the report shows it failed, never passed",
        setup=_verify_json_missing_keys,
        command=_verify("--quantization=none"),
        exit_code=0,
        intact=READ_ONLY,
        check=_report_lists_uint8_as("FAIL: its verify.json records no verdict"),
    ),
    Case(
        name="uint8 golden.json holding another model's outputs, seal updated: doctor --golden fails on its limit",
        setup=_another_models_golden_resealed,
        command=_doctor(UINT8, "--golden"),
        exit_code=2,
        error_code="J2T306",
        output_has=("differs from golden.json", "> 0.05 at uint8"),
    ),
    Case(
        name="an int output (argmax) in Node: exact int32 classes, not float32 garbage",
        command=_python(INT_OUTPUT),
        exit_code=0,
        intact=READ_ONLY,
        check=_ints_exact,
    ),
    Case(
        name="Node temp dirs of killed runs in $TMPDIR: removed by the next run, a live run's kept",
        setup=_leftover_node_dirs,
        command=_doctor(NONE, "--golden"),
        env={"TMPDIR": "{tmp}"},
        exit_code=0,
        check=_only_dead_owners_removed,
    ),
    Case(
        name="doctor --golden killed (SIGKILL) while Node runs: its temp dir is removed by the next run",
        command=_doctor(NONE, "--golden"),
        env={"TMPDIR": "{tmp}", "JAX2TFJS_FAULT_POINT": "tfjs_runtime.node"},
        exit_code=-9,
        repair=("env", "TMPDIR={tmp}", *_doctor(UINT8, "--golden")),
        check=_no_node_dirs_left,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fault(case, base_volumes, tmp_path):
    run_case(case, case_volumes(base_volumes, tmp_path))
