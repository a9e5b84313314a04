"""The model's inputs and outputs as an export signature: names, dims, and how the model is called.

`input_spec` is any pytree of `jax.ShapeDtypeStruct` (or example arrays). Its top level says how the
model is called, after its params: one spec → `fn(params, x)`; a tuple or list → one positional
argument each, `fn(params, a, b)`; a dict → keyword arguments when every key names a parameter of
the model's call (`model(input_ids=…, attention_mask=…)`), else the dict as one argument
(`fn(params, {"ids": …, "mask": …})`). Wrap a dict in a 1-tuple to force the latter.

Names (what TF.js feeds and fetches by): one input is `input` and one output `output`; otherwise
dict keys, attribute names (dataclasses, Flax and Hugging Face output objects), the call's argument
names for positional inputs, or `input_<i>` / `output_<i>`; nested levels are joined by `_`.
`input_names=` / `output_names=` (one name per array, in flatten order) override them.

Dims: with `dynamic_batch`, dim 0 of every input of rank >= 1 is the symbol `b`; `dynamic_axes`
states an input's dims itself (`{"ids": ("b", "seq")}`: a symbol per dynamic dim, None or an int for
a static one; `{}` or `()` for all static). All symbols live in one scope, so inputs that share `b`
must agree on it, as JAX's shape polymorphism requires. `dim_constraints` are JAX's constraints
on them (`["seq <= 64"]`: GPT-2 slices its 64-position causal mask by the sequence length, which JAX
can only shape as `min(64, seq)` without it).
"""

from __future__ import annotations

import inspect
import keyword
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import export

from jax2tfjs.errors import ModelInputError, SignatureError
from jax2tfjs.prepare.input_spec import EXAMPLE_SPEC
from jax2tfjs.signature import LEGACY_INPUT, LEGACY_OUTPUT

BATCH = "b"
ONE, POSITIONAL, KEYWORDS, DICT = "one", "positional", "keywords", "dict"
_SYMBOL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _leaf_spec(value: Any) -> jax.ShapeDtypeStruct:
    if isinstance(value, jax.ShapeDtypeStruct):
        return value
    return jax.ShapeDtypeStruct(np.shape(value), jnp.asarray(value).dtype)


def _is_leaf(value: Any) -> bool:
    return isinstance(value, jax.ShapeDtypeStruct) or (hasattr(value, "shape") and hasattr(value, "dtype"))


def _part(key: Any) -> str:
    for attr in ("key", "name", "idx"):
        if hasattr(key, attr):
            return str(getattr(key, attr))
    return str(key)


def clean_name(raw: str, fallback: str) -> str:
    """A name TF signatures and JS accept: letters, digits and `_`, starting with a letter."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", raw).strip("_")
    if not name:
        return fallback
    return name if name[0].isalpha() else f"{fallback}_{name}"


def path_names(paths: Sequence[tuple], prefix: str, positional: Sequence[str] = ()) -> list[str]:
    """Names from key paths; a top-level index is the call's argument name when known."""
    names = []
    for path in paths:
        parts = [_part(k) for k in path]
        if parts and hasattr(path[0], "idx"):
            index = path[0].idx
            parts[0] = positional[index] if index < len(positional) else f"{prefix}_{index}"
        names.append(clean_name("_".join(parts), prefix))
    return names


def _checked_names(names: Sequence[str], given: Sequence[str] | None, what: str) -> list[str]:
    if given is not None:
        if isinstance(given, str) or not isinstance(given, Sequence):
            raise SignatureError(
                f"{what}_names must be a list of names, not {given!r}",
                fix=f"pass one name per {what} array, in this order, e.g. {what}_names={list(names)}",
            )
        if len(given) != len(names):
            raise SignatureError(
                f"{what}_names has {len(given)} names, but the model has {len(names)} {what}s ({', '.join(names)})",
                fix=f"pass one name per {what} array, in this order: {list(names)}",
            )
        names = [clean_name(str(n), what) for n in given]
    # TF names an input's placeholder after it, lowercased: names alike but for case would clash.
    folded = [n.lower() if what == "input" else n for n in names]
    twice = sorted({n for n, f in zip(names, folded, strict=True) if folded.count(f) > 1})
    if twice:
        alike = " (ignoring case, as TF's input placeholders do)" if what == "input" else ""
        raise SignatureError(
            f"the {what} names {', '.join(twice)} occur more than once{alike} ({', '.join(names)})",
            fix=f"pass {what}_names= with distinct names, one per array",
        )
    reserved = [n for n in names if keyword.iskeyword(n)] if what == "input" else []
    if reserved:
        raise SignatureError(
            f"the input names {', '.join(reserved)} are Python keywords, which TF refuses as argument names",
            fix=f"pass input_names= with other names, one per array: e.g. {[n + '_' if n in reserved else n for n in names]}",
        )
    return list(names)


