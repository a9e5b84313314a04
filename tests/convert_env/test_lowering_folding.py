"""Constant folding at conversion (lowering/folding.py): equations whose inputs are all constants are
evaluated in JAX, so a PRNG key and the noise drawn from it become constants equal to JAX's values
bit for bit, in TensorFlow and in TF.js (cpu, wasm); keys that depend on the inputs are refused with
a fix; big broadcasts stay broadcasts; weights are never folded here. Also LoweringContext.dim on
symbolic dims with floordiv, mod, max and min.
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import tensorflow as tf
from flax import linen as nn
from jax import export, lax
from jax._src import core as jax_core

from bench.parity import trace_with_batch
from bench.parity_tfjs import TfjsParity
from jax2tfjs.api import to_tensorflowjs
from jax2tfjs.errors import UnsupportedDtypeError, UnsupportedPrimitiveError
from jax2tfjs.lowering import RULES, calls
from jax2tfjs.lowering.context import LoweringContext
from jax2tfjs.lowering.folding import FOLD_LIMIT, inlined_call
from jax2tfjs.lowering.interpreter import constant, lower_closed_jaxpr
from jax2tfjs.lowering.registry import Arg, Case

ROWS, COLS = 4, 16


def _noise(shape):
    return jax.random.normal(jax.random.key(0), shape)


def _add_noise(x):
    return x + _noise(x.shape)


def _add_example_noise(x):  # one example's noise broadcast over a dynamic batch
    return x + _noise(x.shape[1:])


def _bernoulli_mask(x):  # a raw uint32 key (PRNGKey), split, unwrapped, wrapped; bernoulli bits
    _, key = jax.random.split(jax.random.PRNGKey(3))
    keep = jax.random.bernoulli(key, 0.7, x.shape[1:])
    return jnp.where(keep, x, -x)


CLOSED_OVER_KEY = jax.random.key(7)


def _closed_over_key(x):
    return x * jax.random.uniform(CLOSED_OVER_KEY, x.shape[1:], minval=0.5, maxval=1.5)


def _lower(fn, *args, batched=None, fold=True):
    """(ctx, concrete TF function) of `fn` traced on `args`' shapes; `batched`: per arg, dim 0 dynamic."""
    specs = [jax.ShapeDtypeStruct(np.shape(a), np.asarray(a).dtype) for a in args]
    batched = batched or [False] * len(args)
    closed = trace_with_batch(fn, specs, batched)
    ctx = LoweringContext(fold_constants=fold)
    signature = [
        tf.TensorSpec([None, *s.shape[1:]] if flag else list(s.shape), ctx.tf_dtype(s.dtype))
        for s, flag in zip(specs, batched, strict=True)
    ]
    function = tf.function(
        lambda *xs: lower_closed_jaxpr(ctx, closed, xs), input_signature=signature, autograph=False
    ).get_concrete_function()
    return ctx, function


def _run(function, *args):
    return [t.numpy() for t in tf.nest.flatten(function(*[tf.constant(a) for a in args]))]


def _ops(function):
    return [op.type for op in function.graph.get_operations()]


