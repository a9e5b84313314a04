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

import dataclasses
import inspect
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
from jax2tfjs.errors import Jax2TfjsError, ModelInputError, SignatureError
from jax2tfjs.models import ModelDef, get_model
from jax2tfjs.prepare import autofix as fixes
from jax2tfjs.prepare import input_spec as specs
from jax2tfjs.prepare import signatures
from jax2tfjs.prepare.locate import is_our_state
from jax2tfjs.prepare.trees import get, leaves, shape_of, unfreeze


@dataclass
class ResolvedModel:
    """`apply(params, inputs)`: `inputs` is the input pytree (one array for a one-input model)."""

    apply: Callable[[Any, Any], Any]
    params: Any
    name: str
    inputs: signatures.Inputs
    # Per input name, the integers its tables accept (a vocabulary, BERT's 2 token types): golden
    # inputs are drawn below it. Known for Hugging Face models (their config); others get [0, 8).
    int_limits: dict[str, int] = field(default_factory=dict)
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


def _from_checkpoint(path: Path, shape: _Shape, autofix: bool) -> ResolvedModel:
    if (
        shape.spec is not None
        and not isinstance(shape.spec, jax.ShapeDtypeStruct)
        and not hasattr(shape.spec, "shape")
    ):
        raise SignatureError(
            f"input_spec for the checkpoint {path} is a {type(shape.spec).__name__}; a checkpoint's model "
            "(jobs/train's registry) takes one input",
            fix="pass one jax.ShapeDtypeStruct (or an example array), or leave input_spec out: the checkpoint records it",
            path=path,
        )
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
    spec, spec_warnings = specs.choose(shape.spec, recorded_spec, f"model {model.name}")
    inputs = dataclasses.replace(shape, spec=spec).inputs(f"model {model.name}", None)
    return ResolvedModel(
        apply=model.apply,
        params=prepared.params,
        name=model.name,
        inputs=inputs,
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


def _linen_init(module: nn.Module, inputs: signatures.Inputs, apply_kwargs: dict) -> Callable[[Any], Any]:
    """input tree → the abstract variables `module.init` makes for those inputs."""
    rngs = {"params": jax.random.key(0), "dropout": jax.random.key(1)}
    # `mutable=False` is apply's (return no updated state); init with it would return no variables.
    init_kwargs = {key: value for key, value in apply_kwargs.items() if key != "mutable"}

    def init(tree: Any) -> Any:
        def run(t: Any) -> Any:
            args, kwargs = inputs.arguments(t)
            return module.init(rngs, *args, **kwargs, **init_kwargs)

        return unfreeze(jax.eval_shape(run, tree))

    return init


def _shapes_within(expected: Any, given: Any) -> bool:
    """Every array the model expects has a same-shaped array in `given` (names aside)."""
    want = Counter(shape_of(leaf) for leaf in leaves(expected).values())
    have = Counter(shape_of(leaf) for leaf in leaves(given).values())
    return bool(want) and want <= have


def _covers(given: Any, expected: Any) -> bool:
    """Every array `expected` holds is in `given` under the same path with the same shape: a method
    (`apply_kwargs={'method': 'encode'}`) reads part of the model's variables, and the rest is unused."""
    have = leaves(fixes.as_variables(given))
    return bool(leaves(expected)) and all(
        path in have and shape_of(have[path]) == shape_of(leaf) for path, leaf in leaves(expected).items()
    )


def _check_linen(
    variables: Any, init: Callable[[Any], Any], inputs: signatures.Inputs, autofix: bool, method: bool
) -> tuple[fixes.Prepared, specs.InputAdapter | None]:
    """Params checked against `module.init` on the inputs. When the module cannot initialise on them,
    or the params have shapes no reading explains, a one-input spec is suspected first: a nearby spec
    the params fit is named (InputSpecError) or, when it is the same values reshaped, adapted."""
    try:
        expected = init(inputs.tree())
    except Exception:  # the module cannot even initialise on this input
        expected = None
    if method and expected is not None and _covers(variables, expected):
        # The method's own variables are all there; the others stay unused (left out of the export).
        return fixes.prepare(variables, None, autofix=autofix, collections=True), None
    if inputs.single and (expected is None or fixes.shapes_unfixable(variables, expected, collections=True)):
        spec = inputs.specs[0]
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


def _linen_parameters(module: nn.Module, apply_kwargs: dict) -> signatures.CallParameters | None:
    method = apply_kwargs.get("method")
    target = getattr(module, method) if isinstance(method, str) else method or module.__call__
    return signatures.call_parameters(target, skip_first=not inspect.ismethod(target))


def _prepared_model(
    apply: Callable[[Any, Any], Any],
    prepared: fixes.Prepared,
    name: str,
    inputs: signatures.Inputs,
    form: str,
    **extra: Any,
) -> ResolvedModel:
    """A model form's ResolvedModel: its checked params with their warnings and auto-fixes."""
    return ResolvedModel(
        apply=apply,
        params=prepared.params,
        name=name,
        inputs=inputs,
        form=form,
        warnings=prepared.warnings,
        autofixes=prepared.autofixes,
        **extra,
    )


def _linen(
    module: nn.Module, variables: Any, apply_kwargs: dict, shape: _Shape, autofix: bool
) -> ResolvedModel:
    name = type(module).__name__
    if variables is None:
        raise ModelInputError(
            f"a Flax linen module ({name}) needs its variables",
            fix="call to_tensorflowjs(module, variables, ...) with the dict module.init returned",
        )
    variables = unfreeze(variables)  # bare params are fine too: the key check places them
    inputs = shape.inputs(f"{name} (flax_linen)", _linen_parameters(module, apply_kwargs))
    prepared, adapter = _check_linen(
        variables, _linen_init(module, inputs, apply_kwargs), inputs, autofix, "method" in apply_kwargs
    )
    apply = inputs.wrap(lambda v, *a, **k: module.apply(v, *a, **k, **apply_kwargs))
    return _prepared_model(adapter.wrap(apply) if adapter else apply, prepared, name, inputs, "flax_linen")


def _nnx(module: nnx.Module, apply_kwargs: dict, shape: _Shape, autofix: bool) -> ResolvedModel:
    name = type(module).__name__
    module = nnx.clone(module)
    module.eval()  # inference: BatchNorm running averages, no dropout
    # RNG state (Dropout's keys) is no weight, and TF has no key dtype: keep it out of the params.
    # Plain arrays the module holds (not nnx Variables) are no parameters either: they stay concrete
    # constants, so a model that reads them with numpy while tracing still works.
    graphdef, rngs, state, plain = nnx.split(module, nnx.RngState, nnx.Variable, ...)
    prepared = fixes.prepare(state, None, autofix=autofix)
    inputs = shape.inputs(f"{name} (flax_nnx)", signatures.call_parameters(module, skip_first=False))
    call = lambda s, *a, **k: nnx.merge(graphdef, rngs, s, plain)(*a, **k, **apply_kwargs)  # noqa: E731
    return _prepared_model(inputs.wrap(call), prepared, name, inputs, "flax_nnx")


def _train_state(state: Any, apply_kwargs: dict, shape: _Shape, autofix: bool) -> ResolvedModel:
    apply_fn, params = state.apply_fn, unfreeze(state.params)
    owner = getattr(apply_fn, "__self__", None)
    name = type(owner).__name__ if owner is not None else "train_state"
    linen = isinstance(owner, nn.Module)
    # A plain apply_fn(params, ...) says its own argument names; a linen one's are its module's.
    parameters = (
        _linen_parameters(owner, apply_kwargs)
        if linen
        else signatures.call_parameters(apply_fn, skip_first=True)
    )
    inputs = shape.inputs(f"{name} (train_state)", parameters)
    adapter = None
    if linen:  # a linen TrainState keeps the bare params collection
        init = _linen_init(owner, inputs, apply_kwargs)
        prepared, adapter = _check_linen(params, init, inputs, autofix, "method" in apply_kwargs)
    else:
        prepared = fixes.prepare(params, None, autofix=autofix)
    apply = inputs.wrap(lambda p, *a, **k: apply_fn(p, *a, **k, **apply_kwargs))
    return _prepared_model(adapter.wrap(apply) if adapter else apply, prepared, name, inputs, "train_state")


def _is_hf_flax(model: Any) -> bool:
    """A Hugging Face transformers Flax model (FlaxPreTrainedModel), recognised without importing
    transformers: a linen `module`, a `config` and `params`, called as `model(..., params=...)`."""
    return (
        isinstance(getattr(model, "module", None), nn.Module) and hasattr(model, "config") and callable(model)
    )


# Hugging Face input names → the config field that bounds their values (masks are 0 or 1).
_HF_INT_LIMITS = {
    "input_ids": "vocab_size",
    "decoder_input_ids": "vocab_size",
    "token_type_ids": "type_vocab_size",
    "position_ids": "max_position_embeddings",
}


def _hf_int_limits(config: Any, names: tuple[str, ...]) -> dict[str, int]:
    limits = {name: 2 for name in names if name.endswith("attention_mask")}
    for name, field_name in _HF_INT_LIMITS.items():
        value = getattr(config, field_name, None)
        if name in names and isinstance(value, int) and value > 0:
            limits[name] = value
    return limits


def _hf_flax(model: Any, params: Any, apply_kwargs: dict, shape: _Shape, autofix: bool) -> ResolvedModel:
    name = type(model).__name__
    params = unfreeze(model.params if params is None else params)
    prepared = fixes.prepare(params, None, autofix=autofix)
    inputs = shape.inputs(f"{name} (hf_flax)", signatures.call_parameters(model.__call__, skip_first=False))
    kwargs = {"train": False, **apply_kwargs}  # inference: no dropout
    call = lambda p, *a, **k: model(*a, params=p, **k, **kwargs)  # noqa: E731
    return _prepared_model(
        inputs.wrap(call),
        prepared,
        name,
        inputs,
        "hf_flax",
        int_limits=_hf_int_limits(model.config, inputs.names),
    )


def _function(fn: Callable, params: Any, shape: _Shape, autofix: bool) -> ResolvedModel:
    if params is None:
        raise ModelInputError(
            "a function was given without params",
            fix="call to_tensorflowjs(fn, params, ...) where fn(params, x)",
        )
    name = getattr(fn, "__name__", "model")
    prepared = fixes.prepare(unfreeze(params), None, autofix=autofix)
    inputs = shape.inputs(f"{name} (function)", signatures.call_parameters(fn, skip_first=True))
    return _prepared_model(inputs.wrap(fn), prepared, name, inputs, "function")


@dataclass(frozen=True)
class _Shape:
    """What the caller said about the inputs; `inputs()` makes them once the model is known."""

    spec: Any
    names: Any = None
    dynamic_batch: bool = True
    dynamic_axes: dict | None = None
    dim_constraints: tuple[str, ...] = ()

    def inputs(self, where: str, parameters: signatures.CallParameters | None) -> signatures.Inputs:
        return signatures.inputs_of(
            self.spec,
            where=where,
            parameters=parameters,
            input_names=self.names,
            dynamic_batch=self.dynamic_batch,
            dynamic_axes=self.dynamic_axes,
            dim_constraints=self.dim_constraints,
        )


def resolve(
    model: Any,
    params: Any = None,
    apply_kwargs: dict | None = None,
    *,
    input_spec: Any = None,
    autofix: bool = True,
    input_names: Any = None,
    dynamic_batch: bool = True,
    dynamic_axes: dict | None = None,
    dim_constraints: Any = (),
) -> ResolvedModel:
    """The model as (apply(params, inputs), params, inputs, …), params checked and, with `autofix`,
    fixed. `input_spec` is required except for checkpoints (their metadata records it)."""
    apply_kwargs = apply_kwargs or {}
    shape = _Shape(input_spec, input_names, dynamic_batch, dynamic_axes, tuple(dim_constraints or ()))
    if isinstance(model, str | Path):
        if not Path(model).exists():
            raise ModelInputError(
                f"{model} does not exist",
                fix="pass a checkpoint folder written by jobs/train (volumes/checkpoints/<model>[/<step>])",
                path=model,
            )
        return _from_checkpoint(Path(model), shape, autofix)
    if isinstance(model, nn.Module):
        return _linen(model, params, apply_kwargs, shape, autofix)
    if isinstance(model, nnx.Module):
        return _nnx(model, apply_kwargs, shape, autofix)
    if hasattr(model, "apply_fn") and hasattr(model, "params"):
        return _train_state(model, apply_kwargs, shape, autofix)
    if _is_hf_flax(model):
        return _hf_flax(model, params, apply_kwargs, shape, autofix)
    if callable(model):
        return _function(model, params, shape, autofix)
    raise ModelInputError(
        f"cannot convert a {type(model).__name__}",
        fix="pass a checkpoint folder, a Flax linen Module with variables, an nnx Module, a TrainState, a "
        "Hugging Face Flax model, or fn(params, x) with params",
    )