@dataclass(frozen=True)
class CallParameters:
    """What a model's call takes after its params: the names a positional argument fills, in order
    (up to a `*args`), the names a keyword can set, and whether it takes `**kwargs`."""

    positional: tuple[str, ...]
    keywords: frozenset[str]
    any_keyword: bool


def call_parameters(fn: Callable, skip_first: bool) -> CallParameters | None:
    """`fn`'s parameters (after params, for functions); None when not inspectable."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    if skip_first and params:
        params = params[1:]
    positional: list[str] = []
    for p in params:
        if p.kind == p.VAR_POSITIONAL:
            break  # `*xs`: the rest are keyword-only, and the inputs after it have no names
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            positional.append(p.name)
    keywords = frozenset(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    return CallParameters(tuple(positional), keywords, any(p.kind == p.VAR_KEYWORD for p in params))


@dataclass(frozen=True)
class Inputs:
    """The model's inputs: their pytree, one spec, name and dims per array, and the call form."""

    treedef: Any
    specs: tuple[jax.ShapeDtypeStruct, ...]
    names: tuple[str, ...]
    dims: tuple[tuple[int | str, ...], ...]
    form: str  # ONE, POSITIONAL, KEYWORDS or DICT
    constraints: tuple[str, ...] = ()  # JAX shape-polymorphism constraints, e.g. "seq <= 64"

    @property
    def single(self) -> bool:
        return self.form == ONE

    @property
    def symbols(self) -> list[str]:
        return sorted({d for dims in self.dims for d in dims if isinstance(d, str)})

    def tree(self, leaves: Sequence[Any] | None = None) -> Any:
        """The input pytree of `leaves` (default: the concrete specs)."""
        return jax.tree_util.tree_unflatten(self.treedef, list(self.specs if leaves is None else leaves))

    def symbolic(self) -> Any:
        """The input pytree with every dynamic dim a symbol, all created in one scope."""
        symbols = self.symbols
        made = export.symbolic_shape(", ".join(symbols), constraints=self.constraints) if symbols else ()
        scope = dict(zip(symbols, made, strict=True))
        leaves = [
            jax.ShapeDtypeStruct(tuple(scope[d] if isinstance(d, str) else d for d in dims), spec.dtype)
            for spec, dims in zip(self.specs, self.dims, strict=True)
        ]
        return self.tree(leaves)

    def arguments(self, inputs: Any) -> tuple[tuple, dict]:
        """(args, kwargs) to call the model with, after its params."""
        if self.form == ONE:
            return (inputs,), {}
        if self.form == POSITIONAL:
            return tuple(inputs), {}
        if self.form == KEYWORDS:
            return (), dict(inputs)
        return (inputs,), {}

    def wrap(self, call: Callable[..., Any]) -> Callable[[Any, Any], Any]:
        """`apply(params, inputs)` for a model called as `call(params, *args, **kwargs)`."""

        def apply(params: Any, inputs: Any) -> Any:
            args, kwargs = self.arguments(inputs)
            return call(params, *args, **kwargs)

        return apply

    def describe(self) -> str:
        return ", ".join(
            f"{name} {tuple(d for d in dims)} {np.dtype(spec.dtype).name}"
            for name, dims, spec in zip(self.names, self.dims, self.specs, strict=True)
        )


def _form(input_spec: Any, parameters: CallParameters | None) -> str:
    if _is_leaf(input_spec):
        return ONE
    if isinstance(input_spec, tuple | list):
        return POSITIONAL
    if isinstance(input_spec, dict) and input_spec and parameters is not None:
        keys = {str(k) for k in input_spec}
        if keys <= parameters.keywords:
            return KEYWORDS
        # `fn(params, **inputs)`: nothing to fill positionally, so the dict's keys are the keywords.
        if parameters.any_keyword and not parameters.positional:
            return KEYWORDS
    return DICT  # a dict for one argument, or another pytree (a dataclass of specs)


