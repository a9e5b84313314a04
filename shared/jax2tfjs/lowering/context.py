"""State shared by the rules while one jaxpr is lowered: symbolic dims, warnings, deferred values,
and which equation emitted each TF op."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from jax2tfjs.errors import UnsupportedDtypeError

# TF.js computes in float32, int32 and bool only; narrower or wider types are mapped here.
_DTYPE_MAP: dict[str, tuple[tf.DType, str | None]] = {
    "float32": (tf.float32, None),
    "int32": (tf.int32, None),
    "bool": (tf.bool, None),
    "float64": (tf.float32, "float64 computed as float32 (TF.js has no float64)"),
    "float16": (tf.float32, "float16 computed as float32 (TF.js computes in float32)"),
    "bfloat16": (tf.float32, "bfloat16 computed as float32 (TF.js has no bfloat16)"),
    "int64": (tf.int32, "int64 computed as int32 (TF.js has no int64); values beyond ±2**31 wrap"),
    "int8": (tf.int32, None),
    "int16": (tf.int32, None),
    "uint8": (tf.int32, None),
    "uint16": (tf.int32, None),
    "uint32": (tf.int32, "uint32 computed as int32; values beyond 2**31 wrap"),
}


def _dtype_entry(dtype: Any, where: str) -> tuple[tf.DType, str | None]:
    name = np.dtype(dtype).name if str(dtype) != "bfloat16" else "bfloat16"
    if name not in _DTYPE_MAP:
        raise UnsupportedDtypeError(
            f"dtype {name} (at {where}) has no TF.js equivalent",
            fix="cast to float32 or int32 in the model before export",
        )
    return _DTYPE_MAP[name]


def exported_dtype(dtype: Any) -> np.dtype:
    """The numpy dtype a value of JAX dtype `dtype` has in the exported model (uint8 → int32):
    what the exported model must return where JAX returns `dtype`."""
    return np.dtype(_dtype_entry(dtype, "an output")[0].as_numpy_dtype)


@dataclass(frozen=True)
class Origin:
    """The equation a TF op comes from: its primitive and the user's source line."""

    primitive: str
    source: str

    def __str__(self) -> str:
        return f"'{self.primitive}' at {self.source}"


@dataclass(frozen=True)
class Emission:
    """One TF op of the lowered graph and the equation that made it."""

    op_name: str
    op_type: str
    origin: Origin


@dataclass(frozen=True)
class WindowSum:
    """A reduce_window_sum: `average()` builds the AvgPool a following div by `count` can use."""

    average: Callable[[], tf.Tensor]
    count: float


@dataclass(frozen=True)
class Hints:
    """What pattern-aware rules may read from a Deferred value instead of its tensor.

    `constant`: the numpy value of a literal, a constant or an equation folded at conversion
    (folding.py). `bias_vector`: the rank-1 tensor behind a reshape or broadcast onto the last axis
    (add makes it a BiasAdd). `broadcastable()`: the rank-equal size-1 form of a broadcast, for ops
    that broadcast implicitly. `window_sum`: the average pool behind a window sum (div makes it one
    AvgPool). `prng_key`: a folded JAX PRNG key array (dtype key<fry>), which has no TF form: only
    folding reads it, and a rule that needs its tensor gets an UnsupportedDtypeError.
    `later_constant()`: the JAX value of an equation on constants that its rule lowered because the
    value is too big to store (folding.py), computed only if a later equation folds on it (None if
    JAX cannot compute it)."""

    constant: np.ndarray | None = None
    bias_vector: tf.Tensor | None = None
    broadcastable: Callable[[], tf.Tensor] | None = None
    window_sum: WindowSum | None = None
    prng_key: Any = None
    later_constant: Callable[[], Any] | None = None


@dataclass
class Deferred:
    """A value whose TF ops are built only when a rule that needs a plain tensor reads it.

    Pattern-aware rules read `hints` instead: a bias vector behind a reshape, the average behind a
    window sum, a literal's value. So `x + reshape(b)` becomes one BiasAdd and no Reshape is left
    dangling in the graph. Made by `LoweringContext.defer`, which charges whatever `build` and the
    hints' builders emit to the equation that deferred them, not to the rule that reads them."""

    build: Callable[[], tf.Tensor]
    hints: Hints = field(default_factory=Hints)
    _value: tf.Tensor | None = None
    # A constant's build reads no tensor, so it is built again in each graph that reads it: a
    # control-flow rule may read a folded constant inside a loop body's graph and again outside.
    per_graph: bool = False
    _graph: Any = None

    def get(self) -> tf.Tensor:
        graph = _current_graph() if self.per_graph else None
        if self._value is None or graph is not self._graph:
            self._value, self._graph = self.build(), graph
        return self._value


