"""Wrap a freshly initialised model in the form `to_tensorflowjs` takes, with JAX's reference pass.

One helper per style, so every zoo file builds its models the same way: seeded init, non-trivial
norm statistics and biases (`weights.perturb`), and a reference that runs in inference mode.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import nnx

from bench.zoo.registry import Built, InputSpec
from bench.zoo.weights import perturb, perturb_nnx


@functools.partial(jax.jit, static_argnums=(0, 1, 3))
def _init(module: nn.Module, kwargs: tuple, key: jax.Array, spec: jax.ShapeDtypeStruct) -> Any:
    """One compiled init instead of an eager dispatch per initializer op (several times faster
    here), cached across builds: linen modules hash by their fields."""
    return module.init(key, jnp.zeros(spec.shape, spec.dtype), **dict(kwargs))


def linen_built(module: nn.Module, spec: InputSpec, seed: int, **apply_kwargs: Any) -> Built:
    """Init `module` on a zero input of `spec` and redraw its norm statistics and biases."""
    variables = _init(module, tuple(sorted(apply_kwargs.items())), jax.random.key(seed), spec.struct())
    variables = perturb(variables, seed + 1)
    return Built(
        model=module,
        params=variables,
        reference=jax.jit(lambda x: module.apply(variables, x, **apply_kwargs)),
        apply_kwargs=apply_kwargs or None,
    )


def nnx_built(make: Callable[[nnx.Rngs], nnx.Module], seed: int) -> Built:
    """Build with `make(rngs)`, redraw statistics and biases; the reference is an eval-mode clone
    (BatchNorm on running averages, Dropout off), the module itself is handed over as built."""
    module = perturb_nnx(make(nnx.Rngs(seed)), seed + 1)
    reference = nnx.clone(module)
    reference.eval()
    graphdef, state = nnx.split(reference)
    return Built(model=module, params=None, reference=jax.jit(lambda x: nnx.merge(graphdef, state)(x)))


def function_built(fn: Callable[[Any, jax.Array], jax.Array], params: Any) -> Built:
    """`fn(params, x)` with `params` as JAX arrays (numpy arrays cannot be indexed by a tracer)."""
    params = jax.tree.map(jnp.asarray, params)
    return Built(model=fn, params=params, reference=jax.jit(lambda x: fn(params, x)))
