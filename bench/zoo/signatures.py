"""Models whose signature is more than one image in, one array out (issue 14): several named inputs
and outputs, output objects, scalars, a static batch, int and bool outputs, an RNN cell, keyword-only
inputs and call arguments. Each is converted in its own call form (no wrapper lambda): the entry's
input pytree is the call's structure (a tuple: positional; a dict: keywords), and the names in each
InputSpec are the names the export must give its inputs (the call's argument names, dict keys)."""

from __future__ import annotations

from typing import NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn
from flax import nnx

from bench.zoo.forms import function_built, linen_built, nnx_built
from bench.zoo.registry import Built, InputSpec, ZooEntry, boolean, register, tokens, uniform
from bench.zoo.weights import normal

VOCAB, SEQ, WIDTH = 32, 8, 16


def padding_mask(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """A Hugging Face style attention mask: int32 ones for each row's first 2..seq tokens, zeros after."""
    lengths = rng.integers(2, shape[1] + 1, shape[0])
    return (np.arange(shape[1])[None, :] < lengths[:, None]).astype(np.int32)


# ids and mask share the dynamic sequence length: one export serves every text length.
TEXT = {
    "input_ids": InputSpec((1, SEQ), "int32", tokens(VOCAB, 0.0), name="input_ids", dims=("b", "seq")),
    "attention_mask": InputSpec((1, SEQ), "int32", padding_mask, name="attention_mask", dims=("b", "seq")),
}
IDS = InputSpec((1, SEQ), "int32", tokens(VOCAB, 0.0), name="input", dims=("b", "seq"))


class BertEncoder(nn.Module):
    """BERT's shape: token + position embeddings, LayerNorm, one post-norm block whose attention is
    masked by `attention_mask`, a tanh pooler over the first token; a dict of the two outputs."""

    heads: int = 2

    @nn.compact
    def __call__(self, input_ids: jax.Array, attention_mask: jax.Array, train: bool = False) -> dict:
        positions = jnp.arange(input_ids.shape[1])[None, :]
        x = nn.Embed(VOCAB, WIDTH)(input_ids) + nn.Embed(4 * SEQ, WIDTH)(positions)
        x = nn.LayerNorm()(x)
        keep = attention_mask > 0
        attended = nn.MultiHeadDotProductAttention(num_heads=self.heads, dropout_rate=0.1)(
            x, x, mask=nn.make_attention_mask(keep, keep), deterministic=not train
        )
        x = nn.LayerNorm()(x + attended)
        hidden = nn.gelu(nn.Dense(2 * WIDTH)(x), approximate=False)
        x = nn.LayerNorm()(x + nn.Dropout(0.1, deterministic=not train)(nn.Dense(WIDTH)(hidden)))
        return {"last_hidden_state": x, "pooler_output": jnp.tanh(nn.Dense(WIDTH)(x[:, 0]))}


class GptDecoder(nnx.Module):
    """GPT's shape: token + position embeddings, one pre-norm block with causal self-attention and
    a tanh-GELU MLP, a final LayerNorm and logits from the tied token embedding."""

    def __init__(self, rngs: nnx.Rngs, heads: int = 2):
        self.tokens = nnx.Embed(VOCAB, WIDTH, rngs=rngs)
        self.positions = nnx.Embed(4 * SEQ, WIDTH, rngs=rngs)
        self.norm1 = nnx.LayerNorm(WIDTH, rngs=rngs)
        self.attention = nnx.MultiHeadAttention(
            num_heads=heads, in_features=WIDTH, dropout_rate=0.1, decode=False, rngs=rngs
        )
        self.norm2 = nnx.LayerNorm(WIDTH, rngs=rngs)
        self.up = nnx.Linear(WIDTH, 4 * WIDTH, rngs=rngs)
        self.down = nnx.Linear(4 * WIDTH, WIDTH, rngs=rngs)
        self.final = nnx.LayerNorm(WIDTH, rngs=rngs)

    def __call__(self, ids: jax.Array) -> jax.Array:
        x = self.tokens(ids) + self.positions(jnp.arange(ids.shape[1]))[None]
        h = self.norm1(x)
        x = x + self.attention(h, h, h, mask=nnx.make_causal_mask(ids))
        x = x + self.down(nnx.gelu(self.up(self.norm2(x)), approximate=True))
        return self.tokens.attend(self.final(x))


@flax.struct.dataclass
class EncoderOutput:
    """An output object in the style of Hugging Face's: the export names its outputs by field."""

    last_hidden_state: jax.Array
    pooler_output: jax.Array


PATCH = 4
IMAGE = InputSpec((1, 8, 8, 3))


class TinyViT(nn.Module):
    """ViT's shape: 4×4 patches by a strided conv, a class token broadcast over the batch, learned
    positions, one pre-norm block, a final LayerNorm; the class token pooled through tanh."""

    heads: int = 2

    @nn.compact
    def __call__(self, pixels: jax.Array) -> EncoderOutput:
        patches = nn.Conv(WIDTH, (PATCH, PATCH), strides=(PATCH, PATCH), padding="VALID")(pixels)
        patches = patches.reshape(patches.shape[0], -1, WIDTH)
        cls = self.param("cls", nn.initializers.normal(0.5), (1, 1, WIDTH))
        x = jnp.concatenate([jnp.broadcast_to(cls, (patches.shape[0], 1, WIDTH)), patches], axis=1)
        x = x + self.param("positions", nn.initializers.normal(0.5), (1, x.shape[1], WIDTH))
        h = nn.LayerNorm()(x)
        x = x + nn.MultiHeadDotProductAttention(num_heads=self.heads)(h, h)
        x = x + nn.Dense(WIDTH)(nn.gelu(nn.Dense(2 * WIDTH)(nn.LayerNorm()(x)), approximate=False))
        x = nn.LayerNorm()(x)
        return EncoderOutput(last_hidden_state=x, pooler_output=jnp.tanh(nn.Dense(WIDTH)(x[:, 0])))


class TinyResNet(nnx.Module):
    """ResNet's shape: stem conv + BatchNorm, one stride-2 block with a projection shortcut; the
    last feature map and its spatial mean as an output object (FlaxResNetModel's two fields)."""

    def __init__(self, rngs: nnx.Rngs):
        self.stem = nnx.Conv(3, 8, (3, 3), use_bias=False, rngs=rngs)
        self.stem_norm = nnx.BatchNorm(8, rngs=rngs)
        self.conv1 = nnx.Conv(8, 16, (3, 3), strides=2, use_bias=False, rngs=rngs)
        self.norm1 = nnx.BatchNorm(16, rngs=rngs)
        self.conv2 = nnx.Conv(16, 16, (3, 3), use_bias=False, rngs=rngs)
        self.norm2 = nnx.BatchNorm(16, rngs=rngs)
        self.project = nnx.Conv(8, 16, (1, 1), strides=2, use_bias=False, rngs=rngs)
        self.project_norm = nnx.BatchNorm(16, rngs=rngs)

    def __call__(self, pixels: jax.Array) -> EncoderOutput:
        x = nnx.relu(self.stem_norm(self.stem(pixels)))
        y = self.norm2(self.conv2(nnx.relu(self.norm1(self.conv1(x)))))
        x = nnx.relu(self.project_norm(self.project(x)) + y)
        return EncoderOutput(last_hidden_state=x, pooler_output=x.mean(axis=(1, 2)))


CELL, STEP = 8, 4
# LSTMCell(carry, inputs) with carry = (c, h): a nested tuple, so the names are path-joined.
LSTM_INPUTS = (
    (InputSpec((1, CELL), name="carry_0"), InputSpec((1, CELL), name="carry_1")),
    InputSpec((1, STEP), name="inputs"),
)


class Policy(NamedTuple):
    logits: jax.Array
    value: jax.Array


OBSERVATION = InputSpec((1, 6))


def _actor_critic(params: dict, observation: jax.Array) -> Policy:
    """A shared tanh torso, a policy head and a value head, returned as a NamedTuple."""
    h = jnp.tanh(observation @ params["torso"] + params["torso_b"])
    return Policy(logits=h @ params["actor"], value=(h @ params["critic"])[:, 0])


def _build_actor_critic(seed: int) -> Built:
    rng = np.random.default_rng(seed)
    params = {
        "torso": normal(rng, (6, 16)),
        "torso_b": normal(rng, (16,), 0.2),
        "actor": normal(rng, (16, 4)),
        "critic": normal(rng, (16, 1)),
    }
    return function_built(_actor_critic, params)


TEMPERATURE_INPUTS = (
    InputSpec((1, 6), name="x"),
    InputSpec((), sample=uniform(0.5, 2.0), name="temperature"),  # rank 0: one value for the batch
)


def _tempered(params: dict, x: jax.Array, temperature: jax.Array) -> jax.Array:
    """Softmax of logits divided by a scalar temperature the caller chooses at run time."""
    return jax.nn.softmax((x @ params["w"] + params["b"]) / temperature)


def _build_tempered(seed: int) -> Built:
    rng = np.random.default_rng(seed)
    return function_built(_tempered, {"w": normal(rng, (6, 5), 1.0), "b": normal(rng, (5,), 0.2)})


PAIRS = InputSpec((6, 8))  # static: 6 rows, 3 pairs; the zoo must feed exactly 6


class PairDistance(nn.Module):
    """Siamese pairs laid out along the batch: rows 2i and 2i+1 are one pair. The code reshapes by
    dim 0 (`x.shape[0] // 2`), which only a static batch allows."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        h = nn.Dense(8)(nn.tanh(nn.Dense(12)(x)))
        pairs = h.reshape(x.shape[0] // 2, 2, h.shape[-1])
        return jnp.sqrt(jnp.sum(jnp.square(pairs[:, 0] - pairs[:, 1]), axis=-1) + 1e-6)


FEATURES = InputSpec((1, 10))


def _classify(params: dict, x: jax.Array) -> dict:
    """Probabilities, the predicted class (argmax: int32) and whether the top class clears 0.5
    (bool): three outputs of three dtypes."""
    probs = jax.nn.softmax(jnp.tanh(x @ params["w1"]) @ params["w2"])
    return {"probs": probs, "label": jnp.argmax(probs, axis=-1), "confident": probs.max(axis=-1) > 0.5}


def _build_classify(seed: int) -> Built:
    rng = np.random.default_rng(seed)
    return function_built(_classify, {"w1": normal(rng, (10, 16)), "w2": normal(rng, (16, 4), 1.0)})


class NoisyHead(nnx.Module):
    """An nnx classifier whose call takes the dropout randomness as a required keyword (`rngs`), as
    nnx code does; inference passes rngs=None (apply_kwargs) and runs dropout off."""

    def __init__(self, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(10, 16, rngs=rngs)
        self.drop = nnx.Dropout(0.3, rngs=rngs)
        self.out = nnx.Linear(16, 3, rngs=rngs)

    def __call__(self, x: jax.Array, *, rngs: nnx.Rngs | None) -> jax.Array:
        return self.out(self.drop(nnx.silu(self.hidden(x)), rngs=rngs))


# Keyword-only inputs: the dict keys are the call's keyword names (inputs=..., padding_mask=...).
KEYWORD_INPUTS = {
    "inputs": InputSpec((1, 6, 4), name="inputs"),
    "padding_mask": InputSpec((1, 6), "bool", boolean(0.7), name="padding_mask"),
}


class MaskedPooler(nnx.Module):
    """Keyword-only `inputs` and a bool `padding_mask`: project, mean over kept steps, classify."""

    def __init__(self, rngs: nnx.Rngs):
        self.project = nnx.Linear(4, 8, rngs=rngs)
        self.out = nnx.Linear(8, 3, rngs=rngs)

    def __call__(self, *, inputs: jax.Array, padding_mask: jax.Array) -> jax.Array:
        keep = padding_mask.astype(jnp.float32)[..., None]
        pooled = (nnx.gelu(self.project(inputs)) * keep).sum(1) / jnp.maximum(keep.sum(1), 1.0)
        return self.out(pooled)


# The signature entries, in the order the acceptance lists them (the test runs all of them).
ENTRIES: tuple[ZooEntry, ...] = (
    ZooEntry(
        name="bert_encoder_linen",
        style="linen",
        description="linen BERT-style encoder: input_ids + attention_mask (int32, dynamic seq) as keywords → dict of last_hidden_state and pooler_output",
        tags=(
            "multi_input",
            "multi_output",
            "dynamic_seq",
            "attention",
            "multi_head",
            "mask",
            "embedding",
            "int32_input",
            "layernorm",
            "residual",
            "dropout",
            "gelu_exact",
            "tanh",
        ),
        input=TEXT,
        build=lambda seed: linen_built(BertEncoder(), TEXT, seed, train=False),
    ),
    ZooEntry(
        name="gpt_decoder_nnx",
        style="nnx",
        description="nnx GPT-style decoder: ids (dynamic seq) → logits; causal attention, tanh-GELU MLP, tied embedding head",
        tags=(
            "dynamic_seq",
            "attention",
            "multi_head",
            "mask",
            "embedding",
            "int32_input",
            "layernorm",
            "residual",
            "gelu_approx",
        ),
        input=IDS,
        build=lambda seed: nnx_built(GptDecoder, seed),
    ),
    ZooEntry(
        name="vit_output_linen",
        style="linen",
        description="linen ViT: 4×4 patch conv, class token, positions, pre-norm block → EncoderOutput(last_hidden_state, pooler_output)",
        tags=(
            "output_object",
            "multi_output",
            "cnn",
            "strides",
            "attention",
            "multi_head",
            "layernorm",
            "residual",
            "gelu_exact",
        ),
        input=IMAGE,
        build=lambda seed: linen_built(TinyViT(), IMAGE, seed),
    ),
    ZooEntry(
        name="resnet_output_nnx",
        style="nnx",
        description="nnx ResNet: stem + stride-2 block with projection, BatchNorm → EncoderOutput(feature map, pooled)",
        tags=("output_object", "multi_output", "cnn", "strides", "batchnorm", "residual", "mean_pool"),
        input=IMAGE,
        build=lambda seed: nnx_built(TinyResNet, seed),
    ),
    ZooEntry(
        name="lstm_cell_linen",
        style="linen",
        description="flax nn.LSTMCell(8): ((c, h), x) positional → ((c', h'), y)",
        tags=("rnn_cell", "multi_input", "multi_output", "sigmoid", "tanh"),
        input=LSTM_INPUTS,
        build=lambda seed: linen_built(nn.LSTMCell(features=CELL), LSTM_INPUTS, seed),
    ),
    ZooEntry(
        name="actor_critic_jax",
        style="jax",
        description="pure-JAX actor-critic: observation → Policy(logits, value), a NamedTuple",
        tags=("multi_output", "mlp", "tanh"),
        input=OBSERVATION,
        build=_build_actor_critic,
    ),
    ZooEntry(
        name="temperature_scalar_jax",
        style="jax",
        description="pure-JAX fn(params, x, temperature): softmax(logits / temperature), temperature rank 0",
        tags=("scalar_input", "multi_input", "softmax"),
        input=TEMPERATURE_INPUTS,
        build=_build_tempered,
    ),
    ZooEntry(
        name="pair_distance_static_linen",
        style="linen",
        description="linen siamese distance over row pairs: reshapes by x.shape[0] // 2, so exported with dynamic_batch=False (batch 6)",
        tags=("static_batch", "mlp", "tanh"),
        input=PAIRS,
        build=lambda seed: linen_built(PairDistance(), PAIRS, seed),
        dynamic_batch=False,
    ),
    ZooEntry(
        name="classify_int_bool_jax",
        style="jax",
        description="pure-JAX classifier → dict of probs (float32), label (argmax, int32) and confident (bool)",
        tags=("int_output", "bool_output", "multi_output", "softmax", "tanh"),
        input=FEATURES,
        build=_build_classify,
    ),
    ZooEntry(
        name="dropout_rngs_nnx",
        style="nnx",
        description="nnx classifier whose call needs rngs= (keyword-only, no default): apply_kwargs {'rngs': None}",
        tags=("nnx_rngs", "dropout", "silu", "mlp"),
        input=FEATURES,
        build=lambda seed: nnx_built(NoisyHead, seed, rngs=None),
    ),
    ZooEntry(
        name="keyword_pooler_nnx",
        style="nnx",
        description="nnx module called with keyword-only inputs=… and a bool padding_mask=…: masked mean, classifier",
        tags=("keyword_input", "multi_input", "bool_input", "mask", "mean_pool", "gelu_exact"),
        input=KEYWORD_INPUTS,
        build=lambda seed: nnx_built(MaskedPooler, seed),
    ),
)
for _entry in ENTRIES:
    register(_entry)
