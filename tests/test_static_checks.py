"""Static checks for what cannot run here (no Docker engine, no GitHub): Dockerfiles, compose, workflows."""

from __future__ import annotations

import pytest

from conftest import ROOT, VENV, run

TOOLS = VENV / "tools" / "bin"


@pytest.mark.parametrize("image", ["train", "convert"])
def test_dockerfile_is_hadolint_clean(image):
    proc = run([TOOLS / "hadolint", ROOT / "docker" / image / "Dockerfile"])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_compose_is_valid_against_the_compose_spec_schema():
    proc = run([TOOLS / "check-jsonschema", "--builtin-schema", "vendor.compose-spec", ROOT / "compose.yaml"])
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("image", ["train", "convert"])
def test_dockerfile_installs_from_its_own_lock_with_hashes(image):
    text = (ROOT / "docker" / image / "Dockerfile").read_text()
    assert f"COPY docker/{image}/requirements.lock" in text
    assert "--require-hashes" in text and "--no-cache-dir" in text
    assert "\nUSER " in text  # non-root


def test_github_workflows_are_actionlint_clean():
    workflows = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
    assert {w.name for w in workflows} >= {"ci.yml", "nightly.yml"}
    proc = run([TOOLS / "actionlint", *workflows])
    assert proc.returncode == 0, proc.stdout + proc.stderr
