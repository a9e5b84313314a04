"""Recurrent models and control flow: LSTM and GRU over a sequence (scan), a bidirectional LSTM,
a fori_loop, a data-dependent while_loop and a cond.

The RNNs get their initial carry (zeros) from the model: left to itself, nn.RNN / nnx.RNN make one
with `initialize_carry(key)`, which draws a PRNG key inside the traced function (random_seed,
random_split) that only constant folding can remove."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn
from flax import nnx
from jax import lax

from bench.zoo.forms import function_built, linen_built
from bench.zoo.registry import Built, InputSpec, ZooEntry, register
from bench.zoo.weights import normal, perturb_nnx

# (batch, steps, features): the sizes docs/control_flow.md measures the LSTM at.
SEQUENCE = InputSpec((4, 16, 8))
FEATURES = InputSpec((2, 12))


class LstmClassifier(nn.Module):
    """nn.RNN(nn.LSTMCell(32)) over 16 steps, a Dense head on the last step's output."""

    hidden: int = 32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        zeros = jnp.zeros((x.shape[0], self.hidden), x.dtype)
        ys = nn.RNN(nn.LSTMCell(self.hidden))(x, initial_carry=(zeros, zeros))
        return nn.Dense(5)(ys[:, -1])


class BiLstmTagger(nn.Module):
    """nn.Bidirectional LSTM (16 each way), one tag per step from the concatenated outputs."""

    hidden: int = 16

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        zeros = jnp.zeros((x.shape[0], self.hidden), x.dtype)
        both = nn.Bidirectional(nn.RNN(nn.LSTMCell(self.hidden)), nn.RNN(nn.LSTMCell(self.hidden)))
        ys = both(x, initial_carry=((zeros, zeros), (zeros, zeros)))
        return nn.log_softmax(nn.Dense(4)(ys))


class GruEncoder(nnx.Module):
    """nnx.RNN(nnx.GRUCell(8, 24)) (an nnx.scan), final carry → Linear."""

    def __init__(self, rngs: nnx.Rngs):
        self.rnn = nnx.RNN(nnx.GRUCell(8, 24, rngs=rngs), return_carry=True)
        self.head = nnx.Linear(24, 3, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        carry, _ = self.rnn(x, initial_carry=jnp.zeros((x.shape[0], 24), x.dtype))
        return self.head(carry)


def _build_gru(seed: int) -> Built:
    """As forms.nnx_built, but the reference passes the module's state into jit as an argument:
    nnx.RNN's nnx.scan refuses variables closed over from outside the trace ("Cannot extract graph
    node from different trace level"), which nnx_built's reference does."""
    module = perturb_nnx(GruEncoder(nnx.Rngs(seed)), seed + 1)
    graphdef, state = nnx.split(nnx.clone(module))
    apply = jax.jit(lambda state, x: nnx.merge(graphdef, state)(x))
    return Built(model=module, params=None, reference=lambda x: apply(state, x))


def _fori_mlp(params: dict, x: jax.Array) -> jax.Array:
    """Six residual tanh steps of one shared layer, the step number fed in: lax.fori_loop with static
    bounds (JAX traces it as a scan)."""

    def step(i, h):
        return h + 0.5 * jnp.tanh(h @ params["w"] + params["b"] + 0.1 * i)

    h = lax.fori_loop(0, 6, step, x @ params["w_in"])
    return h @ params["w_out"]


def _build_fori(seed: int) -> Built:
    rng = np.random.default_rng(seed)
    params = {
        "w_in": normal(rng, (12, 16)),
        "w": normal(rng, (16, 16), 0.3),
        "b": normal(rng, (16,), 0.2),
        "w_out": normal(rng, (16, 4)),
    }
    return function_built(_fori_mlp, params)


def _fixed_point(params: dict, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Iterative refinement until converged: h = tanh(h W + x U) until no element moves by more than
    1e-5, at most 60 iterations (the guard in the cond). The trip count depends on the data (a
    contraction: W is scaled small), so it stays a while_loop. Returns the state and the count."""
    drive = x @ params["u"]

    def moving(state):
        _, change, count = state
        return (change > 1e-5) & (count < 60)

    def refine(state):
        h, _, count = state
        new = jnp.tanh(h @ params["w"] + drive)
        return new, jnp.max(jnp.abs(new - h)), count + 1

    h, _, count = lax.while_loop(moving, refine, (jnp.zeros_like(drive), jnp.float32(1.0), jnp.int32(0)))
    return h @ params["v"], count


def _build_fixed_point(seed: int) -> Built:
    rng = np.random.default_rng(seed)
    params = {"u": normal(rng, (12, 10)), "w": normal(rng, (10, 10), 0.15), "v": normal(rng, (10, 3))}
    return function_built(_fixed_point, params)


def _gated_heads(params: dict, x: jax.Array) -> jax.Array:
    """lax.cond on the batch's mean activation: a deep tanh head or a shallow linear one."""
    h = x @ params["w1"]

    def deep(z):
        return jnp.tanh(z) @ params["w2"]

    def shallow(z):
        return z @ params["w3"] * 0.5

    return lax.cond(jnp.mean(h) > 0.0, deep, shallow, h)


def _build_gated(seed: int) -> Built:
    rng = np.random.default_rng(seed)
    params = {"w1": normal(rng, (12, 8)), "w2": normal(rng, (8, 4)), "w3": normal(rng, (8, 4))}
    return function_built(_gated_heads, params)


for _entry in (
    ZooEntry(
        name="lstm_sequence_linen",
        style="linen",
        description="linen nn.RNN(nn.LSTMCell(32)) over 16 steps of 8 features, Dense(5) on the last step (scan)",
        tags=("scan", "sigmoid", "tanh"),
        input=SEQUENCE,
        build=lambda seed: linen_built(LstmClassifier(), SEQUENCE, seed),
    ),
    ZooEntry(
        name="gru_sequence_nnx",
        style="nnx",
        description="nnx.RNN(nnx.GRUCell(8, 24)) over 16 steps (nnx.scan), final carry → Linear(3)",
        tags=("scan", "sigmoid", "tanh"),
        input=SEQUENCE,
        build=_build_gru,
    ),
    ZooEntry(
        name="bilstm_tagger_linen",
        style="linen",
        description="linen nn.Bidirectional LSTM (16 each way) over 16 steps, a log_softmax tag per step",
        tags=("scan", "bidirectional", "log_softmax"),
        input=SEQUENCE,
        build=lambda seed: linen_built(BiLstmTagger(), SEQUENCE, seed),
    ),
    ZooEntry(
        name="fori_residual_jax",
        style="jax",
        description="pure-JAX 12-16-4 with six residual tanh steps of a shared layer in lax.fori_loop(0, 6)",
        tags=("fori_loop", "tanh", "residual"),
        input=FEATURES,
        build=_build_fori,
    ),
    ZooEntry(
        name="fixed_point_while_jax",
        style="jax",
        description="pure-JAX iterative refinement h = tanh(hW + xU) in lax.while_loop until converged (max 60)",
        tags=("while_loop", "tanh", "multi_output", "int_output"),
        input=FEATURES,
        build=_build_fixed_point,
    ),
    ZooEntry(
        name="gated_heads_jax",
        style="jax",
        description="pure-JAX lax.cond on the batch's mean activation: tanh head or linear head",
        tags=("cond", "tanh"),
        input=FEATURES,
        build=_build_gated,
    ),
):
    register(_entry)
