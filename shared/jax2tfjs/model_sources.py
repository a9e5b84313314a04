"""Turn what users hold into (apply(params, x), params, metadata) for tracing.

Accepted: a checkpoint folder written by jobs/train (model, input spec and labels from its
metadata), a Flax linen Module with its variables, a Flax nnx Module, a Flax TrainState, or a
function `fn(params, x)` with its params. FrozenDicts, `{'params': ...}` and `batch_stats` are
unwrapped; nnx modules are put in eval mode (BatchNorm uses running averages, Dropout is off).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from flax import linen as nn
from flax import nnx

from jax2tfjs import checkpoints
from jax2tfjs.errors import ModelInputError
from jax2tfjs.models import get_model
from jax2tfjs.params import find_params, unfreeze

_TO_FLOAT32 = ("float64", "float16", "bfloat16")


@dataclass
class ResolvedModel:
    apply: Callable[[Any, jax.Array], Any]
    params: Any
    name: str
    input_spec: jax.ShapeDtypeStruct | None
    labels: list[str] | None = None
    form: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _from_checkpoint(path: Path) -> ResolvedModel:
    step_dir = path
    if checkpoints.finished_steps(path):  # a model folder: take the newest step
        step_dir = path / str(checkpoints.finished_steps(path)[-1])
    checkpoints.validate(step_dir)
    meta = checkpoints.read_metadata(step_dir)
    model = get_model(meta["model"]["name"])
    try:
        tree = ocp.StandardCheckpointer().restore(step_dir.absolute() / checkpoints.STATE_ITEM)
    except Exception as err:  # orbax raises many types
        raise checkpoints._corrupt(step_dir, err) from err
    params, _ = find_params(unfreeze(tree))
    spec = meta["model"]["input_spec"]
    return ResolvedModel(
        apply=model.apply,
        params=params,
        name=model.name,
        input_spec=jax.ShapeDtypeStruct((1, *spec["shape"][1:]), jnp.dtype(spec["dtype"])),
        labels=meta["model"]["labels"],
        form="checkpoint",
        provenance={
            "checkpoint": str(step_dir),
            "step": meta["step"],
            "epoch": meta["epoch"],
            "metrics": meta["metrics"][-1] if meta.get("metrics") else None,
            "dataset": meta.get("dataset"),
            "train_packages": meta.get("packages"),
            "preprocessing": "grayscale 28x28, values in [0, 1] (uint8 / 255), NHWC",
        },
    )


def _linen(module: nn.Module, variables: Any, apply_kwargs: dict) -> ResolvedModel:
    if variables is None:
        raise ModelInputError(
            f"a Flax linen module ({type(module).__name__}) needs its variables",
            fix="call to_tensorflowjs(module, variables, ...) with the dict module.init returned",
        )
    variables = unfreeze(variables)
    if "params" not in variables:
        variables = {"params": variables}
    return ResolvedModel(
        apply=lambda v, x: module.apply(v, x, **apply_kwargs),
        params=variables,
        name=type(module).__name__,
        input_spec=None,
        form="flax_linen",
    )


def _nnx(module: nnx.Module) -> ResolvedModel:
    module = nnx.clone(module)
    module.eval()  # inference: BatchNorm running averages, no dropout
    # RNG state (Dropout's keys) is no weight, and TF has no key dtype: keep it out of the params.
    graphdef, rngs, state = nnx.split(module, nnx.RngState, ...)
    return ResolvedModel(
        apply=lambda s, x: nnx.merge(graphdef, rngs, s)(x),
        params=state,
        name=type(module).__name__,
        input_spec=None,
        form="flax_nnx",
    )


def _train_state(state: Any, apply_kwargs: dict) -> ResolvedModel:
    apply_fn, params = state.apply_fn, unfreeze(state.params)
    owner = getattr(apply_fn, "__self__", None)
    if isinstance(owner, nn.Module) and "params" not in params:
        params = {"params": params}  # a linen TrainState keeps the bare params collection
    return ResolvedModel(
        apply=lambda p, x: apply_fn(p, x, **apply_kwargs),
        params=params,
        name=type(owner).__name__ if owner is not None else "train_state",
        input_spec=None,
        form="train_state",
    )


def resolve(model: Any, params: Any = None, apply_kwargs: dict | None = None) -> ResolvedModel:
    apply_kwargs = apply_kwargs or {}
    if isinstance(model, str | Path):
        if not Path(model).exists():
            raise ModelInputError(
                f"{model} does not exist",
                fix="pass a checkpoint folder written by jobs/train (volumes/checkpoints/<model>[/<step>])",
                path=model,
            )
        resolved = _from_checkpoint(Path(model))
    elif isinstance(model, nn.Module):
        resolved = _linen(model, params, apply_kwargs)
    elif isinstance(model, nnx.Module):
        resolved = _nnx(model)
    elif hasattr(model, "apply_fn") and hasattr(model, "params"):
        resolved = _train_state(model, apply_kwargs)
    elif callable(model):
        if params is None:
            raise ModelInputError(
                "a function was given without params",
                fix="call to_tensorflowjs(fn, params, ...) where fn(params, x)",
            )
        resolved = ResolvedModel(
            apply=model,
            params=unfreeze(params),
            name=getattr(model, "__name__", "model"),
            input_spec=None,
            form="function",
        )
    else:
        raise ModelInputError(
            f"cannot convert a {type(model).__name__}",
            fix="pass a checkpoint folder, a Flax linen Module with variables, an nnx Module, a TrainState, or fn(params, x) with params",
        )
    resolved.params, resolved.warnings = _cast_params(resolved.params)
    return resolved


def _cast_params(params: Any) -> tuple[Any, list[str]]:
    """float64/float16/bfloat16 → float32 and int64 → int32, each cast reported once."""
    notes: set[str] = set()

    def cast(leaf: Any) -> Any:
        # np, not jnp: with x64 off, jnp.asarray would already have narrowed float64 silently.
        dtype = np.asarray(leaf).dtype
        if dtype.name in _TO_FLOAT32:
            notes.add(f"parameters in {dtype.name} were cast to float32 (TF.js computes in float32)")
            return np.asarray(leaf, np.float32)
        if dtype.name == "int64":
            notes.add("int64 parameters were cast to int32 (TF.js has no int64)")
            return np.asarray(leaf, np.int32)
        if dtype.kind in "iu" and dtype.itemsize < 4:  # int8/16, uint8/16: exact in int32
            return np.asarray(leaf, np.int32)
        return leaf

    return jax.tree.map(cast, params), sorted(notes)
