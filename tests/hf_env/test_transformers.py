"""Hugging Face transformers Flax models, converted in their own call form and run in real TF.js.

Each model is built in code from a tiny random config (nothing is downloaded: conftest.py sets the
offline switches) and handed to `to_tensorflowjs` as the model object itself, with its own inputs by
keyword (input_ids, attention_mask, pixel_values, ...). The converter calls it as
`model(**inputs, params=model.params, train=False)` and names the outputs by the fields of its output
object (last_hidden_state, pooler_output). Each export is fed by input name in TF.js on cpu and wasm
and must match JAX within 1e-4 relative per output.

Measured (2 cores, transformers 4.57.6, jax 0.10.2): each tiny model converts in 7-25 s; the file
runs in about 2.5 minutes. The text models are the case where two inputs share dtype and shape
(input_ids, attention_mask): tensorflowjs 4.22 alone keys those by tensor name ("input_ids:0") in
model.json, and TF.js can feed them by name only because the converter re-keys its signature.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import transformers

from jax2tfjs.api import to_tensorflowjs
from jax2tfjs.compare import compare_named
from jax2tfjs.errors import Jax2TfjsError
from jax2tfjs.export import golden as golden_file
from jax2tfjs.tfjs_runtime import run_in_tfjs

BACKENDS = ("cpu", "wasm")
# Relative, per output, on compare's scale max(1, max|reference|): random tiny models' pooled
# outputs are ~0.05, so those are judged in absolute terms (a 0.1% error there passes; 10% fails).
TOLERANCE = 1e-4
VOCAB, SEQ, IMAGE = 64, 8, 32
TEXT = {"vocab_size": VOCAB, "max_position_embeddings": 64}
ENCODER = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
VISION = {"image_size": IMAGE, "patch_size": 8, "num_channels": 3, **ENCODER}


def _text_inputs(
    rng: np.random.Generator, names: tuple[str, ...], batch: int, seq: int
) -> dict[str, np.ndarray]:
    """Real-looking text inputs: ids over the whole vocabulary, a padded second row (so the mask
    matters), and two segments for token_type_ids."""
    mask = np.ones((batch, seq), np.int32)
    mask[-1, seq - 3 :] = 0
    inputs = {
        "input_ids": rng.integers(0, VOCAB, (batch, seq)).astype(np.int32),
        "attention_mask": mask,
        "token_type_ids": np.broadcast_to(np.arange(seq) >= seq // 2, (batch, seq)).astype(np.int32),
    }
    return {name: inputs[name] for name in names}


def _image_inputs(rng: np.random.Generator, batch: int) -> dict[str, np.ndarray]:
    return {"pixel_values": rng.standard_normal((batch, 3, IMAGE, IMAGE)).astype(np.float32)}


@dataclass(frozen=True)
class Case:
    """One model: how to build it, the keyword inputs it takes, and the outputs its object has."""

    name: str
    build: Callable[[], Any]
    inputs: tuple[str, ...]  # the call's keyword arguments exported
    outputs: tuple[str, ...]  # the output object's fields, in their order
    # golden.json's inputs, where the converter's own draw does not suit the model (see BERT).
    own_golden: bool = False

    def spec(self) -> dict[str, jax.ShapeDtypeStruct]:
        if self.inputs == ("pixel_values",):
            return {"pixel_values": jax.ShapeDtypeStruct((1, 3, IMAGE, IMAGE), jnp.float32)}
        return {name: jax.ShapeDtypeStruct((1, SEQ), jnp.int32) for name in self.inputs}

    def sample(self, batch: int = 2, seq: int = SEQ) -> dict[str, np.ndarray]:
        """The same inputs for the same shape, whichever tests run (-k) and in whatever order."""
        rng = np.random.default_rng([batch, seq])
        if self.inputs == ("pixel_values",):
            return _image_inputs(rng, batch)
        return _text_inputs(rng, self.inputs, batch, seq)


def _bert():
    # type_vocab_size 2, as every released BERT: token_type_ids are 0 or 1.
    return transformers.FlaxBertModel(transformers.BertConfig(**TEXT, **ENCODER, type_vocab_size=2), seed=0)


def _distilbert():
    config = transformers.DistilBertConfig(**TEXT, dim=32, n_layers=2, n_heads=2, hidden_dim=64)
    return transformers.FlaxDistilBertModel(config, seed=0)


def _gpt2():
    config = transformers.GPT2Config(vocab_size=VOCAB, n_positions=64, n_embd=32, n_layer=2, n_head=2)
    return transformers.FlaxGPT2Model(config, seed=0)


def _vit(seed: int = 0):
    return transformers.FlaxViTModel(transformers.ViTConfig(**VISION), seed=seed)


def _resnet():
    config = transformers.ResNetConfig(
        num_channels=3, embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1]
    )
    return transformers.FlaxResNetModel(config, seed=0)


def _clip_vision():
    return transformers.FlaxCLIPVisionModel(transformers.CLIPVisionConfig(**VISION), seed=0)


POOLED = ("last_hidden_state", "pooler_output")
TEXT_INPUTS = ("input_ids", "attention_mask")
CASES = (
    Case("bert", _bert, (*TEXT_INPUTS, "token_type_ids"), POOLED, own_golden=True),
    Case("distilbert", _distilbert, TEXT_INPUTS, ("last_hidden_state",)),
    Case("gpt2", _gpt2, TEXT_INPUTS, ("last_hidden_state",)),
    Case("vit", _vit, ("pixel_values",), POOLED),
    Case("resnet", _resnet, ("pixel_values",), POOLED),
    Case("clip_vision", _clip_vision, ("pixel_values",), POOLED),
)


def _reference(model: Any, inputs: dict[str, np.ndarray], params: Any = None) -> dict[str, np.ndarray]:
    """JAX's outputs by field name, from the model's own call (its own params unless given)."""
    found = model(**{name: jnp.asarray(x) for name, x in inputs.items()}, params=params, train=False)
    return {name: np.asarray(value) for name, value in found.items()}


@dataclass(frozen=True)
class Converted:
    model: Any
    report: Any
    out_dir: Path


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Callable[[Case], Converted]:
    """Each model converted once for the module (its tests share the export): the model object
    itself, its params left to default."""
    done: dict[str, Converted | Jax2TfjsError] = {}

    def convert(case: Case) -> Converted:
        if case.name not in done:
            model = case.build()
            out_dir = tmp_path_factory.mktemp(case.name) / "export"
            try:
                report = to_tensorflowjs(
                    model,
                    input_spec=case.spec(),
                    golden_inputs=case.sample(batch=3) if case.own_golden else None,
                    out_dir=out_dir,
                    progress=False,
                )
                done[case.name] = Converted(model, report, out_dir)
            except Jax2TfjsError as err:  # a failed conversion fails each of its tests, once
                done[case.name] = err
        if isinstance(done[case.name], Jax2TfjsError):
            raise done[case.name]
        return done[case.name]

    return convert


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_own_call_form_inputs_and_output_fields(converted, case):
    export = converted(case)
    signature = export.report.signature
    assert export.report.form == "hf_flax"
    # Inputs by the call's own argument names (a dict spec flattens in sorted key order), batch dynamic.
    assert [t["name"] for t in signature["inputs"]] == sorted(case.inputs)
    for tensor in signature["inputs"]:
        want = ["b", 3, IMAGE, IMAGE] if case.inputs == ("pixel_values",) else ["b", SEQ]
        assert tensor["dims"] == want, tensor
    # Outputs by the output object's fields, as the model itself returns them.
    assert [t["name"] for t in signature["outputs"]] == list(case.outputs)
    assert list(_reference(export.model, case.sample(batch=1))) == list(case.outputs)
    assert all(t["dtype"] == "float32" for t in signature["outputs"])
    assert not export.report.casts


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_matches_jax_in_tfjs_by_name(converted, case, backend):
    export = converted(case)
    inputs = case.sample(batch=2)  # not the spec's batch of 1: the batch is dynamic
    names = [t["name"] for t in export.report.signature["inputs"]]
    outputs, info = run_in_tfjs(export.out_dir, {name: inputs[name] for name in names}, backend)
    if len(case.outputs) == 1:  # a one-output export comes back as one array
        outputs = {case.outputs[0]: outputs}
    found = compare_named(outputs, _reference(export.model, inputs))
    assert found.rel_err < TOLERANCE, (backend, found.rel_err, found.worst_output, found.per_output)
    assert info["golden_max_abs_diff"] < TOLERANCE, backend


def test_gpt2_dynamic_sequence_runs_at_two_lengths(tmp_path):
    """One export with a symbolic sequence length; GPT-2's causal mask is sliced from its
    n_positions table by that length, so JAX needs the bound `seq <= n_positions`."""
    case = next(c for c in CASES if c.name == "gpt2")
    model = case.build()
    report = to_tensorflowjs(
        model,
        input_spec=case.spec(),
        dynamic_axes={"input_ids": ("b", "seq"), "attention_mask": ("b", "seq")},
        dim_constraints=["seq <= 64"],
        out_dir=tmp_path / "gpt2",
        progress=False,
    )
    assert [t["dims"] for t in report.signature["inputs"]] == [["b", "seq"], ["b", "seq"]]
    assert report.signature["outputs"][0]["dims"] == ["b", "seq", 32]
    for seq in (5, 13):  # neither is the spec's 8
        inputs = case.sample(batch=2, seq=seq)
        want = _reference(model, inputs)["last_hidden_state"]
        for backend in BACKENDS:
            found, _ = run_in_tfjs(tmp_path / "gpt2", inputs, backend)
            comparison = compare_named(found, want)
            assert comparison.rel_err < TOLERANCE, (seq, backend, comparison.rel_err)


def test_bert_dynamic_sequence_needs_no_bound_and_runs_at_two_lengths(tmp_path):
    """BERT's positions come from an iota over the sequence, not a slice of a table: no constraint."""
    case = next(c for c in CASES if c.name == "bert")
    model = case.build()
    axes = {name: ("b", "seq") for name in case.spec()}
    to_tensorflowjs(
        model,
        input_spec=case.spec(),
        dynamic_axes=axes,
        golden_inputs=case.sample(batch=3),
        out_dir=tmp_path / "bert",
        progress=False,
    )
    for seq in (5, 13):
        inputs = case.sample(batch=2, seq=seq)
        found, _ = run_in_tfjs(tmp_path / "bert", inputs, "wasm")
        comparison = compare_named(found, _reference(model, inputs))
        assert comparison.rel_err < TOLERANCE, (seq, comparison.rel_err, comparison.worst_output)


