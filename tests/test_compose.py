"""compose.yaml and the Makefile describe the same jobs; the runner switch does what it says."""

from __future__ import annotations

import os
import shutil

import pytest
import yaml

from conftest import ROOT, run


def makefile_jobs() -> dict[str, tuple[str, list[str]]]:
    proc = run(["make", "-s", "jobs-table"])
    assert proc.returncode == 0, proc.stderr
    table = {}
    for line in proc.stdout.strip().splitlines():
        job, image, *volumes = line.split()
        table[job] = (image, volumes)
    return table


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_makefile_lists_the_five_jobs():
    assert set(makefile_jobs()) == {"data", "train", "convert", "verify", "checkpoints"}


@pytest.mark.parametrize("job", ["data", "train", "checkpoints", "convert", "verify"])
def test_every_job_has_a_compose_service_with_the_same_image_and_volumes(job):
    image, volumes = makefile_jobs()[job]
    service = compose()["services"][job]
    assert service["build"]["dockerfile"] == f"docker/{image}/Dockerfile"
    assert service["entrypoint"] == ["python", f"jobs/{job}.py"]
    assert service["mem_limit"] == "8g"
    expected = []
    for volume in volumes:
        name, _, mode = volume.partition(":")
        expected.append(
            f"${{JAX2TFJS_VOLUMES:-./volumes}}/{name}:/app/volumes/{name}" + (f":{mode}" if mode else "")
        )
    assert sorted(service["volumes"]) == sorted(expected)


def test_web_service_serves_web_and_exports_read_only_on_8080():
    web = compose()["services"]["web"]
    assert web["image"].startswith("nginx:")
    assert "${WEB_PORT:-8080}:8080" in web["ports"]
    assert "./web:/usr/share/nginx/html:ro" in web["volumes"]
    assert "${JAX2TFJS_VOLUMES:-./volumes}/exports:/usr/share/nginx/models:ro" in web["volumes"]
    # The allow-list in web/nginx.conf is what keeps the rest of the mounted web/ unserved.
    assert "./web/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in web["volumes"]


def test_web_service_has_open_files_for_hundreds_of_idle_clients():
    # The image's nginx runs 1024 connections per worker: a socket and a file each.
    assert compose()["services"]["web"]["ulimits"]["nofile"] >= 2048


def test_docker_runner_prints_a_compose_run_command():
    proc = run(["make", "-n", "train", "MODEL=flax", "RUNNER=docker", "CA_BUNDLE="])
    assert proc.returncode == 0, proc.stderr
    # -T: no pseudo-terminal, since make's input here is not a terminal.
    assert "docker compose run --rm --no-deps -T train --model=flax" in proc.stdout


def _answers(engine: str) -> bool:
    return shutil.which(engine) is not None and run([engine, "info"]).returncode == 0


def test_podman_runner_prints_a_podman_compose_run_command_with_the_ca_mounts():
    proc = run(["make", "-n", "convert", "QUANT=uint16", "RUNNER=podman", "CA_BUNDLE=/etc/hosts"])
    assert proc.returncode == 0, proc.stderr
    assert "podman-compose --profile jobs --profile tools run --rm --no-deps -T" in proc.stdout
    assert "-v /etc/hosts:/etc/ssl/certs/ca-certificates.crt:ro" in proc.stdout
    assert "convert --model=flax --quantization=uint16" in proc.stdout
    # CA_BUNDLE= (empty) mounts nothing.
    proc = run(["make", "-n", "convert", "RUNNER=podman", "CA_BUNDLE="])
    assert "ca-certificates.crt" not in proc.stdout


def test_container_jobs_get_an_absolute_volumes_path_and_the_invoking_user():
    # compose.yaml reads ${JAX2TFJS_VOLUMES}; a relative path would be taken for a named volume.
    env = run(["make", "-s", "container-env", "VOLUMES=rel/v"])
    assert env.returncode == 0, env.stderr
    values = dict(line.split("=", 1) for line in env.stdout.split())
    assert values["JAX2TFJS_VOLUMES"] == str(ROOT / "rel" / "v")
    assert values["JAX2TFJS_UID"] == str(os.getuid())
    assert values["JAX2TFJS_GID"] == str(os.getgid())


@pytest.mark.skipif(
    _answers("docker") or _answers("podman"),
    reason="a container engine answers here, so the auto runner rightly picks it",
)
def test_auto_runner_falls_back_to_local_and_says_so_once():
    proc = run(["make", "-n", "data"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("no container engine answers") == 1  # stderr: JSON=1 keeps stdout clean
    assert ".venv/convert/bin/python jobs/data.py --source=auto" in proc.stdout


@pytest.mark.skipif(
    _answers("docker") or not _answers("podman"),
    reason="needs podman answering and no Docker engine (docker comes first in the auto order)",
)
def test_auto_runner_picks_podman_when_it_answers_and_docker_does_not():
    proc = run(["make", "-n", "data"])
    assert proc.returncode == 0, proc.stderr
    assert "podman-compose" in proc.stdout


def test_unknown_runner_is_refused():
    proc = run(["make", "-n", "data", "RUNNER=kubernetes"])
    assert proc.returncode != 0
    assert "RUNNER=kubernetes is not one of auto, local, docker, podman" in proc.stderr
