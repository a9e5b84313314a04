"""Generative models: VAE decoders that sample with a fixed PRNG key, folded at conversion.

`z = mu + exp(logvar / 2) * noise` with `noise = jax.random.normal(jax.random.key(42), shape)`: the
key and the noise depend on no input, so the converter evaluates them once in JAX
(lowering/folding.py) and the export holds the noise as a constant, JAX's values bit for bit. Noise
of a shape that depends on the dynamic batch could not be drawn at conversion, so each entry states
which way it avoids that: a static batch, or noise of one example's shape broadcast over the batch.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import nnx

from bench.zoo.forms import linen_built, nnx_built
from bench.zoo.registry import InputSpec, ZooEntry, register

LATENT = 8
IMAGE_SIDE = 8
NOISE_KEY = 42
# A static batch of 4: the noise has mu's full shape (4, 8), one draw per row, as in training.
POSTERIOR = (InputSpec((4, LATENT), name="mu"), InputSpec((4, LATENT), name="logvar"))
IMAGE = InputSpec((1, IMAGE_SIDE, IMAGE_SIDE, 1))


class VaeDecoder(nnx.Module):
    """Samples z from N(mu, exp(logvar)) with a fixed key and decodes it to an 8x8 image."""

    def __init__(self, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(LATENT, 32, rngs=rngs)
        self.pixels = nnx.Linear(32, IMAGE_SIDE * IMAGE_SIDE, rngs=rngs)

    def __call__(self, mu: jax.Array, logvar: jax.Array) -> jax.Array:
        noise = jax.random.normal(jax.random.key(NOISE_KEY), mu.shape)
        z = mu + jnp.exp(0.5 * logvar) * noise
        h = nnx.relu(self.hidden(z))
        return nnx.sigmoid(self.pixels(h)).reshape(mu.shape[0], IMAGE_SIDE, IMAGE_SIDE)


class Vae(nn.Module):
    """Encoder (image → mu, logvar), the reparameterised sample, decoder (z → image)."""

    @nn.compact
    def __call__(self, image: jax.Array) -> jax.Array:
        h = nn.tanh(nn.Dense(32)(image.reshape(image.shape[0], -1)))
        mu, logvar = nn.Dense(LATENT)(h), nn.Dense(LATENT)(h)
        # One example's noise, broadcast over the dynamic batch: its shape is static, so it folds.
        noise = jax.random.normal(jax.random.key(NOISE_KEY), (LATENT,))
        z = mu + jnp.exp(0.5 * logvar) * noise
        h = nn.relu(nn.Dense(32)(z))
        return nn.sigmoid(nn.Dense(IMAGE_SIDE * IMAGE_SIDE)(h)).reshape(image.shape)


register(
    ZooEntry(
        name="vae_decoder_nnx",
        style="nnx",
        description=(
            "nnx VAE decoder: z = mu + exp(logvar/2) * normal(key(42), mu.shape), Dense 8-32-64, sigmoid, "
            "an 8x8 image; static batch 4 (dynamic_batch=False), so the noise has a static shape and folds"
        ),
        tags=("fixed_key", "static_batch", "multi_input", "sigmoid", "mlp"),
        input=POSTERIOR,
        build=lambda seed: nnx_built(VaeDecoder, seed),
        dynamic_batch=False,
    )
)
register(
    ZooEntry(
        name="vae_linen",
        style="linen",
        description=(
            "linen VAE, image → encoder → mu, logvar → z = mu + exp(logvar/2) * noise → decoder → image; "
            "dynamic batch: the noise is normal(key(42), (8,)), one example's, broadcast over the batch"
        ),
        tags=("fixed_key", "mlp", "tanh", "sigmoid"),
        input=IMAGE,
        build=lambda seed: linen_built(Vae(), IMAGE, seed),
    )
)
