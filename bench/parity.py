"""Run parity cases: JAX's output vs the lowered TF function's, with a dynamic batch dim.

A case is traced and lowered once (`lower_case`, cached): the jaxpr tells which primitives it
really exercises, the concrete TF graph which ops each equation really emitted. It then runs at two
batch sizes through the same graph (`run_case`). tests/convert_env/test_lowering_parity.py checks
both against the registry, and docs/coverage.md's op column is this measurement.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jax
import numpy as np
import tensorflow as tf
from jax import export
from jax.extend import core as jcore

from jax2tfjs.export.tfjs_convert import NON_COMPUTE_OPS
from jax2tfjs.lowering import RULES
from jax2tfjs.lowering.context import Emission, LoweringContext
from jax2tfjs.lowering.interpreter import lower_closed_jaxpr
from jax2tfjs.lowering.registry import Arg, Case, Rule


def trace_with_batch(fn: Any, specs: list[jax.ShapeDtypeStruct], batched: list[bool]) -> Any:
    """make_jaxpr with the first dim of each batched spec symbolic (`b`)."""
    (b,) = export.symbolic_shape("b")
    specs = [
        jax.ShapeDtypeStruct((b, *s.shape[1:]), s.dtype) if flag else s
        for s, flag in zip(specs, batched, strict=True)
    ]
    return jax.make_jaxpr(fn)(*specs)


def nested_jaxprs(value: Any) -> Iterator[Any]:
    if isinstance(value, jcore.ClosedJaxpr):
        yield value.jaxpr
    elif isinstance(value, jcore.Jaxpr):
        yield value
    elif isinstance(value, tuple | list):
        for item in value:
            yield from nested_jaxprs(item)


def traced_primitives(jaxpr: Any) -> set[str]:
    """Every primitive in `jaxpr`, including those of the jaxprs nested in its equations' params."""
    names: set[str] = set()
    for eqn in jaxpr.eqns:
        names.add(eqn.primitive.name)
        for param in eqn.params.values():
            for inner in nested_jaxprs(param):
                names |= traced_primitives(inner)
    return names


@dataclass
class LoweredCase:
    """A case traced (symbolic batch) and lowered once: what it exercises and what it emits."""

    case: Case
    batched: list[bool]
    primitives: set[str]
    function: Any  # the concrete tf.function, run at any batch size
    graph_ops: list[tuple[str, str]]  # (name, type) of every op in the concrete graph
    emissions: list[Emission]
    ctx: LoweringContext

    def emitted_ops(self) -> dict[str, set[str]]:
        """primitive → the compute op types its equations emitted (Const and other plumbing aside)."""
        ops: dict[str, set[str]] = {}
        for emission in self.emissions:
            if emission.op_type not in NON_COMPUTE_OPS:
                ops.setdefault(emission.origin.primitive, set()).add(emission.op_type)
        return ops

    def unattributed_ops(self) -> list[str]:
        """Compute ops of the graph that no equation claimed (each op must name its equation)."""
        claimed = {e.op_name for e in self.emissions}
        return [
            f"{name} ({kind})"
            for name, kind in self.graph_ops
            if kind not in NON_COMPUTE_OPS and name not in claimed
        ]


# Keyed by id: cases hold lists, so they are not hashable; the entry keeps its case alive.
_LOWERED: dict[int, LoweredCase] = {}


