"""Training: pure functions in the style of Flax's MNIST example, one jitted step per batch.

`train_and_evaluate(config, data_dir, checkpoint_root)` trains with Optax Adam, shuffles on the
host each epoch with a generator seeded by (seed, epoch) (so a resumed run sees the same batches as
an uninterrupted one), evaluates on the test split after every epoch and saves an Orbax checkpoint
with metadata. `lax.scan` over steps was measured 10x slower on this CPU; hence one call per step.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from tqdm import tqdm

from jax2tfjs import checkpoints, locks
from jax2tfjs.data import load_dataset
from jax2tfjs.errors import CheckpointError, JobArgumentError, TrainingStateError
from jax2tfjs.jobargs import MAX_SEED
from jax2tfjs.models import ModelDef, get_model
from jax2tfjs.provenance import package_versions

PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "numpy")
# Fields that must match for --resume to continue a run (epochs may grow).
RESUME_FIELDS = ("model", "batch_size", "learning_rate", "seed", "train_samples")


@dataclass(frozen=True)
class TrainConfig:
    model: str = "flax_cnn"
    epochs: int = 5
    batch_size: int = 32
    learning_rate: float = 1e-3
    seed: int = 0
    train_samples: int | None = None  # a prefix of the training split, for quick runs and tests
    eval_batch_size: int = 500


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels)


def _train_step_fn(model: ModelDef, tx: optax.GradientTransformation):
    """(params, opt_state, images, labels) → (params, opt_state, mean loss, correct count)."""

    def train_step(params, opt_state, images, labels):
        def loss_fn(p):
            logits = model.apply(p, images)
            return cross_entropy(logits, labels).mean(), logits

        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        correct = jnp.sum(jnp.argmax(logits, -1) == labels)
        return optax.apply_updates(params, updates), opt_state, loss, correct

    return train_step


def make_train_step(model: ModelDef, tx: optax.GradientTransformation):
    """The bare jitted step on one batch."""
    return jax.jit(_train_step_fn(model, tx))


def make_epoch_step(model: ModelDef, tx: optax.GradientTransformation):
    """The jitted step on batch `i` of an epoch: (params, opt_state, images, labels, order, i),
    where images and labels are the whole split, already on the device, and order[i] holds the
    batch's indices.

    Gathering inside the jit makes one dispatch per step and no host work per epoch but a
    permutation. Slicing numpy batches on the host kept the MLP's loop at 63 % of the bare step's
    rate, permuting the epoch's images on the host at 88 % (measured here).
    """
    step = _train_step_fn(model, tx)

    def epoch_step(params, opt_state, images, labels, order, i):
        batch = order[i]
        return step(params, opt_state, images[batch], labels[batch])

    return jax.jit(epoch_step)


@partial(jax.jit, static_argnums=0)
def _eval_batch(apply, params, images, labels, mask):
    logits = apply(params, images)
    loss = jnp.sum(cross_entropy(logits, labels) * mask)
    correct = jnp.sum((jnp.argmax(logits, -1) == labels) * mask)
    return loss, correct


# How the dataset's images become the models' input; recorded in every checkpoint's metadata.
PREPROCESSING = "uint8 images / 255 → float32 in [0, 1], NHWC"


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] → float32 [0, 1], the models' input spec (PREPROCESSING)."""
    return images.astype(np.float32) / np.float32(255.0)


def evaluate(model: ModelDef, params: Any, images: np.ndarray, labels: np.ndarray, batch_size: int) -> dict:
    """Mean loss and accuracy over all examples; the last batch is padded and masked, so every
    call has one shape and compiles once."""
    total_loss, total_correct = 0.0, 0
    for start in range(0, len(labels), batch_size):
        x = to_float(images[start : start + batch_size])
        y = labels[start : start + batch_size]
        mask = np.ones(batch_size, np.float32)
        if len(y) < batch_size:
            pad = batch_size - len(y)
            mask[len(y) :] = 0
            x = np.concatenate([x, np.zeros((pad, *x.shape[1:]), x.dtype)])
            y = np.concatenate([y, np.zeros(pad, y.dtype)])
        loss, correct = _eval_batch(model.apply, params, x, y, mask)
        total_loss += float(loss)
        total_correct += int(correct)
    return {"loss": total_loss / len(labels), "accuracy": total_correct / len(labels)}


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([seed, epoch]).permutation(n)


REFRESH_STEPS = 50


