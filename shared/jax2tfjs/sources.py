"""Turn what users hold into (apply(params, x), params, input spec, metadata) for tracing.

Accepted: a checkpoint folder written by jobs/train (model, input spec and labels from its
metadata), a Flax linen Module with its variables, a Flax nnx Module, a Flax TrainState, or a
function `fn(params, x)` with its params. FrozenDicts are unfrozen and a linen module's bare params
count as its `{'params': …}` (documented forms, not fixes); nnx modules are put in eval mode
(BatchNorm uses running averages, Dropout is off).

Before tracing, the params are checked against what the model expects where that is known (a
checkpoint: its registry model's `init`; a linen module or a linen TrainState: `module.init` on the
input spec) and fixed or refused by `jax2tfjs.prepare.autofix`; other forms get dtype checks only.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import nnx

from jax2tfjs import checkpoints
from jax2tfjs.errors import Jax2TfjsError, ModelInputError
from jax2tfjs.models import ModelDef, get_model
from jax2tfjs.prepare import autofix as fixes
from jax2tfjs.prepare import input_spec as specs
from jax2tfjs.prepare.locate import is_our_state
from jax2tfjs.prepare.trees import get, leaves, shape_of, unfreeze


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
    autofixes: list[str] = field(default_factory=list)


def registry_params(model: ModelDef) -> Any:
    """The abstract params (shapes and dtypes, no values) a registry model's `init` makes."""
    return jax.eval_shape(model.init, jax.random.key(0))


def restore_tree(step_dir: Path) -> Any:
    """The state saved in a validated step folder, restored without a target (plain dicts)."""
    tree = unfreeze(checkpoints.restore_raw(step_dir))
    # What jobs/train saves is a documented form: its params are taken as they are. Anything else
    # goes whole to the key fixes, which locate the params against the model and report it.
    return get(tree, ("params",)) if is_our_state(tree) else tree


def step_folder(path: Path) -> Path:
    """A step folder: `path` itself, or the newest finished step of a model folder."""
    steps = checkpoints.finished_steps(path)
    return checkpoints.validate(path / str(steps[-1]) if steps else path)


def _from_checkpoint(path: Path, input_spec: Any, autofix: bool) -> ResolvedModel:
    step_dir = step_folder(path)
    meta = checkpoints.read_metadata(step_dir)
    model = get_model(meta["model"]["name"])
    try:
        prepared = fixes.prepare(restore_tree(step_dir), registry_params(model), autofix=autofix)
    except Jax2TfjsError as err:
        if err.path is None:  # say which checkpoint the parameters came from
            err.path = str(step_dir)
            err.args = (err._render(),)
        raise
    recorded = meta["model"]["input_spec"]
    recorded_spec = jax.ShapeDtypeStruct((1, *recorded["shape"][1:]), jnp.dtype(recorded["dtype"]))
    spec, spec_warnings = specs.choose(input_spec, recorded_spec, f"model {model.name}")
    return ResolvedModel(
        apply=model.apply,
        params=prepared.params,
        name=model.name,
        input_spec=spec,
        labels=meta["model"]["labels"],
        form="checkpoint",
        provenance=_checkpoint_provenance(step_dir, meta),
        warnings=prepared.warnings + spec_warnings,
        autofixes=prepared.autofixes,
    )


def describe_input(recorded: dict[str, Any]) -> str:
    """One example of the model's input in words, from the input spec a checkpoint records (each
    registry model states its own shape, dtype and value range; nothing here assumes MNIST)."""
    text = f"{'x'.join(str(d) for d in recorded['shape'][1:])} {recorded['dtype']} per example, batch first"
    if recorded.get("range"):
        low, high = recorded["range"]
        text += f", values in [{low:g}, {high:g}]"
    return text


