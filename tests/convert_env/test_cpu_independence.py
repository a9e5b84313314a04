"""A conversion is a pure function of the model and the package versions: TensorFlow switches
oneDNN on by CPU (AVX-512 VNNI/BF16, AMX), and with it grappler's remapper fused Dense→tanh into
an op no TF.js backend runs. Converted with oneDNN forced on and forced off, every zoo model's
model.json and weight shards must be byte-identical."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench import zoo
from conftest import ROOT

CHILD = Path(__file__).with_name("convert_zoo_child.py")


def _convert_all(out: Path, onednn: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "TF_ENABLE_ONEDNN_OPTS": onednn,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_every_zoo_model_converts_to_the_same_bytes_with_onednn_on_and_off(tmp_path):
    # Both children at once: each is one TensorFlow import plus 47 conversions (about 3-6 min on 2 cores shared).
    children = {flag: _convert_all(tmp_path / flag, flag) for flag in ("1", "0")}
    results = {}
    for flag, child in children.items():
        stdout, stderr = child.communicate(timeout=600)
        assert child.returncode == 0, stderr[-2000:]
        results[flag] = json.loads(stdout.strip().splitlines()[-1])
    assert results["1"]["onednn"] is True and results["0"]["onednn"] is False  # the switch took effect
    names = [entry.name for entry in zoo.entries()]
    assert results["1"]["converted"] == results["0"]["converted"] == names
    for name in names:
        on, off = tmp_path / "1" / name, tmp_path / "0" / name
        shipped = sorted(p.name for p in on.iterdir() if p.name == "model.json" or p.suffix == ".bin")
        assert shipped == sorted(
            p.name for p in off.iterdir() if p.name == "model.json" or p.suffix == ".bin"
        )
        for file in shipped:
            assert (on / file).read_bytes() == (off / file).read_bytes(), f"{name}/{file} differs"
