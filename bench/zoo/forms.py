"""Wrap a freshly initialised model in the form `to_tensorflowjs` takes, with JAX's reference pass.

One helper per style, so every zoo file builds its models the same way: seeded init, non-trivial
norm statistics and biases (`weights.perturb`), and a reference that runs in inference mode. Every
reference takes the entry's inputs in their own structure and calls the model in its own call form
(`registry.call_with`): one array, positional arguments, or keywords.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import nnx

from bench.zoo.registry import Built, InputSpec, call_with
from bench.zoo.weights import perturb, perturb_nnx


@functools.partial(jax.jit, static_argnums=(0, 1))
def _init(module: nn.Module, kwargs: tuple, key: jax.Array, inputs: Any) -> Any:
    """One compiled init instead of an eager dispatch per initializer op (several times faster
    here), cached across builds: linen modules hash by their fields, inputs by shape and dtype."""
    return call_with(functools.partial(module.init, key, **dict(kwargs)), inputs)


def _zeros(spec: Any) -> Any:
    """Zeros in the input pytree's structure (InputSpec leaves)."""
    return jax.tree.map(
        lambda s: jnp.zeros(s.shape, s.dtype), spec, is_leaf=lambda s: isinstance(s, InputSpec)
    )


def linen_built(module: nn.Module, spec: Any, seed: int, **apply_kwargs: Any) -> Built:
    """Init `module` on zero inputs of `spec` (one InputSpec or the entry's input pytree) and redraw
    its norm statistics and biases. `apply_kwargs` go to init and apply (flags, `method=`)."""
    variables = _init(module, tuple(sorted(apply_kwargs.items())), jax.random.key(seed), _zeros(spec))
    variables = perturb(variables, seed + 1)
    return Built(
        model=module,
        params=variables,
        reference=jax.jit(
            lambda inputs: call_with(functools.partial(module.apply, variables, **apply_kwargs), inputs)
        ),
        apply_kwargs=apply_kwargs or None,
    )


def nnx_built(make: Callable[[nnx.Rngs], nnx.Module], seed: int, **call_kwargs: Any) -> Built:
    """Build with `make(rngs)`, redraw statistics and biases; the reference is an eval-mode clone
    (BatchNorm on running averages, Dropout off), the module itself is handed over as built.
    `call_kwargs` are the call's extra arguments (`rngs=None`): the converter gets them as
    apply_kwargs, the reference passes them to its own call."""
    module = perturb_nnx(make(nnx.Rngs(seed)), seed + 1)
    reference = nnx.clone(module)
    reference.eval()
    graphdef, state = nnx.split(reference)
    return Built(
        model=module,
        params=None,
        reference=jax.jit(
            lambda inputs: call_with(functools.partial(nnx.merge(graphdef, state), **call_kwargs), inputs)
        ),
        apply_kwargs=call_kwargs or None,
    )


def function_built(fn: Callable[..., Any], params: Any) -> Built:
    """`fn(params, *inputs)` with `params` as JAX arrays (numpy arrays cannot be indexed by a tracer)."""
    params = jax.tree.map(jnp.asarray, params)
    return Built(
        model=fn,
        params=params,
        reference=jax.jit(lambda inputs: call_with(functools.partial(fn, params), inputs)),
    )