def _checkpoint_provenance(step_dir: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """Where an export came from, as its checkpoint's metadata records it. How raw data became the
    model's input is the training job's to record (in its dataset entry), not the converter's to
    assume."""
    return {
        "checkpoint": str(step_dir),
        "step": meta["step"],
        "epoch": meta["epoch"],
        "metrics": meta["metrics"][-1] if meta.get("metrics") else None,
        "dataset": meta.get("dataset"),
        "train_packages": meta.get("packages"),
        "input": describe_input(meta["model"]["input_spec"]),
    }


def _linen_init(module: nn.Module, apply_kwargs: dict) -> Callable[[jax.ShapeDtypeStruct], Any]:
    """spec → the abstract variables `module.init` makes for that input."""
    rngs = {"params": jax.random.key(0), "dropout": jax.random.key(1)}
    return lambda spec: unfreeze(jax.eval_shape(lambda x: module.init(rngs, x, **apply_kwargs), spec))


def _shapes_within(expected: Any, given: Any) -> bool:
    """Every array the model expects has a same-shaped array in `given` (names aside)."""
    want = Counter(shape_of(leaf) for leaf in leaves(expected).values())
    have = Counter(shape_of(leaf) for leaf in leaves(given).values())
    return bool(want) and want <= have


def _check_linen(
    variables: Any, init: Callable[[jax.ShapeDtypeStruct], Any], spec: jax.ShapeDtypeStruct, autofix: bool
) -> tuple[fixes.Prepared, specs.InputAdapter | None]:
    """Params checked against `module.init` on the input spec. When the module cannot initialise on
    that spec, or the params have shapes no reading explains, the spec is suspected first: a nearby
    spec the params fit is named (InputSpecError) or, when it is the same values reshaped, adapted."""
    try:
        expected = init(spec)
    except Exception:  # the module cannot even initialise on this input
        expected = None
    if expected is None or fixes.shapes_unfixable(variables, expected, collections=True):
        adapter = specs.resolve_misfit(
            spec,
            lambda c: _shapes_within(init(c), variables),
            why="its parameters were made for another input",
            autofix=autofix,
        )
        if adapter is not None:
            prepared = fixes.prepare(variables, init(adapter.model), autofix=autofix, collections=True)
            prepared.autofixes.insert(0, adapter.describe())
            return prepared, adapter
    return fixes.prepare(variables, expected, autofix=autofix, collections=True), None


def _linen(module: nn.Module, variables: Any, apply_kwargs: dict, spec: Any, autofix: bool) -> ResolvedModel:
    name = type(module).__name__
    if variables is None:
        raise ModelInputError(
            f"a Flax linen module ({name}) needs its variables",
            fix="call to_tensorflowjs(module, variables, ...) with the dict module.init returned",
        )
    variables = unfreeze(variables)  # bare params are fine too: the key check places them
    spec = specs.as_spec(spec, f"{name} (flax_linen)")
    prepared, adapter = _check_linen(variables, _linen_init(module, apply_kwargs), spec, autofix)
    apply = lambda v, x: module.apply(v, x, **apply_kwargs)  # noqa: E731
    return ResolvedModel(
        apply=adapter.wrap(apply) if adapter else apply,
        params=prepared.params,
        name=name,
        input_spec=spec,
        form="flax_linen",
        warnings=prepared.warnings,
        autofixes=prepared.autofixes,
    )


def _nnx(module: nnx.Module, spec: Any, autofix: bool) -> ResolvedModel:
    name = type(module).__name__
    module = nnx.clone(module)
    module.eval()  # inference: BatchNorm running averages, no dropout
    # RNG state (Dropout's keys) is no weight, and TF has no key dtype: keep it out of the params.
    graphdef, rngs, state = nnx.split(module, nnx.RngState, ...)
    prepared = fixes.prepare(state, None, autofix=autofix)
    return ResolvedModel(
        apply=lambda s, x: nnx.merge(graphdef, rngs, s)(x),
        params=prepared.params,
        name=name,
        input_spec=specs.as_spec(spec, f"{name} (flax_nnx)"),
        form="flax_nnx",
        warnings=prepared.warnings,
        autofixes=prepared.autofixes,
    )


def _train_state(state: Any, apply_kwargs: dict, spec: Any, autofix: bool) -> ResolvedModel:
    apply_fn, params = state.apply_fn, unfreeze(state.params)
    owner = getattr(apply_fn, "__self__", None)
    name = type(owner).__name__ if owner is not None else "train_state"
    spec = specs.as_spec(spec, f"{name} (train_state)")
    adapter = None
    if isinstance(owner, nn.Module):  # a linen TrainState keeps the bare params collection
        prepared, adapter = _check_linen(params, _linen_init(owner, apply_kwargs), spec, autofix)
    else:
        prepared = fixes.prepare(params, None, autofix=autofix)
    apply = lambda p, x: apply_fn(p, x, **apply_kwargs)  # noqa: E731
    return ResolvedModel(
        apply=adapter.wrap(apply) if adapter else apply,
        params=prepared.params,
        name=name,
        input_spec=spec,
        form="train_state",
        warnings=prepared.warnings,
        autofixes=prepared.autofixes,
    )


def _function(fn: Callable, params: Any, spec: Any, autofix: bool) -> ResolvedModel:
    if params is None:
        raise ModelInputError(
            "a function was given without params",
            fix="call to_tensorflowjs(fn, params, ...) where fn(params, x)",
        )
    name = getattr(fn, "__name__", "model")
    prepared = fixes.prepare(unfreeze(params), None, autofix=autofix)
    return ResolvedModel(
        apply=fn,
        params=prepared.params,
        name=name,
        input_spec=specs.as_spec(spec, f"{name} (function)"),
        form="function",
        warnings=prepared.warnings,
        autofixes=prepared.autofixes,
    )


def resolve(
    model: Any,
    params: Any = None,
    apply_kwargs: dict | None = None,
    *,
    input_spec: Any = None,
    autofix: bool = True,
) -> ResolvedModel:
    """The model as (apply, params, input spec, …), params checked and, with `autofix`, fixed.

    `input_spec` is required except for checkpoints (their metadata records it)."""
    apply_kwargs = apply_kwargs or {}
    if isinstance(model, str | Path):
        if not Path(model).exists():
            raise ModelInputError(
                f"{model} does not exist",
                fix="pass a checkpoint folder written by jobs/train (volumes/checkpoints/<model>[/<step>])",
                path=model,
            )
        return _from_checkpoint(Path(model), input_spec, autofix)
    if isinstance(model, nn.Module):
        return _linen(model, params, apply_kwargs, input_spec, autofix)
    if isinstance(model, nnx.Module):
        return _nnx(model, input_spec, autofix)
    if hasattr(model, "apply_fn") and hasattr(model, "params"):
        return _train_state(model, apply_kwargs, input_spec, autofix)
    if callable(model):
        return _function(model, params, input_spec, autofix)
    raise ModelInputError(
        f"cannot convert a {type(model).__name__}",
        fix="pass a checkpoint folder, a Flax linen Module with variables, an nnx Module, a TrainState, or fn(params, x) with params",
    )
