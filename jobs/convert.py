"""Convert job: `make convert MODEL=flax QUANT=uint16 [STEP=]` → volumes/exports/<model>/<quant>/.

MODEL and QUANT take comma lists (`MODEL=flax,mlp QUANT=none,uint8`: every pair) or `all`. The
arguments are checked before any work; the job then holds the exports volume's lock to the end, so
a verify never reads an export this job is replacing and two converts never collide.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import fire
import numpy as np

from jax2tfjs import atomic, checkpoints
from jax2tfjs.data import DATA_FILE, load_dataset
from jax2tfjs.errors import ModelInputError
from jax2tfjs.export import publish
from jax2tfjs.export.tfjs_convert import NON_COMPUTE_OPS, QUANTIZATIONS
from jax2tfjs.jobargs import Arg, names, optional_whole_number
from jax2tfjs.jobkit import job_exit, run_job
from jax2tfjs.models import ALIASES, model_names

MODEL = Arg("MODEL", "--model", "convert", "flax")
QUANT = Arg("QUANT", "--quantization", "convert", "uint8")
STEP = Arg("STEP", "--step", "convert", "1250")


def _ask(checkpoint_dir: str) -> tuple[str, int, str]:
    """Model, step and quantization picked in a terminal prompt (questionary)."""
    import questionary

    if not sys.stdin.isatty():
        raise ModelInputError(
            "--interactive needs a terminal",
            fix="run `make convert MODEL=<name> QUANT=<q> [STEP=<n>]` instead",
        )
    rows = [r for r in checkpoints.check(checkpoint_dir) if r["usable"]]
    if not rows:
        raise ModelInputError(f"no checkpoints under {checkpoint_dir}", fix="run `make train` first")
    model = questionary.select("Model:", choices=sorted({r["model"] for r in rows})).unsafe_ask()
    steps = [r for r in rows if r["model"] == model]
    choice = questionary.select(
        "Checkpoint:",
        choices=[
            questionary.Choice(
                f"step {r['step']} (epoch {r['epoch']}, test acc {r['test_accuracy']:.4f})", r["step"]
            )
            for r in reversed(steps)
        ],
    ).unsafe_ask()
    quant = questionary.select("Quantization:", choices=list(QUANTIZATIONS)).unsafe_ask()
    return model, choice, quant


def _publish(export_dir: str, arrays: dict, data_dir: str) -> None:
    publish.publish(
        export_dir,
        (arrays["x_test"], arrays["y_test"]),
        samples_source=f"the test split of {Path(data_dir) / DATA_FILE}",
    )


def main(
    model: str = "flax",
    quantization: str = "none",
    step: int | None = None,
    interactive: bool = False,
    checkpoint_dir: str = "volumes/checkpoints",
    data_dir: str = "volumes/data",
    export_dir: str = "volumes/exports",
    no_autofix: bool = False,
    memory_limit_gb: float | None = None,
) -> None:
    """Convert one checkpoint to a TF.js graph model.

    Args:
      model: jax_cnn, flax_cnn, flax_mlp (or jax, flax, mlp); a comma list, or all.
      quantization: none, float16, uint16 or uint8; a comma list, or all.
      step: checkpoint step (default: the newest).
      interactive: pick model, checkpoint and quantization in a terminal prompt.
      checkpoint_dir: the checkpoints volume.
      data_dir: the data volume (real test digits for golden.json).
      export_dir: the exports volume.
      no_autofix: turn auto-fix off: parameters that need a fix (keys, layouts, dtypes) are errors.
      memory_limit_gb: the memory guard's limit (default $MEMORY_LIMIT_GB or 8).
    """

    with job_exit("convert"):
        names_asked = names(model, model_names(), MODEL, ALIASES)
        quants_asked = names(quantization, QUANTIZATIONS, QUANT)
        step_asked = optional_whole_number(step, STEP, minimum=0)

    def work() -> dict:
        # Imported here, not at the top: TensorFlow takes seconds to import, and a mistyped
        # variable must be refused before that.
        from jax2tfjs.api import to_tensorflowjs

        if interactive:
            jobs = [_ask(checkpoint_dir)]
        else:
            jobs = [(name, step_asked, quant) for name in names_asked for quant in quants_asked]
        arrays, _ = load_dataset(data_dir)
        golden = arrays["x_test"][:8].astype(np.float32) / 255.0
        # Every checkpoint is found (and checked) before the first conversion: a missing or damaged
        # one for the last model of a list must not stop the job after minutes of work.
        planned = [
            (
                checkpoints.resolve(checkpoint_dir, model=name, step=chosen_step),
                Path(export_dir) / name / quant,
                quant,
            )
            for name, chosen_step, quant in jobs
        ]
        out_dirs = []
        try:
            for step_dir, out_dir, quant in planned:
                report = to_tensorflowjs(
                    step_dir,
                    out_dir=out_dir,
                    quantization=quant,
                    golden_inputs=golden,
                    autofix=not no_autofix,
                )
                out_dirs.append(str(out_dir))
                print(
                    f"[convert] {out_dir}: {report.total_bytes / 2**20:.2f} MB, {report.tfjs_compute_ops} compute ops "
                    f"({', '.join(f'{op}x{n}' for op, n in report.tfjs_ops.items() if op not in NON_COMPUTE_OPS)}), "
                    f"SavedModel vs JAX max |diff| {report.savedmodel_max_abs_diff:.2e}"
                )
                for warning in report.warnings:
                    print(f"[convert] warning: {warning}")
        except BaseException:
            if out_dirs:  # the exports finished before the failure belong in index.json
                _publish(export_dir, arrays, data_dir)
            raise
        _publish(export_dir, arrays, data_dir)
        return {"out_dirs": out_dirs}

    def record_cost(result: dict) -> None:
        """Each export's report.json gets the job's cost too (known only once the guard stops)."""
        job = {key: result[key] for key in ("wall_s", "peak_rss_mb", "memory_limit_gb")}
        job["exports_in_job"] = len(result["out_dirs"])
        for out_dir in result["out_dirs"]:
            report_path = Path(out_dir) / "report.json"
            atomic.write_json(report_path, {**json.loads(report_path.read_text()), "job": job})

    run_job(
        "convert",
        work,
        memory_limit_gb=memory_limit_gb,
        report_path=None,
        hold=[export_dir],
        after=record_cost,
    )


if __name__ == "__main__":
    fire.Fire(main)
