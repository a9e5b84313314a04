"""Checkpoint tools: `make check` (every model's checkpoints) and `make examine` (one checkpoint).

Both only read, so they take no lock (a checkpoint folder is complete once its name appears)."""

from __future__ import annotations

import json

import fire

from jax2tfjs import checkpoints
from jax2tfjs.jobargs import Arg, optional_whole_number
from jax2tfjs.jobkit import job_exit, run_job
from jax2tfjs.tables import format_table, text

STEP = Arg("STEP", "--step", "examine", "1250")
CHECK_COLUMNS = [
    ("model", "model", text),
    ("step", "step", text),
    ("epoch", "epoch", text),
    ("test_accuracy", "test acc", lambda v: "-" if v is None else f"{v:.4f}"),
    ("bytes", "size", lambda v: f"{v / 2**20:.2f} MB"),
    ("created", "created (UTC)", text),
    ("newest", "newest", lambda v: "yes" if v else ""),
    ("state", "state", text),
]
PARAM_COLUMNS = [
    ("path", "path", text),
    ("shape", "shape", lambda v: "x".join(map(str, v)) or "scalar"),
    ("dtype", "dtype", text),
    ("count", "count", lambda v: f"{v:,}"),
    ("bytes", "bytes", lambda v: f"{v:,}"),
]


def check(checkpoint_dir: str = "volumes/checkpoints", json_output: bool = False) -> None:
    """List every model's checkpoints: step, epoch, test accuracy, size, time, newest."""

    def work() -> dict:
        rows = checkpoints.check(checkpoint_dir)
        if json_output:
            print(json.dumps(rows, indent=2))
        elif rows:
            print(format_table(rows, CHECK_COLUMNS))
        else:
            print(f"no checkpoints under {checkpoint_dir}; run `make train`")
        return {"checkpoints": len(rows)}

    run_job("check", work, memory_limit_gb=None, report_path=None, quiet=json_output)


def examine(
    ckpt: str | None = None,
    model: str | None = None,
    step: int | None = None,
    checkpoint_dir: str = "volumes/checkpoints",
    json_output: bool = False,
) -> None:
    """Show one checkpoint's parameter tree, totals and metadata (CKPT=dir, or MODEL= [STEP=])."""
    with job_exit("examine"):
        step = optional_whole_number(step, STEP, minimum=0)

    def work() -> dict:
        step_dir = checkpoints.resolve(checkpoint_dir, ckpt=ckpt, model=model, step=step)
        found = checkpoints.examine(step_dir)
        if json_output:
            print(json.dumps(found, indent=2))
            return {}
        meta = found["metadata"]
        print(f"checkpoint  {found['checkpoint']}")
        print(f"params at   {found['params_path']}")
        print(format_table(found["params"], PARAM_COLUMNS))
        totals = found["totals"]
        print(
            f"total       {totals['arrays']} arrays, {totals['parameters']:,} parameters, {totals['bytes']:,} bytes"
        )
        for name, other in found["other_state"].items():
            print(f"also saved  {name}: {other['arrays']} arrays, {other['bytes']:,} bytes")
        print("metadata")
        print(
            json.dumps(meta, indent=2)
            if meta
            else "  none (this checkpoint was not written by jobs/train.py)"
        )
        return {}

    run_job("examine", work, memory_limit_gb=None, report_path=None, quiet=json_output)


if __name__ == "__main__":
    fire.Fire({"check": check, "examine": examine})