def test_explicit_params_replace_the_models_own(tmp_path):
    """`to_tensorflowjs(model, params)` exports those params, not model.params (fine-tuned weights
    kept apart from the model object, as Hugging Face's own training scripts do)."""
    model, other = _vit(seed=0), _vit(seed=1).params
    case = next(c for c in CASES if c.name == "vit")
    to_tensorflowjs(model, other, input_spec=case.spec(), out_dir=tmp_path / "vit", progress=False)
    inputs = case.sample(batch=2)
    found, _ = run_in_tfjs(tmp_path / "vit", inputs, "wasm")
    assert compare_named(found, _reference(model, inputs, other)).rel_err < TOLERANCE
    # Not a test that passes whatever the params: the model's own give other outputs.
    assert compare_named(found, _reference(model, inputs)).rel_err > 100 * TOLERANCE


def test_bert_token_type_ids_convert_with_the_default_golden_inputs(tmp_path):
    """The default golden integers were drawn from [0, 8) for every input: BERT's token_type_ids index
    a table of type_vocab_size=2 rows, so JAX's gather filled NaN (J2T311). The hf_flax form bounds
    each input by its config (vocab_size, type_vocab_size; masks 0 or 1)."""
    case = next(c for c in CASES if c.name == "bert")
    report = to_tensorflowjs(case.build(), input_spec=case.spec(), out_dir=tmp_path / "bert", progress=False)
    golden = golden_file.read(tmp_path / "bert")
    assert set(np.unique(golden.inputs["token_type_ids"])) <= {0, 1}
    assert set(np.unique(golden.inputs["attention_mask"])) == {0, 1}
    assert report.savedmodel_max_abs_diff < 1e-4
