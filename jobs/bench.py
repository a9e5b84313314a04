"""Benchmarks: `make bench` → bench/*.json and a printed table."""

from __future__ import annotations

import fire

from jax2tfjs import atomic
from jax2tfjs.bench import train_speed
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

    def work() -> dict:
        names = tuple(models.split(",")) if isinstance(models, str) else tuple(models)
        result = train_speed.run(names, data_dir, epochs=epochs, repeats=repeats)
        atomic.write_json(out, result)
        print(format_table(result["rows"], TRAIN_COLUMNS))
        print(f"[bench] wrote {out}")
        return {}

    run_job("bench-train", work, memory_limit_gb=memory_limit_gb, report_path=None)


if __name__ == "__main__":
    fire.Fire({"train": train})
