"""The model registry: one interface over pure JAX, Flax linen and Flax nnx."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jax2tfjs import models
from jax2tfjs.errors import UnknownModelError


@pytest.mark.parametrize("name", models.model_names())
def test_every_model_maps_a_batch_of_digits_to_ten_logits(name):
    model = models.get_model(name)
    params = model.init(jax.random.key(0))
    logits = jax.jit(model.apply)(params, jnp.ones((5, *model.input_shape)))
    assert logits.shape == (5, 10) and logits.dtype == jnp.float32
    assert model.input_spec() == {"shape": [None, 28, 28, 1], "dtype": "float32", "range": [0.0, 1.0]}
    assert model.labels == tuple("0123456789")


def test_registry_has_each_style_and_the_makefile_aliases():
    styles = {models.get_model(n).style for n in models.model_names()}
    assert styles == {"jax", "flax_linen", "flax_nnx"}
    assert models.get_model("jax").name == "jax_cnn"
    assert models.get_model("flax").name == "flax_cnn"
    assert models.get_model("mlp").name == "flax_mlp"


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(UnknownModelError, match="no model named 'resnet'") as err:
        models.get_model("resnet")
    assert "flax_cnn" in err.value.fix and "jax (= jax_cnn)" in err.value.fix


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="registered twice"):
        models.register("jax_cnn")(lambda: None)


def test_pure_jax_and_flax_cnns_are_the_same_function():
    jax_cnn, flax_cnn = models.get_model("jax_cnn"), models.get_model("flax_cnn")
    params = jax_cnn.init(jax.random.key(1))
    renamed = {"Conv_0": "conv0", "Conv_1": "conv1", "Dense_0": "dense0", "Dense_1": "dense1"}
    flax_params = {flax_name: params[ours] for flax_name, ours in renamed.items()}
    x = jax.random.uniform(jax.random.key(2), (4, 28, 28, 1))
    np.testing.assert_allclose(jax_cnn.apply(params, x), flax_cnn.apply(flax_params, x), rtol=1e-5, atol=1e-5)


def test_init_is_deterministic_in_the_seed():
    model = models.get_model("flax_mlp")
    a, b, c = (model.init(jax.random.key(s)) for s in (0, 0, 1))
    assert all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(c), strict=True))
