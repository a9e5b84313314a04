"""`doctor` on healthy and broken checkpoints and exports, in process and through jobs/doctor.py."""

from __future__ import annotations

import json
import shutil

import jax
import numpy as np
import pytest

from bench.corpus import models as corpus_models
from conftest import ROOT, run, venv_python
from jax2tfjs import checkpoints, hashing
from jax2tfjs.api import to_tensorflowjs
from jax2tfjs.doctor import checks as doctor
from jax2tfjs.export import publish
from jax2tfjs.models import get_model


def by_check(findings):
    return {f.check: f for f in findings}


@pytest.fixture(scope="module")
def healthy_checkpoint(tmp_path_factory):
    params = get_model("flax_mlp").init(jax.random.key(0))
    root = tmp_path_factory.mktemp("ckpt")
    return corpus_models.write_checkpoint(
        root, "flax_mlp", {"params": params, "opt_state": {"count": np.int32(1)}}
    )


@pytest.fixture(scope="module")
def healthy_export(tmp_path_factory):
    root = tmp_path_factory.mktemp("exports")
    module = corpus_models.MLP()
    variables = module.init(jax.random.key(0), np.zeros((1, 16), np.float32))
    out = root / "mlp" / "none"
    to_tensorflowjs(
        module, variables, input_spec=corpus_models.MLP_SPEC, out_dir=out, name="mlp", progress=False
    )
    publish.rebuild(root)
    return out


def copy_of(folder, tmp_path):
    target = tmp_path / folder.parent.name / folder.name
    shutil.copytree(folder, target)
    return target


def test_a_healthy_checkpoint_has_only_ok_findings(healthy_checkpoint):
    kind, findings = doctor.examine(healthy_checkpoint.parent)  # the model folder: checks the newest step
    assert kind == "checkpoint" and doctor.healthy(findings)
    assert [f.level for f in findings] == ["ok"] * len(findings)
    checks = by_check(findings)
    assert "flax_mlp" in checks["metadata"].message and "match the registry model" in checks["params"].message
    assert "as recorded at save time" in checks["files"].message and "flax_mlp/" in checks["model"].message


def test_a_trainstate_checkpoint_is_healthy_with_a_warning_naming_the_fix(tmp_path):
    params = get_model("flax_mlp").init(jax.random.key(1))
    step_dir = corpus_models.write_checkpoint(
        tmp_path, "flax_mlp", {"step": np.int32(3), "params": params, "opt_state": [{"count": np.int32(3)}]}
    )
    _, findings = doctor.examine(step_dir)
    params_finding = by_check(findings)["params"]
    assert doctor.healthy(findings) and params_finding.level == "warning" and params_finding.code == "J2T307"
    assert "automatically" in params_finding.fix and "opt_state, step" in params_finding.fix


def test_checkpoints_with_wrong_params_or_damage_are_errors(tmp_path):
    params = get_model("jax_cnn").init(jax.random.key(0))
    params["dense1"] = {
        "kernel": np.zeros((128, 7), np.float32),
        "bias": np.zeros(7, np.float32),
    }  # 7 classes
    step_dir = corpus_models.write_checkpoint(
        tmp_path, "jax_cnn", {"params": params, "opt_state": {"count": np.int32(1)}}
    )
    _, findings = doctor.examine(step_dir)
    assert by_check(findings)["params"].code == "J2T308" and not doctor.healthy(findings)
    assert "dense1/kernel given (128, 7), model wants (128, 10)" in by_check(findings)["params"].message

    shutil.rmtree(step_dir / checkpoints.STATE_ITEM)
    _, findings = doctor.examine(step_dir)
    assert (
        by_check(findings)["finished"].code == "J2T202"
        and "state missing" in by_check(findings)["finished"].message
    )
    _, findings = doctor.examine(tmp_path / "nowhere")
    assert findings[0].code == "J2T202" and "does not exist" in findings[0].message