def _run_epoch(epoch_step, state, data, step_ids, batch_size, bar, started):
    """Run one epoch's steps; returns (params, opt_state, loss sum, correct count).

    Metrics are read one window of REFRESH_STEPS behind: a window's values are copied to the host
    asynchronously and read only after the next window is dispatched, so reading them never drains
    the device queue (a blocking read every 50 steps cost the MLP's loop about 10 %).
    """
    params, opt_state = state
    window, behind, loss_sum, correct_sum, seen = [], [], 0.0, 0, 0

    def consume(values):
        nonlocal loss_sum, correct_sum, seen
        for loss_value, correct_value in jax.device_get(values):
            loss_sum += float(loss_value)
            correct_sum += int(correct_value)
        seen += len(values)
        bar.update(len(values))
        bar.set_postfix(
            loss=f"{loss_sum / seen:.4f}",
            acc=f"{correct_sum / (seen * batch_size):.4f}",
            img_s=f"{seen * batch_size / (time.perf_counter() - started):,.0f}",
        )

    for i in step_ids:
        params, opt_state, loss, correct = epoch_step(params, opt_state, *data, i)
        window.append((loss, correct))
        if len(window) == REFRESH_STEPS:
            for loss, correct in window:
                loss.copy_to_host_async()
                correct.copy_to_host_async()
            if behind:
                consume(behind)
            window, behind = [], window
    for values in (behind, window):
        if values:
            consume(values)
    return params, opt_state, loss_sum, correct_sum


def _whole(low: int, high: float = math.inf) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int | np.integer) and not isinstance(v, bool) and low <= v <= high


# config field → (make variable, flag, what it must be, the test): checked before anything on disk
# changes, so a bad value never leaves a model without its checkpoints (`--fresh` moves them).
CONFIG_RULES: dict[str, tuple[str, str, str, Callable[[Any], bool]]] = {
    "epochs": ("EPOCHS", "--epochs", "a whole number ≥ 1", _whole(1)),
    "batch_size": ("BATCH_SIZE", "--batch-size", "a whole number ≥ 1", _whole(1)),
    "learning_rate": (
        "LR",
        "--lr",
        "a finite number > 0",
        lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0,
    ),
    "seed": ("SEED", "--seed", f"a whole number ≥ 0 and ≤ {MAX_SEED}", _whole(0, MAX_SEED)),
    "train_samples": ("TRAIN_SAMPLES", "--train-samples", "a whole number ≥ 1, or unset for all", _whole(1)),
    "eval_batch_size": ("", "eval_batch_size", "a whole number ≥ 1", _whole(1)),
}


def check_config(config: TrainConfig, *, resume: bool = False, fresh: bool = False) -> None:
    """A JobArgumentError naming the first value out of range, or the resume/fresh conflict."""
    for name, (variable, flag, wanted, ok) in CONFIG_RULES.items():
        value = getattr(config, name)
        if name == "train_samples" and value is None:
            continue
        if not ok(value):
            shown = f"{variable}={value!r} ({flag})" if variable else f"{flag}={value!r}"
            raise JobArgumentError(
                f"{shown} is not {wanted}",
                fix=f"set {variable or flag} to {wanted}"
                + (f", e.g. `make train {variable}=…`" if variable else ""),
            )
    if resume and fresh:
        raise JobArgumentError(
            "RESUME=1 (--resume) and FRESH=1 (--fresh) contradict each other: continue the checkpoints, "
            "or move them aside and start over?",
            fix="pass only one of them",
        )


def _move_aside(directory: Path) -> None:
    aside = checkpoints.aside_name(directory, time.strftime("%Y%m%d-%H%M%S", time.gmtime()))
    directory.rename(aside)
    print(f"[train] --fresh: moved the old checkpoints to {aside} (to undo: `mv {aside} {directory}`)")


def _damaged_fix(directory: Path, damaged: dict[int, str], usable: list[int], step: int) -> str:
    earlier = [s for s in usable if s < step and s not in damaged]
    then = f"training resumes from step {earlier[-1]}" if earlier else "training starts from scratch"
    return (
        f"move it out of the way (`mv {directory / str(step)} {directory / str(step)}.damaged`), then run "
        f"again: {then}; or FRESH=1 (--fresh) to move the whole folder aside and start over"
    )


