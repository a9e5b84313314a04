"""Smoke test of the fault harness itself (a single row); the real tables live in test_faults_*.py."""

from __future__ import annotations

import pytest
from faultkit import Case, base_volumes_fixture, case_volumes, run_case

base_volumes = pytest.fixture(scope="session")(base_volumes_fixture)

CASES = [
    Case(
        name="check lists the base checkpoint",
        command=("{train}", "jobs/checkpoints.py", "check", "--checkpoint-dir={checkpoints}"),
        exit_code=0,
        output_has=("flax_mlp",),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fault(case, base_volumes, tmp_path):
    run_case(case, case_volumes(base_volumes, tmp_path))
