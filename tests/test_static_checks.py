"""Static checks for what cannot run here (no Docker engine, no GitHub): Dockerfiles, compose, workflows;
and the Makefile's own shell: the exit words and VOLUMES."""

from __future__ import annotations

import os
import re

import pytest

from conftest import ROOT, VENV, run

TOOLS = VENV / "tools" / "bin"


@pytest.mark.parametrize("image", ["train", "convert"])
def test_dockerfile_is_hadolint_clean(image):
    proc = run([TOOLS / "hadolint", ROOT / "docker" / image / "Dockerfile"])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_shell_scripts_are_shellcheck_clean():
    scripts = run(["git", "ls-files", "*.sh", ".ci/run"]).stdout.split()
    assert len(scripts) >= 6, scripts  # the containers' scripts, serve.sh, check_prereqs.sh, .ci/run
    proc = run([TOOLS / "shellcheck", *scripts])
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


def test_make_names_a_failed_jobs_exit_status_in_the_words_of_the_table_in_code():
    """make returns 2 for any failed recipe; the Makefile prints the job's own status with the text
    of jax2tfjs.compare.EXIT_CODES, mirrored as a shell `case` so RUNNER=docker needs no Python."""
    from jax2tfjs.compare import EXIT_CODES

    makefile = (ROOT / "Makefile").read_text()
    mirrored = {
        int(code): text.replace("\\`", "`")
        for code, text in re.findall(r'^\t(\d+)\) words="(.*)";; \\$', makefile, flags=re.M)
    }
    assert mirrored == {code: text for code, text in EXIT_CODES.items() if code != 0}


@pytest.mark.parametrize(
    ("code", "words"),
    [(86, "the memory guard stopped"), (143, "stopped by SIGTERM"), (139, "ended by signal 11")],
)
def test_the_exit_words_run_in_bash(code, words):
    proc = run(["make", "-n", "convert", "RUNNER=local"])
    line = next(line for line in proc.stdout.splitlines() if "|| { status=" in line)
    # The recipe's failure branch, fed a job that exits `code`.
    branch = line[line.index("|| {") :]
    shell = run(["bash", "-c", f"(exit {code}) {branch}"])
    assert shell.returncode == code
    assert f"[make] job convert exited {code}: {words}" in shell.stderr


def test_volumes_moves_every_job_to_another_tree_for_every_runner():
    proc = run(
        ["make", "-n", "convert", "verify", "train", "data", "check", "RUNNER=local", "VOLUMES=/tmp/v"]
    )
    assert proc.returncode == 0, proc.stderr
    for flag in (
        "--export-dir=/tmp/v/exports",
        "--checkpoint-dir=/tmp/v/checkpoints",
        "--data-dir=/tmp/v/data",
    ):
        assert flag in proc.stdout
    assert "--out-dir=/tmp/v/data" in proc.stdout  # the data job's flag
    # Containers see the tree through compose.yaml's bind mounts, whose folders make creates first.
    docker = run(["make", "-n", "check", "RUNNER=docker", "VOLUMES=/tmp/v"])
    assert docker.returncode == 0, docker.stderr
    assert "mkdir -p /tmp/v/data /tmp/v/checkpoints /tmp/v/exports" in docker.stdout


def test_a_container_runner_without_its_engine_exits_2_with_the_fix(tmp_path):
    for engine in ("docker", "podman"):
        fake = tmp_path / engine
        fake.write_text("#!/bin/sh\nexit 1\n")  # an engine that never answers
        fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    for engine, fix in (
        ("docker", "start Docker, or use RUNNER=local"),
        ("podman", "apt-get install podman"),
    ):
        proc = run(["make", "check", f"RUNNER={engine}"], env=env)
        assert proc.returncode == 2, proc.stderr
        assert f"RUNNER={engine} but" in proc.stderr and fix in proc.stderr
