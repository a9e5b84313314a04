"""`flax_cnn`: the MNIST CNN as a Flax linen module (the style of Flax's own MNIST example).

Params are the linen variables' `params` collection: {'Conv_0': {'kernel', 'bias'}, ...}.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from jax2tfjs.models.cnn_config import CNNConfig
from jax2tfjs.models.registry import ModelDef, register


class CNN(nn.Module):
    config: CNNConfig

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.config.kernel_size
        for features in self.config.conv_features:
            x = nn.Conv(features=features, kernel_size=(k, k))(x)
            x = nn.avg_pool(nn.relu(x), window_shape=(2, 2), strides=(2, 2))
        x = x.reshape((x.shape[0], -1))
        x = nn.relu(nn.Dense(features=self.config.dense_features)(x))
        return nn.Dense(features=self.config.num_classes)(x)


@register("flax_cnn")
def build() -> ModelDef:
    config = CNNConfig()
    module = CNN(config)
    return ModelDef(
        name="flax_cnn",
        style="flax_linen",
        description="CNN as a Flax linen module",
        config=config,
        init=lambda rng: module.init(rng, jax.numpy.zeros((1, 28, 28, 1)))["params"],
        apply=lambda params, x: module.apply({"params": params}, x),
    )