def _newest_checkpoint(directory: Path, model_name: str) -> tuple[Path, dict] | None:
    """The newest step folder and its metadata to resume from (or to call up to date), None when
    there is none. A damaged step at or past the newest finished one stops the run: Orbax counts it
    as a step, so resuming before it would train on and then skip saving (issue 13)."""
    steps = checkpoints.finished_steps(directory)
    damaged = checkpoints.damaged_steps(directory)
    newest = steps[-1] if steps else None
    for step, problem in sorted(damaged.items()):
        if newest is None or step >= newest:
            raise CheckpointError(
                f"checkpoint step {step} is damaged ({problem}); continuing would leave it or lose this run's saves",
                fix=_damaged_fix(directory, damaged, steps, step),
                path=directory / str(step),
            )
        print(f"[train] warning: ignoring the damaged step {step} ({problem}); move it out of {directory}")
    if newest is None:
        return None
    step_dir = directory / str(newest)
    try:
        meta = checkpoints.read_metadata(step_dir)
    except CheckpointError as err:
        raise CheckpointError(
            f"checkpoint step {newest}: {err.cause}",
            fix=_damaged_fix(directory, damaged, steps, newest),
            path=step_dir,
        ) from err
    gaps = _resume_gaps(meta)
    if gaps:
        raise CheckpointError(
            f"checkpoint step {newest}: its metadata lacks {gaps} (or holds another type there)",
            fix=_damaged_fix(directory, damaged, steps, newest),
            path=step_dir,
        )
    checkpoints.check_model(step_dir, model_name, meta)
    return step_dir, meta


def _resume_gaps(meta: dict) -> str:
    """The metadata entries a resume reads that are missing or of another type ('' when none)."""
    wanted = {"train_config": dict, "epoch": int, "step": int, "metrics": list, "wall_s": int | float}
    return ", ".join(name for name, kind in wanted.items() if not isinstance(meta.get(name), kind))


def _prepare_directory(
    directory: Path, config: TrainConfig, resume: bool, fresh: bool
) -> tuple[Path, dict] | None:
    """The newest checkpoint (step folder, metadata) to resume from, or None to start from scratch.

    Call only once every argument is valid: this is where the folder changes. Never deletes a
    user's checkpoints: --fresh moves the folder aside."""
    if fresh:
        # A folder holding nothing but a lock file (an older train job made one inside) has nothing to keep.
        if directory.is_dir() and any(p.name != locks.LOCK_FILE for p in directory.iterdir()):
            _move_aside(directory)
        return None
    found = _newest_checkpoint(directory, config.model)
    if found is None:
        if resume:
            print(f"[train] --resume: no checkpoint in {directory} yet; starting from scratch")
        return None
    newest = found[1]
    previous = newest["train_config"]
    differing = [f for f in RESUME_FIELDS if previous.get(f) != getattr(config, f)]
    if not resume:
        if not differing and newest["epoch"] >= config.epochs:
            return found  # finished already: the caller reports it as up to date
        steps = checkpoints.finished_steps(directory)
        raise TrainingStateError(
            f"{directory} already holds checkpoints (steps {', '.join(map(str, steps))}, "
            f"epoch {newest['epoch']} of {previous.get('epochs')}) from "
            + ("an unfinished run" if not differing else f"a run with other {', '.join(differing)}"),
            fix="add --resume (RESUME=1) to continue it, or --fresh (FRESH=1) to move it aside and start over",
            path=directory,
        )
    if differing:
        raise TrainingStateError(
            "--resume needs the same "
            + ", ".join(f"{f} (checkpoint: {previous.get(f)}, now: {getattr(config, f)})" for f in differing),
            fix="pass the checkpoint's values, or --fresh (FRESH=1) to start over",
            path=directory,
        )
    return found


def _record_if_missing(step_dir: Path) -> None:
    """A step without a file record (saved before records existed, or its save was stopped between
    Orbax's commit and the record) is recorded once it has restored: from then on `make check`
    and `doctor` can tell if its files change."""
    if checkpoints.has_file_record(step_dir):
        return
    checkpoints.record_files(step_dir, note="recorded by a later training run, after the step restored")
    print(f"[train] step {step_dir.name} had no file record; it restores, so its files are recorded now")