def _current_graph() -> Any:
    return None if tf.executing_eagerly() else tf.compat.v1.get_default_graph()


def materialize(value: Any) -> tf.Tensor:
    return value.get() if isinstance(value, Deferred) else value


def hints(value: Any) -> Hints:
    return value.hints if isinstance(value, Deferred) else Hints()


def constant_value(value: Any) -> np.ndarray | None:
    """The numpy value of a literal or a constant, else None."""
    return hints(value).constant


class LoweringContext:
    """`fold_constants`: evaluate equations whose inputs are all constants in JAX at conversion
    (folding.py); off, every equation goes to its rule (equations no rule lowers then fail)."""

    def __init__(self, fold_constants: bool = True) -> None:
        self.fold_constants = fold_constants
        self.warnings: list[str] = []
        self.current_source = "<unknown>"
        self.origin: Origin | None = None
        # The exception being raised and the innermost equation it was raised in: a deferred value
        # built on a later equation's read fails inside its own producer's equation.
        self._failure: tuple[BaseException, Origin] | None = None
        self.start_trace()

    def start_trace(self) -> None:
        """Forget the previous trace's tensors: TF may retrace (e.g. when saving), and tensors of
        an earlier trace's graph must not leak into this one."""
        self.dim_values: dict[str, tf.Tensor] = {}
        self._dim_sources: dict[str, tuple[tf.Tensor, int]] = {}
        self.emissions: list[Emission] = []
        self._claimed: set[str] = set()
        # Equations evaluated in JAX at conversion in this trace (nested jaxprs included).
        self.folded_equations = 0

    @property
    def op_sources(self) -> dict[str, list[str]]:
        """op type → the equations (primitive and source line) that emitted it, in graph order."""
        sources: dict[str, list[str]] = {}
        for emission in self.emissions:
            where = sources.setdefault(emission.op_type, [])
            if str(emission.origin) not in where:
                where.append(str(emission.origin))
        return sources

    @contextlib.contextmanager
    def emitting(self, origin: Origin) -> Iterator[None]:
        """Charge the TF ops built inside to `origin`. Nested uses (an inlined call's equations, a
        deferred value built on first read) claim their own ops first; the outer use gets the rest."""
        graph = None if tf.executing_eagerly() else tf.compat.v1.get_default_graph()
        outer = (self.origin, self.current_source)
        self.origin, self.current_source = origin, origin.source
        first_new = len(graph.get_operations()) if graph is not None else 0
        try:
            yield
        except BaseException as err:
            # Outer levels see the same exception pass through: the innermost equation is kept.
            if self._failure is None or self._failure[0] is not err:
                self._failure = (err, origin)
            raise
        finally:
            self.origin, self.current_source = outer
            if graph is not None:
                for op in graph.get_operations()[first_new:]:
                    if op.name not in self._claimed:
                        self._claimed.add(op.name)
                        self.emissions.append(Emission(op.name, op.type, origin))

    def failed_in(self, err: BaseException) -> Origin | None:
        """The innermost equation `err` was raised in (None if it was raised outside any)."""
        return self._failure[1] if self._failure is not None and self._failure[0] is err else None

    def defer(
        self, build: Callable[[], tf.Tensor], hints: Hints | None = None, per_graph: bool = False
    ) -> Deferred:
        """A Deferred whose ops, whenever they are built, are charged to the equation lowered now.
        `per_graph`: `build` reads no tensor (a constant), so each graph that reads it builds its own."""
        origin = self.origin
        if origin is None:  # a closed-over constant, read before any equation
            return Deferred(build, hints or Hints(), per_graph=per_graph)

        def charged(fn: Callable[..., Any] | None) -> Callable[..., Any] | None:
            if fn is None:
                return None

            def run() -> Any:
                with self.emitting(origin):
                    return fn()

            return run

        hints = hints or Hints()
        window = hints.window_sum
        return Deferred(
            charged(build),
            dataclasses.replace(
                hints,
                broadcastable=charged(hints.broadcastable),
                window_sum=WindowSum(charged(window.average), window.count) if window else None,
            ),
            per_graph=per_graph,
        )

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def tf_dtype(self, dtype: Any) -> tf.DType:
        tf_type, note = _dtype_entry(dtype, self.current_source)
        if note:
            self.warn(note)
        return tf_type

    def bind_dims(self, aval_shape: Sequence[Any], tensor: tf.Tensor) -> None:
        """Remember which input axis holds each symbolic dim (e.g. the batch `b`). Its TF value is
        built when a rule first needs it, so those ops belong to that rule's equation."""
        for axis, dim in enumerate(aval_shape):
            if not is_static(dim):
                for name in dim.get_vars():
                    if name not in self._dim_sources and str(dim) == name:
                        self._dim_sources[name] = (tensor, axis)

    def _dim_env(self, names: Iterable[str]) -> dict[str, tf.Tensor]:
        for name in names:
            if name not in self.dim_values:
                tensor, axis = self._dim_sources[name]
                self.dim_values[name] = tf.shape(tensor, out_type=tf.int32)[axis]
        return self.dim_values

    def dim(self, d: Any) -> int | tf.Tensor:
        """A dim as an int, or as a TF scalar when it depends on a symbolic dim."""
        if is_static(d):
            return int(d)
        if isinstance(d, tf.Tensor):
            return d
        return evaluate_dim(d, self._dim_env(d.get_vars()))

    def shape(self, dims: Sequence[Any]) -> list[int] | tf.Tensor:
        """A static list when every dim is known, else an int32 shape tensor."""
        values = [self.dim(d) for d in dims]
        if all(isinstance(v, int) for v in values):
            return values
        return tf.stack(
            [tf.constant(v, tf.int32) if isinstance(v, int) else tf.cast(v, tf.int32) for v in values]
        )