def lower_case(case: Case) -> LoweredCase:
    if id(case) in _LOWERED:
        return _LOWERED[id(case)]
    # Specs from a sample: an Arg's fill can decide its dtype (bool).
    samples = [arg.sample(np.random.default_rng(0)) for arg in case.args]
    specs = [jax.ShapeDtypeStruct(x.shape, x.dtype) for x in samples]
    batched = [case.batched and arg.batched for arg in case.args]
    closed = trace_with_batch(case.fn, specs, batched)
    # Folding off: a case built from constants (iota, a constant predicate) must test its rule,
    # not JAX's own evaluation at conversion (tests/convert_env/test_lowering_folding.py tests that).
    ctx = LoweringContext(fold_constants=False)
    signature = [
        tf.TensorSpec([None, *s.shape[1:]] if flag else list(s.shape), ctx.tf_dtype(s.dtype))
        for s, flag in zip(specs, batched, strict=True)
    ]
    function = tf.function(
        lambda *args: lower_closed_jaxpr(ctx, closed, args), input_signature=signature, autograph=False
    ).get_concrete_function()
    lowered = LoweredCase(
        case,
        batched,
        traced_primitives(closed.jaxpr),
        function,
        [(op.name, op.type) for op in function.graph.get_operations()],
        list(ctx.emissions),
        ctx,
    )
    _LOWERED[id(case)] = lowered
    return lowered


def batch_sizes(case: Case) -> tuple[int, ...]:
    """The case's own batch and a single example (what a web page feeds); one size if unbatched."""
    own = next((arg.shape[0] for arg in case.args if case.batched and arg.batched), None)
    if own is None:
        return (0,)
    return (own, 1 if own != 1 else 4)


def run_case(case: Case, batch: int = 0, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(jax outputs, tf outputs) for `case` on random inputs whose batched args hold `batch` rows
    (0: the case's own shapes)."""
    lowered = lower_case(case)
    rng = np.random.default_rng(seed)
    inputs = [
        arg.sample(rng) if not (flag and batch) else _with_batch(arg, batch).sample(rng)
        for arg, flag in zip(case.args, lowered.batched, strict=True)
    ]
    expected = jax.tree.leaves(case.fn(*inputs))
    feeds = [
        tf.constant(x, dtype=spec.dtype)
        for x, spec in zip(inputs, lowered.function.structured_input_signature[0], strict=True)
    ]
    actual = [t.numpy() for t in tf.nest.flatten(lowered.function(*feeds))]
    return [np.asarray(e) for e in expected], actual


def _with_batch(arg: Arg, batch: int) -> Arg:
    return dataclasses.replace(arg, shape=(batch, *arg.shape[1:]))


# The checks tests/convert_env/test_lowering_ops.py applies to every case. They take the rule and
# TF.js's op list as arguments, so the tests can prove each check fires on a synthetic bad case.


def misses_its_primitive(rule: Rule, lowered: LoweredCase) -> bool:
    """The case traces none of its rule's primitives: it tests something else."""
    return not set(rule.group) & lowered.primitives


def undeclared_ops(lowered: LoweredCase, rules: dict[str, Rule]) -> dict[str, list[str]]:
    """primitive → the ops its equations emitted that its rule's tf_ops does not declare."""
    undeclared = {p: sorted(ops - set(rules[p].tf_ops)) for p, ops in lowered.emitted_ops().items()}
    return {p: ops for p, ops in undeclared.items() if ops}


def ops_tfjs_lacks(lowered: LoweredCase, tfjs_ops: set[str]) -> dict[str, list[str]]:
    """primitive → the ops its equations emitted that TF.js's op list lacks."""
    missing = {p: sorted(ops - tfjs_ops) for p, ops in lowered.emitted_ops().items()}
    return {p: ops for p, ops in missing.items() if ops}


def all_cases() -> dict[str, tuple[str, Case]]:
    """`module/case` → (the rule's primitive, the case), each case once."""
    cases: dict[str, tuple[str, Case]] = {}
    for name, rule in RULES.items():
        for case in rule.cases:
            cases.setdefault(f"{rule.module.rsplit('.', 1)[-1]}/{case.name}", (name, case))
    return cases


def measured_ops() -> dict[str, set[str]]:
    """primitive → every compute op its equations emitted across all parity cases."""
    ops: dict[str, set[str]] = {}
    for _, case in all_cases().values():
        for primitive, kinds in lower_case(case).emitted_ops().items():
            ops.setdefault(primitive, set()).update(kinds)
    return ops