def _x(shape=(ROWS, COLS), seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_noise_from_a_constant_key_is_jax_bit_for_bit_in_tensorflow():
    x = _x()
    ctx, function = _lower(_add_noise, x)
    (got,) = _run(function, x)
    noise = np.asarray(jax.jit(_noise, static_argnums=0)(x.shape))
    np.testing.assert_array_equal(noise, np.asarray(_noise(x.shape)))
    np.testing.assert_array_equal(got, x + noise)
    np.testing.assert_array_equal(got, np.asarray(_add_noise(jnp.asarray(x))))
    # Not compared with jax.jit(_add_noise): XLA fuses the noise's last product with the add there
    # and differs from JAX's own op-by-op result by 1 ulp in about a fifth of the elements (measured).
    # random_seed, random_bits, shift, or, bitcast, sub, mul, add, max, erf_inv, ... (inside the jits)
    assert ctx.folded_equations >= 10
    assert "ErfInv" not in _ops(function) and "Erfinv" not in _ops(function)


def test_folding_counts_reset_per_trace_and_a_model_without_constants_folds_nothing():
    ctx, _ = _lower(lambda x: jnp.tanh(x) * x, _x())
    assert ctx.folded_equations == 0
    ctx.start_trace()
    assert ctx.folded_equations == 0


@pytest.mark.parametrize(
    ("fn", "batched"),
    [
        (_add_example_noise, [True]),
        (_bernoulli_mask, [True]),
        (_closed_over_key, [True]),
        (_add_noise, [False]),
    ],
    ids=["example_noise_dynamic_batch", "bernoulli_split_key", "closed_over_key", "static_noise"],
)
def test_random_values_from_constant_keys_fold_and_match_jax_exactly(fn, batched):
    ctx, function = _lower(fn, _x(), batched=batched)
    assert ctx.folded_equations > 0
    for rows in (ROWS, 1) if batched[0] else (ROWS,):
        x = _x((rows, COLS), seed=rows)
        (got,) = _run(function, x)
        np.testing.assert_array_equal(got, np.asarray(fn(jnp.asarray(x))))  # JAX's ops, not numpy's


# Exact in TF.js too: tolerance 0 (assert_matches_jax then requires equal floats).
EXACT_CASES = {
    "folding/static_noise": Case(
        "static_noise", _add_noise, [Arg((ROWS, COLS))], batched=False, atol=0, rtol=0
    ),
    "folding/example_noise": Case("example_noise", _add_example_noise, [Arg((ROWS, COLS))], atol=0, rtol=0),
    "folding/bernoulli_mask": Case("bernoulli_mask", _bernoulli_mask, [Arg((ROWS, COLS))], atol=0, rtol=0),
}


@pytest.fixture(scope="module")
def tfjs_exact(tmp_path_factory):
    return TfjsParity(tmp_path_factory.mktemp("folding-tfjs"), EXACT_CASES, fold_constants=True)


@pytest.mark.parametrize("backend", ["cpu", "wasm"])
@pytest.mark.parametrize("key", EXACT_CASES)
def test_folded_noise_is_jax_bit_for_bit_in_tfjs(tfjs_exact, backend, key):
    from test_lowering_tfjs import check_outcome

    check_outcome(tfjs_exact, backend, key)


def test_noise_of_a_dynamic_batch_shape_is_refused_with_a_fix():
    with pytest.raises(UnsupportedPrimitiveError) as err:
        _lower(_add_noise, _x(), batched=[True])
    assert "'random_bits'" in err.value.cause and "dynamic dim" in err.value.cause
    assert "(b, 16)" in err.value.cause
    assert "static shape" in err.value.fix and "dynamic_batch=False" in err.value.fix


def test_a_key_made_from_the_inputs_is_refused_with_a_fix():
    def seeded_by_input(x):
        key = jax.random.fold_in(jax.random.key(0), jnp.sum(x).astype(jnp.int32))
        return x + jax.random.normal(key, x.shape)

    with pytest.raises(UnsupportedPrimitiveError) as err:
        _lower(seeded_by_input, _x())
    assert "'random_fold_in'" in err.value.cause
    assert "depends on the model's inputs" in err.value.cause
    assert "pass the noise as an input" in err.value.fix


def test_a_constant_key_read_by_a_rule_that_needs_a_tensor_is_a_typed_error():
    def pick_key(x):
        keys = jax.random.split(jax.random.key(0))
        key = lax.select(jnp.sum(x) > 0, keys[0], keys[1])  # select_n on keys: needs their tensors
        return x + jax.random.normal(key, x.shape)

    with pytest.raises(UnsupportedDtypeError) as err:
        _lower(pick_key, _x())
    assert "PRNG key" in err.value.cause and "'select_n'" in err.value.cause
    assert "pass noise as an input" in err.value.cause


def test_without_folding_random_primitives_have_no_rule():
    with pytest.raises(UnsupportedPrimitiveError, match="random_seed"):
        _lower(_add_noise, _x(), fold=False)
    ctx, function = _lower(lambda x: x + jnp.arange(16.0) * 2.0, _x(), fold=False)
    assert ctx.folded_equations == 0 and "Range" in _ops(function)


def test_a_folded_row_is_still_a_bias_add_and_small_constants_fold():
    fn = lambda x: x + jnp.arange(16.0) * 2.0  # noqa: E731  iota, mul, broadcast to (1, 16): all fold
    ctx, function = _lower(fn, _x(), batched=[True])
    assert ctx.folded_equations == 3
    ops = _ops(function)
    assert "BiasAdd" in ops and "Range" not in ops and "AddV2" not in ops
    x = _x((3, COLS))
    np.testing.assert_array_equal(_run(function, x)[0], np.asarray(fn(x)))


def test_a_folded_uniform_array_multiplies_in_its_size_one_form():
    fn = lambda x: x * jnp.full((ROWS, COLS), 0.5)  # noqa: E731  64 elements: folds
    ctx, function = _lower(fn, _x())
    assert ctx.folded_equations == 2  # the broadcast and its convert_element_type
    (mul,) = [op for op in function.graph.get_operations() if op.type == "Mul"]
    const = mul.inputs[1].op
    assert const.type == "Const" and const.outputs[0].shape.num_elements() == 1


def test_a_folded_array_keeps_the_sign_of_its_zeros():
    # 0.0 and -0.0 compare equal, but x * 0.0 and x * -0.0 differ in sign: not one repeated value.
    fn = lambda x: x * jnp.where(jnp.arange(4) % 2 == 0, 0.0, -0.0)  # noqa: E731
    _, function = _lower(fn, _x((2, 4)))
    x = np.abs(_x((2, 4)))
    got = _run(function, x)[0]
    np.testing.assert_array_equal(np.signbit(got), np.signbit(np.asarray(fn(jnp.asarray(x)))))
    assert np.signbit(got).any() and not np.signbit(got).all()


def test_a_broadcast_to_a_big_array_is_not_folded_into_a_weight():
    big = (32, 32)
    assert np.prod(big) > FOLD_LIMIT
    fn = lambda x: x * jnp.full(big, 0.5)  # noqa: E731
    ctx, function = _lower(fn, _x(big))
    assert ctx.folded_equations == 0
    biggest = max(
        op.outputs[0].shape.num_elements() or 0
        for op in function.graph.get_operations()
        if op.type == "Const"
    )
    assert biggest < np.prod(big)
    x = _x(big)
    np.testing.assert_array_equal(_run(function, x)[0], np.asarray(fn(x)))


def test_equations_on_weights_are_not_folded():
    # Weights are inputs of the lowered function (tf.Variables in an export), never constants here.
    w = _x((COLS, 8))
    fn = lambda w, x: x @ w.T.T * 2.0  # noqa: E731
    ctx, function = _lower(fn, w, _x(), batched=[False, True])
    assert ctx.folded_equations == 0
    assert "Transpose" in _ops(function)


def test_lstm_initialize_carry_with_a_key_folds_on_a_dynamic_batch():
    cell = nn.LSTMCell(8)
    params = cell.init(jax.random.key(1), cell.initialize_carry(jax.random.key(0), (3, 5)), jnp.zeros((3, 5)))

    def step(params, x):
        carry = cell.initialize_carry(jax.random.key(0), x.shape)
        return cell.apply(params, carry, x)[1]

    leaves, tree = jax.tree.flatten(params)
    flat = lambda *a: step(jax.tree.unflatten(tree, a[:-1]), a[-1])  # noqa: E731
    x = _x((3, 5))
    ctx, function = _lower(flat, *leaves, x, batched=[False] * len(leaves) + [True])
    assert ctx.folded_equations >= 4  # random_seed, random_split, the slices and squeezes of its keys
    for rows in (3, 1):
        xr = _x((rows, 5), seed=rows)
        got = _run(function, *[np.asarray(a) for a in leaves], xr)[0]
        np.testing.assert_allclose(got, np.asarray(step(params, xr)), rtol=1e-5, atol=1e-6)


def test_equations_on_keys_fold_at_any_size():
    # broadcast_in_dim of a key to 80 keys has a rule and outgrows FOLD_LIMIT, but a key has no TF form.
    def per_row_keys(x):
        keys = jnp.broadcast_to(jax.random.key(5), (80,))
        keys = jax.vmap(jax.random.fold_in)(keys, jnp.arange(80))
        return x + jax.vmap(lambda k: jax.random.normal(k, ()))(keys)

    ctx, function = _lower(per_row_keys, _x((2, 80)))
    # the key's broadcast, then (arange(80) left to its rule but computed for them) the vmapped
    # fold_in and the random bits, their conversion to floats, the broadcast to (1, 80)
    assert ctx.folded_equations >= 5
    x = _x((2, 80))
    np.testing.assert_array_equal(_run(function, x)[0], np.asarray(per_row_keys(jnp.asarray(x))))


def test_a_value_too_big_to_store_is_still_computed_for_an_equation_that_folds_on_it():
    fn = lambda x: x + jnp.arange(80.0)[:4]  # noqa: E731  iota(80) > FOLD_LIMIT: a Range; its slice folds
    ctx, function = _lower(fn, _x((2, 4)))
    assert ctx.folded_equations == 2  # the slice and the broadcast to (1, 4); not the iota
    x = _x((2, 4))
    np.testing.assert_array_equal(_run(function, x)[0], np.asarray(fn(jnp.asarray(x))))
    ctx, function = _lower(lambda x: x + jnp.arange(80.0) * 2.0, _x((2, 80)))
    assert ctx.folded_equations == 0  # arange(80) * 2 is as big as the iota: not stored either


def test_a_constant_is_built_in_each_graph_that_reads_it():
    # A control-flow rule may read a folded constant inside a loop body's graph and again outside.
    ctx = LoweringContext()
    value = constant(ctx, np.float32(2.0))
    built = []
    for _ in range(2):
        with tf.Graph().as_default() as graph:
            built.append((graph, value.get()))
    assert [tensor.graph for _, tensor in built] == [graph for graph, _ in built]


def test_every_call_that_calls_py_inlines_is_left_to_it():
    inlined = [name for name, rule in RULES.items() if rule.lower is calls.inline_call]
    assert "jit" in inlined and all(inlined_call(name) for name in inlined)
    assert not inlined_call("sin") and not inlined_call("random_bits")


def test_a_jit_of_constants_folds_equation_by_equation():
    fn = lambda x: x + jax.jit(lambda: jnp.arange(4.0) + 1.0)()  # noqa: E731
    ctx, function = _lower(fn, _x((2, 4)))
    assert ctx.folded_equations == 3  # iota and add inside the inlined jit, then the broadcast to (1, 4)
    assert "Range" not in _ops(function)


B = export.symbolic_shape("b")[0]
DIMS = {
    "floordiv": (B // 2, lambda n: n // 2),
    "mod": (B % 3, lambda n: n % 3),
    "max": (jax_core.max_dim(B, 4), lambda n: max(n, 4)),
    "min": (jax_core.min_dim(B, 6), lambda n: min(n, 6)),
    "affine": (2 * B + 1, lambda n: 2 * n + 1),
    "square": (B * B, lambda n: n * n),
    "max_of_floordiv": (jax_core.max_dim(B // 2, 3), lambda n: max(n // 2, 3)),
}


@pytest.mark.parametrize("name", DIMS)
def test_dim_evaluates_symbolic_dims_with_floordiv_mod_max_min(name):
    dim, expected = DIMS[name]
    ctx = LoweringContext()

    @tf.function(input_signature=[tf.TensorSpec([None, 2])], autograph=False)
    def value(x):
        ctx.start_trace()
        ctx.bind_dims((B, 2), x)
        return ctx.dim(dim)

    for rows in (1, 5, 9):
        assert int(value(tf.zeros([rows, 2]))) == expected(rows)


def test_dim_of_a_known_max_is_an_int():
    assert LoweringContext().dim(jax_core.max_dim(B, 4) - jax_core.max_dim(B, 4) + 3) == 3


def test_the_conversion_report_counts_folded_equations(tmp_path):
    def model(params, x):
        return x @ params["w"] + _noise((ROWS, 8))

    params = {"w": _x((COLS, 8))}
    report = to_tensorflowjs(
        model,
        params,
        input_spec=jax.ShapeDtypeStruct((ROWS, COLS), jnp.float32),
        out_dir=tmp_path / "export",
        dynamic_batch=False,
        progress=False,
    )
    assert report.folded_equations >= 10
    saved = json.loads((tmp_path / "export" / "report.json").read_text())
    assert saved["folded_equations"] == report.folded_equations
    # the weight and the noise, each stored once (no unused copy of the noise among the weights)
    assert report.weight_bytes < (COLS * 8 + 2 * ROWS * 8) * 4
    assert not any("uint32" in warning for warning in report.warnings)  # the random bits never reach TF


def _long_sampler(x):
    """A fori_loop whose carry holds a PRNG key, 300 steps: past the unroll budget, yet a key cannot
    be a loop variable, so the scan is unrolled and each step's draw folds."""

    def step(i, carry):
        key, total = carry
        key, sub = jax.random.split(key)
        return key, total * 0.99 + 0.01 * jax.random.normal(sub, (COLS,))

    return lax.fori_loop(0, 300, step, (jax.random.key(0), x))[1]  # the carry holds the input


def test_a_key_carried_through_a_long_loop_folds_instead_of_being_refused():
    ctx, function = _lower(_long_sampler, _x())
    (got,) = _run(function, _x())
    np.testing.assert_allclose(got, np.asarray(_long_sampler(jnp.asarray(_x()))), rtol=0, atol=1e-6)
    assert ctx.folded_equations >= 300  # every step's split and draw, unrolled
    assert "While" not in _ops(function) and "StatelessWhile" not in _ops(function)