def _dims(
    spec: jax.ShapeDtypeStruct, name: str, dynamic_batch: bool, axes: Any, where: str
) -> tuple[int | str, ...]:
    shape = tuple(int(d) for d in spec.shape)
    if axes is None:
        return (BATCH, *shape[1:]) if dynamic_batch and shape else shape
    if isinstance(axes, str) or not isinstance(axes, Sequence | dict):
        raise SignatureError(
            f"dynamic_axes for {name} is {axes!r}; it takes one entry per dim ({where})",
            fix=f"e.g. dynamic_axes={{'{name}': ('b', 'seq')}}: a symbol per dynamic dim, None for a static one",
        )
    stated = dict(axes) if isinstance(axes, dict) else dict(enumerate(axes))
    dims: list[int | str] = list(shape)
    for axis, symbol in stated.items():
        if not isinstance(axis, int) or not 0 <= axis < len(shape):
            raise SignatureError(
                f"dynamic_axes for {name} names axis {axis!r}, but {name} has rank {len(shape)} ({where})",
                fix=f"give at most {len(shape)} entries for {name}: a symbol such as 'b' or 'seq' per "
                "dynamic dim, None for a static one",
            )
        if symbol is None or isinstance(symbol, int):
            continue
        if not isinstance(symbol, str) or not _SYMBOL.match(symbol):
            raise SignatureError(
                f"dynamic_axes for {name}: {symbol!r} is not a dim symbol",
                fix="name each dynamic dim with an identifier, e.g. ('b', 'seq'); None keeps a dim static",
            )
        dims[axis] = symbol
    return tuple(dims)


def inputs_of(
    input_spec: Any,
    *,
    where: str,
    parameters: CallParameters | None = None,
    input_names: Sequence[str] | None = None,
    dynamic_batch: bool = True,
    dynamic_axes: dict[str, Any] | None = None,
    dim_constraints: Sequence[str] = (),
) -> Inputs:
    """The model's inputs from `input_spec` (any pytree of specs or arrays); `parameters` are the
    names of the model call's arguments after its params (None when unknown)."""
    if input_spec is None:
        raise ModelInputError(
            f"no input_spec for {where}", fix=f"pass input_spec={EXAMPLE_SPEC} or an example array"
        )
    form = _form(input_spec, parameters)
    try:
        pairs, treedef = jax.tree_util.tree_flatten_with_path(input_spec, is_leaf=_is_leaf)
        specs = tuple(_leaf_spec(leaf) for _, leaf in pairs)
    except (TypeError, ValueError) as err:
        raise SignatureError(
            f"input_spec for {where} is not a pytree of arrays: {type(err).__name__}: {str(err)[:200]}",
            fix="pass jax.ShapeDtypeStruct leaves (or example arrays) in a tuple, list or dict",
        ) from None
    if not specs:
        raise SignatureError(f"input_spec for {where} holds no arrays", fix=f"e.g. input_spec={EXAMPLE_SPEC}")
    if form == ONE:
        names = [LEGACY_INPUT]
    else:
        positional = parameters.positional if parameters and form == POSITIONAL else ()
        names = path_names([path for path, _ in pairs], "input", positional)
    names = _checked_names(names, input_names, "input")
    axes = dict(dynamic_axes or {})
    unknown = sorted(set(axes) - set(names))
    if unknown:
        raise SignatureError(
            f"dynamic_axes names {', '.join(unknown)}, which are not inputs of {where}",
            fix=f"key dynamic_axes by input name: {', '.join(names)}",
        )
    dims = tuple(
        _dims(spec, name, dynamic_batch, axes.get(name), where)
        for spec, name in zip(specs, names, strict=True)
    )
    found = Inputs(treedef, specs, tuple(names), dims, form, tuple(dim_constraints))
    _check_constraints(found, where)
    return found


def _check_constraints(inputs: Inputs, where: str) -> None:
    """Constraints name only the dims' symbols and parse (JAX's own parser says what is wrong)."""
    if not inputs.constraints:
        return
    named = {word for text in inputs.constraints for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text)}
    unknown = sorted(named - set(inputs.symbols) - {"min", "max", "mod", "floordiv"})
    if unknown:
        raise SignatureError(
            f"dim_constraints name {', '.join(unknown)}, which no input's dims hold ({where})",
            fix=f"constrain the symbols of dynamic_axes: {inputs.symbols or '(none: add dynamic_axes first)'}",
        )
    try:
        inputs.symbolic()
    except ValueError as err:
        raise SignatureError(
            f"dim_constraints {list(inputs.constraints)} for {where}: {str(err)[:300]}",
            fix=f"write each as '<expr> <= <expr>' or '<expr> >= <expr>' over the symbols {inputs.symbols or '(none)'}",
        ) from None


def output_names(out_tree: Any, given: Sequence[str] | None = None) -> list[str]:
    """Names of the model's outputs (`out_tree`: the output pytree of shapes, from make_jaxpr)."""
    pairs = jax.tree_util.tree_flatten_with_path(out_tree)[0]
    if not pairs:
        raise SignatureError(
            "the model returns no arrays (None, or an empty tuple or dict): an export needs an output",
            fix="return the arrays the page should read (e.g. the logits), as one array or a tuple/dict",
        )
    if len(pairs) == 1 and not pairs[0][0]:
        names = [LEGACY_OUTPUT]
    else:
        names = path_names([path for path, _ in pairs], "output")
    return _checked_names(names, given, "output")