def test_a_truncated_or_altered_state_file_is_an_error_naming_it(healthy_checkpoint, tmp_path):
    truncated = copy_of(healthy_checkpoint, tmp_path / "a")
    biggest = max(
        (p for p in (truncated / "state").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size
    )
    saved = biggest.stat().st_size
    biggest.write_bytes(biggest.read_bytes()[:1234])
    files = by_check(doctor.examine(truncated)[1])["files"]
    assert files.level == "error" and files.code == "J2T202"
    assert (
        files.message
        == f"the checkpoint is corrupt: {biggest.relative_to(truncated)} is 1,234 bytes, saved {saved:,}"
    )

    altered = copy_of(healthy_checkpoint, tmp_path / "b")
    biggest = max((p for p in (altered / "state").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    data = bytearray(biggest.read_bytes())
    data[-1] ^= 0xFF
    biggest.write_bytes(bytes(data))
    _, findings = doctor.examine(altered)
    assert by_check(findings)["files"].code == "J2T202" and not doctor.healthy(findings)
    assert "differs from what was saved" in by_check(findings)["files"].message


def test_another_models_checkpoint_in_a_models_folder_is_an_error(healthy_checkpoint, tmp_path):
    wrong = tmp_path / "flax_cnn" / healthy_checkpoint.name
    shutil.copytree(healthy_checkpoint, wrong)
    _, findings = doctor.examine(wrong.parent)
    model = by_check(findings)["model"]
    assert (
        model.level == "error" and model.code == "J2T204" and "holds a flax_mlp checkpoint" in model.message
    )


def test_a_damaged_newest_step_of_a_model_folder_is_an_error(healthy_checkpoint, tmp_path):
    folder = tmp_path / "flax_mlp"
    shutil.copytree(healthy_checkpoint, folder / healthy_checkpoint.name)
    shutil.copytree(healthy_checkpoint, folder / "99")
    (folder / "99" / checkpoints.ORBAX_MARKER).unlink()
    _, findings = doctor.examine(folder)
    steps = by_check(findings)["steps"]
    assert steps.level == "error" and steps.code == "J2T202" and steps.message.startswith("step 99: ")
    assert "99.damaged" in steps.fix and not doctor.healthy(findings)


def test_a_healthy_export_passes_every_check_including_tfjs(healthy_export):
    kind, findings = doctor.examine(healthy_export, golden=True)
    assert kind == "export" and [f.level for f in findings] == ["ok"] * len(findings), doctor.render(
        "x", kind, findings
    )
    checks = by_check(findings)
    assert set(checks) == {
        "seal",
        "model.json",
        "weights",
        "ops",
        "metadata",
        "report.json",
        "golden.json",
        "tfjs",
        "web index",
    }
    assert "reproduces golden.json" in checks["tfjs"].message
    assert "3 files match" in checks["seal"].message  # model.json, the shard, golden.json


def test_damaged_exports_are_named_with_their_codes(healthy_export, tmp_path):
    truncated = copy_of(healthy_export, tmp_path / "a")
    shard = next(truncated.glob("group1-shard*.bin"))
    shard.write_bytes(shard.read_bytes()[:-8])
    checks = by_check(doctor.examine(truncated)[1])
    assert checks["weights"].code == "J2T306" and "need" in checks["weights"].message
    assert checks["seal"].code == "J2T312" and f"{shard.name} holds" in checks["seal"].message

    foreign = copy_of(healthy_export, tmp_path / "b")
    model_json = json.loads((foreign / "model.json").read_text())
    model_json["modelTopology"]["node"][-2]["op"] = "XlaCallModule"
    (foreign / "model.json").write_text(json.dumps(model_json))
    checks = by_check(doctor.examine(foreign)[1])
    assert checks["ops"].code == "J2T303" and "XlaCallModule×1" in checks["ops"].message
    assert checks["seal"].code == "J2T312" and "sealed at conversion: model.json" in checks["seal"].message

    unindexed = copy_of(healthy_export, tmp_path / "c")
    (unindexed / "report.json").unlink()
    publish.rebuild(unindexed.parent.parent)
    checks = by_check(doctor.examine(unindexed)[1])
    assert checks["report.json"].level == "warning" and checks["web index"].level == "warning"
    # The fix is a command to paste: it must run as printed (it once named a module that had moved).
    command = checks["web index"].fix.replace("python", str(venv_python("convert")), 1)
    pasted = run(["sh", "-c", command])
    assert pasted.returncode == 0, pasted.stderr[-1000:]

    wrong_golden = copy_of(healthy_export, tmp_path / "d")
    golden = json.loads((wrong_golden / "golden.json").read_text())
    golden["outputs"][0]["values"][0] += 1.0
    (wrong_golden / "golden.json").write_text(json.dumps(golden))
    checks = by_check(doctor.examine(wrong_golden, golden=True)[1])
    assert checks["tfjs"].code == "J2T306" and "differs from golden.json" in checks["tfjs"].message
    assert checks["seal"].code == "J2T312" and "golden.json" in checks["seal"].message


def _shift_golden_and_reseal(folder, shift):
    """golden.json's outputs moved by `shift`, with report.json's seal updated to match: only the
    threshold can tell."""
    golden = json.loads((folder / "golden.json").read_text())
    golden["outputs"][0]["values"] = (np.asarray(golden["outputs"][0]["values"]) + shift).tolist()
    (folder / "golden.json").write_text(json.dumps(golden))
    report = json.loads((folder / "report.json").read_text())
    report[hashing.SEAL_KEY].update(hashing.file_seal(folder, ["golden.json"]))
    (folder / "report.json").write_text(json.dumps(report))


def test_golden_is_judged_with_the_quantizations_limit(healthy_export, tmp_path):
    variables = corpus_models.MLP().init(jax.random.key(0), np.zeros((1, 16), np.float32))
    uint8 = tmp_path / "mlp" / "uint8"
    to_tensorflowjs(
        corpus_models.MLP(), variables, input_spec=corpus_models.MLP_SPEC, out_dir=uint8, name="mlp",
        quantization="uint8", progress=False,
    )  # fmt: skip
    _shift_golden_and_reseal(uint8, 0.01)  # within uint8's 5e-2, far over none's 1e-4
    checks = by_check(doctor.examine(uint8, golden=True)[1])
    assert checks["seal"].level == "ok" and checks["tfjs"].level == "ok", checks["tfjs"].message
    assert "≤ 0.05 (uint8)" in checks["tfjs"].message
    _shift_golden_and_reseal(uint8, 0.2)  # another model's outputs, as far as the limit can tell
    checks = by_check(doctor.examine(uint8, golden=True)[1])
    assert checks["tfjs"].code == "J2T306" and "> 0.05 at uint8" in checks["tfjs"].message

    none = copy_of(healthy_export, tmp_path / "n")
    _shift_golden_and_reseal(none, 0.01)
    checks = by_check(doctor.examine(none, golden=True)[1])
    assert checks["tfjs"].code == "J2T306" and "> 0.0001 at none" in checks["tfjs"].message


def test_an_export_from_before_seals_is_a_warning_not_an_error(healthy_export, tmp_path):
    old = copy_of(healthy_export, tmp_path)
    report = json.loads((old / "report.json").read_text())
    del report[hashing.SEAL_KEY], report[hashing.FORMAT_KEY]
    (old / "report.json").write_text(json.dumps(report))
    findings = doctor.examine(old)[1]
    seal = by_check(findings)["seal"]
    assert doctor.healthy(findings) and seal.level == "warning"
    assert "not sealed (converted by an older jax2tfjs)" in seal.message and "make convert" in seal.fix


def test_the_job_exits_0_when_healthy_and_2_with_errors(healthy_checkpoint, tmp_path):
    proc = run([venv_python("convert"), ROOT / "jobs/doctor.py", healthy_checkpoint])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "summary: 7 ok, 0 warnings, 0 errors" in proc.stdout
    broken = copy_of(healthy_checkpoint, tmp_path)
    shutil.rmtree(broken / checkpoints.STATE_ITEM)
    proc = run([venv_python("convert"), ROOT / "jobs/doctor.py", broken, "--json-output"])
    assert proc.returncode == 2
    findings = json.loads(proc.stdout)["findings"]
    assert findings[-1]["level"] == "error" and findings[-1]["code"] == "J2T202" and findings[-1]["fix"]
