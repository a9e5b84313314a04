"""Benchmarks: `make bench` → bench/results.json, bench/README.md, bench/*.png, bench/train_speed.json.

`train` runs in .venv/train (training speed); `run` runs in .venv/convert and measures the rest side
by side: conversion against the official convert_jax path and jax2onnx, inference, quantization and
every job's peak RSS. `zoo-ops` (convert venv, after `run`: it adds its key to results.json) converts
every zoo model with ours and with the official path and compares TF.js op counts and latency; it
runs alone too. Each subcommand imports only what it needs, so either venv can load this file.
"""

from __future__ import annotations

from pathlib import Path

import fire

from jax2tfjs import atomic
from jax2tfjs.jobkit import run_job
from jax2tfjs.tables import format_table, text

TRAIN_COLUMNS = [
    ("model", "model", text),
    ("bare_step_images_per_s", "bare step img/s", lambda v: f"{v:,.0f}"),
    ("loop_images_per_s", "loop img/s", lambda v: f"{v:,.0f}"),
    ("ratio", "loop / bare", lambda v: f"{v:.1%}"),
    ("meets_target", "≥ 90 %", lambda v: "yes" if v else "NO"),
]


def train(
    models: str = "flax_cnn,jax_cnn,flax_mlp",
    epochs: int = 4,
    repeats: int = 3,
    data_dir: str = "volumes/data",
    out: str = "bench/train_speed.json",
    memory_limit_gb: float | None = None,
) -> None:
    """Images/s of the training loop vs the bare jitted step (medians, interleaved in one run)."""
    from bench.perf import train_speed

    def work() -> dict:
        names = tuple(models.split(",")) if isinstance(models, str) else tuple(models)
        result = train_speed.run(names, data_dir, epochs=epochs, repeats=repeats)
        atomic.write_json(out, result)
        print(format_table(result["rows"], TRAIN_COLUMNS))
        print(f"[bench] wrote {out}")
        return {}

    run_job("bench-train", work, memory_limit_gb=memory_limit_gb, report_path=None)


def run(
    out_dir: str = "bench",
    checkpoint_dir: str = "volumes/checkpoints",
    data_dir: str = "volumes/data",
    conversion_rounds: int = 5,
    inference_rounds: int = 3,
    repeats: int = 20,
    memory_limit_gb: float | None = None,
) -> None:
    """Conversion (ours vs official vs jax2onnx), inference, quantization, jobs' memory → out_dir."""
    from bench.perf import report, suite

    def work() -> dict:
        results = suite.run(
            Path(out_dir), checkpoint_dir, data_dir, conversion_rounds, inference_rounds, repeats
        )
        print(report.markdown(results))
        print(f"[bench] wrote {out_dir}/results.json, README.md and the charts in {results['wall_s']} s")
        return {}

    run_job("bench", work, memory_limit_gb=memory_limit_gb, report_path=None)


def report(out_dir: str = "bench") -> None:
    """Rewrite out_dir/README.md and the charts from out_dir/results.json (no new measurements)."""
    from bench.perf import suite

    def work() -> dict:
        suite.rerender(Path(out_dir))
        print(f"[bench] rewrote {out_dir}/README.md and the charts from {out_dir}/results.json")
        return {}

    run_job("bench-report", work, memory_limit_gb=None, report_path=None)


def zoo_ops(
    out_dir: str = "bench",
    models: str = "all",
    latencies: bool = True,
    rounds: int = 3,
    repeats: int = 20,
    keep_work: bool = False,
    memory_limit_gb: float | None = None,
) -> None:
    """Every zoo model, ours vs the official convert_jax: TF.js op counts and cpu/wasm latencies →
    the zoo_ops key of out_dir/results.json and its section of out_dir/README.md (the rest is kept).

    Args:
      models: all, fast, or a comma list of zoo names.
      latencies: False to measure op counts only (a minute or two instead of several).
      rounds: Node processes per backend, each running every pair side by side.
      repeats: timed predictions per export and round (after 5 warm-up ones).
      keep_work: keep both sides' exports in out_dir/work/zoo_ops/ (ours/, official/, portable/).
    """
    from bench import zoo
    from bench.perf import report, zoo_ops

    def work() -> dict:
        names = ",".join(models) if isinstance(models, list | tuple) else str(models)
        section = zoo_ops.run(
            zoo.select(names),
            Path(out_dir) / "work" / "zoo_ops",
            latencies=latencies,
            rounds=rounds,
            repeats=repeats,
            keep_work=keep_work,
        )
        report.write_zoo_ops(section, Path(out_dir))
        print(report.zoo_ops_markdown(section))
        print(
            f"[bench] wrote the zoo_ops section of {out_dir}/results.json and README.md in {section['wall_s']} s"
        )
        return {}

    run_job("bench-zoo-ops", work, memory_limit_gb=memory_limit_gb, report_path=None)


if __name__ == "__main__":
    fire.Fire({"train": train, "run": run, "report": report, "zoo-ops": zoo_ops})