def train_and_evaluate(
    config: TrainConfig,
    data_dir: str | Path,
    checkpoint_root: str | Path,
    *,
    resume: bool = False,
    fresh: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Train `config.model`, checkpoint every epoch, and return a report (final metrics, paths).

    Everything that can be refused is checked (model, values, data, existing checkpoints) before
    the checkpoint folder changes; each save is read back before it is reported."""
    model = get_model(config.model)
    config = dataclasses.replace(config, model=model.name)
    check_config(config, resume=resume, fresh=fresh)
    arrays, data_manifest = load_dataset(data_dir)
    x_train, y_train = arrays["x_train"], arrays["y_train"]
    if config.train_samples:
        x_train, y_train = x_train[: config.train_samples], y_train[: config.train_samples]
    steps_per_epoch = len(y_train) // config.batch_size
    if steps_per_epoch == 0:
        raise TrainingStateError(
            f"batch size {config.batch_size} is larger than the {len(y_train)} training images",
            fix="lower --batch-size or raise --train-samples",
        )

    directory = checkpoints.model_dir(checkpoint_root, model.name)
    found = _prepare_directory(directory, config, resume, fresh)
    for name in checkpoints.remove_leftovers(directory):
        print(f"[train] removed {directory / name}: what a stopped save left (finished steps are untouched)")
    tx = optax.adam(config.learning_rate)
    params = model.init(jax.random.key(config.seed))
    opt_state = tx.init(params)
    start_epoch, metrics, wall_s = 0, [], 0.0
    if found is not None:
        step_dir, previous = found
        if previous["epoch"] >= config.epochs:
            if not checkpoints.has_file_record(step_dir):
                checkpoints.restore_raw(step_dir)  # proves it restores before its files are recorded
                _record_if_missing(step_dir)
            print(f"[train] up to date: {step_dir} finished epoch {previous['epoch']}")
            return {"model": model.name, "up_to_date": True, "checkpoint": str(step_dir)}
        restored = checkpoints.restore_state(step_dir, {"params": params, "opt_state": opt_state})
        _record_if_missing(step_dir)
        params, opt_state = restored["params"], restored["opt_state"]
        start_epoch, metrics, wall_s = previous["epoch"], previous["metrics"], previous["wall_s"]
        print(f"[train] resuming {model.name} at epoch {start_epoch + 1}, step {step_dir.name}")

    epoch_step = make_epoch_step(model, tx)
    step_ids = list(jax.device_put(np.arange(steps_per_epoch, dtype=np.int32)))  # made once, reused
    manager = checkpoints.open_manager(directory)
    images, labels = jax.device_put(to_float(x_train)), jax.device_put(y_train)
    for epoch in range(start_epoch, config.epochs):
        started = time.perf_counter()
        order = epoch_order(len(y_train), config.seed, epoch)[: steps_per_epoch * config.batch_size]
        order = jax.device_put(order.reshape(steps_per_epoch, config.batch_size).astype(np.int32))
        bar = tqdm(
            total=steps_per_epoch,
            desc=f"[train] {model.name} epoch {epoch + 1}/{config.epochs}",
            unit="step",
            disable=not progress,
        )
        params, opt_state, loss_sum, correct_sum = _run_epoch(
            epoch_step,
            (params, opt_state),
            (images, labels, order),
            step_ids,
            config.batch_size,
            bar,
            started,
        )
        bar.close()
        train_s = time.perf_counter() - started
        test = evaluate(model, params, arrays["x_test"], arrays["y_test"], config.eval_batch_size)
        wall_s += time.perf_counter() - started
        step = (epoch + 1) * steps_per_epoch
        metrics.append(
            {
                "epoch": epoch + 1,
                "step": step,
                "train_loss": loss_sum / steps_per_epoch,
                "train_accuracy": correct_sum / (steps_per_epoch * config.batch_size),
                "test_loss": test["loss"],
                "test_accuracy": test["accuracy"],
                "images_per_s": steps_per_epoch * config.batch_size / train_s,
                "epoch_s": train_s,
            }
        )
        metadata = {
            "format": 1,
            "model": model.describe(),
            "train_config": dataclasses.asdict(config),
            "epoch": epoch + 1,
            "step": step,
            "metrics": metrics,
            "dataset": {
                "source": data_manifest["source"],
                "sha256": data_manifest["sha256"],
                "train_images": len(y_train),
                "test_images": len(arrays["y_test"]),
                "preprocessing": PREPROCESSING,
            },
            "packages": package_versions(PACKAGES),
            "wall_s": wall_s,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        saved = checkpoints.save(manager, step, {"params": params, "opt_state": opt_state}, metadata)
        print(
            f"[train] epoch {epoch + 1}: test accuracy {test['accuracy']:.4f}, loss {test['loss']:.4f}; "
            f"saved {saved} (read back and recorded)",
            flush=True,
        )
    manager.close()
    return {
        "model": model.name,
        "up_to_date": False,
        "final_metrics": metrics[-1],
        "checkpoint": str(directory / str(metrics[-1]["step"])),
        "kept_steps": checkpoints.finished_steps(directory),
    }
