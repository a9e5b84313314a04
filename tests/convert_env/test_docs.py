"""Generated docs stay in step with the code."""

from __future__ import annotations

from conftest import ROOT
from jax2tfjs.lowering import coverage


def test_coverage_doc_is_generated_from_the_registry():
    on_disk = (ROOT / "docs" / "coverage.md").read_text()
    assert on_disk == coverage.render(), "docs/coverage.md is stale: run `make docs`"


def test_api_example_runs_and_converts_a_users_own_flax_model(tmp_path):
    from conftest import run, venv_python

    proc = run([venv_python("convert"), ROOT / "docs/examples/convert_own_flax_model.py", tmp_path / "out"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "max |TF.js - JAX|" in proc.stdout and (tmp_path / "out" / "model.json").exists()