# JAX's own `_DimExpr._evaluate` cannot take TF scalars for the vars: it calls divmod() for
# floordiv/mod (tf.Tensor has no __divmod__) and lax.max/lax.min for max/min (they refuse a graph
# tensor). So the expression is walked here, on the structure of jax 0.10.2's shape_poly (a sum of
# (term, coefficient); a term a product of (factor, exponent); a factor a var or an operation on
# dim expressions), with TF ops where a value is symbolic and Python ints where it is known.
_DIM_OPERATIONS: dict[str, tuple[Callable[[int, int], int], Callable[[Any, Any], tf.Tensor]]] = {
    "floordiv": (lambda a, b: a // b, tf.math.floordiv),
    "mod": (lambda a, b: a % b, tf.math.floormod),
    "max": (max, tf.maximum),
    "min": (min, tf.minimum),
}


def evaluate_dim(d: Any, env: dict[str, Any]) -> int | tf.Tensor:
    """The value of the symbolic dim `d` (e.g. `2*b + 1`, `b // 2`, `max(b, 4)`) given a value for
    each var in `env` (TF int32 scalars, or ints): an int when it is known, else a TF scalar."""
    if is_static(d):
        return int(d)
    total: int | tf.Tensor = 0
    for term, coefficient in d._sorted_terms:
        product: int | tf.Tensor = int(coefficient)
        for factor, exponent in term._factors:
            value = _factor_value(factor, env)
            for _ in range(exponent):
                product = product * value if not (isinstance(product, int) and product == 1) else value
        total = product if isinstance(total, int) and total == 0 else total + product
    return total


def _factor_value(factor: Any, env: dict[str, Any]) -> int | tf.Tensor:
    if factor.var is not None:
        return env[factor.var]
    if factor.operation not in _DIM_OPERATIONS:
        raise NotImplementedError(f"symbolic dims with {factor.operation!r} cannot be computed in TF")
    exact, symbolic = _DIM_OPERATIONS[factor.operation]
    a, b = (evaluate_dim(operand, env) for operand in factor.operands)
    if isinstance(a, int) and isinstance(b, int):
        return exact(a, b)
    return symbolic(a, b)


def reshape_target(ctx: LoweringContext, dims: Sequence[Any]) -> list[int] | tf.Tensor:
    """A Reshape's target shape: one unknown dim becomes -1, so the shape stays a constant and no
    Shape/StridedSlice/Pack ops are left in the exported graph."""
    unknown = [i for i, d in enumerate(dims) if not is_static(d)]
    if len(unknown) == 1:
        return [-1 if i == unknown[0] else int(d) for i, d in enumerate(dims)]
    return ctx.shape(dims)


def transpose(x: tf.Tensor, perm: Sequence[int]) -> tf.Tensor:
    """Transpose, or `x` itself when `perm` is the identity (no op in the graph)."""
    return x if list(perm) == list(range(len(perm))) else tf.transpose(x, perm)


def is_static(dim: Any) -> bool:
    return isinstance(dim, int | np.integer)
