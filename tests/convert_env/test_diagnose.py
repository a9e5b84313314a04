"""Diagnosis and auto-fix: parameter checks, each fix and each refusal, the taxonomy, the corpus."""

from __future__ import annotations

import json
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bench.corpus import cases as corpus
from bench.corpus import score as bench
from jax2tfjs import errors, taxonomy
from jax2tfjs.api import to_tensorflowjs
from jax2tfjs.errors import (
    InputSpecError,
    ParamKeysError,
    ParamShapeError,
    UnsupportedDtypeError,
)
from jax2tfjs.prepare import autofix, input_spec
from jax2tfjs.prepare.dtypes import plan_dtypes
from jax2tfjs.prepare.keys import match_keys
from jax2tfjs.prepare.shapes import only_merges_dims, plan_shapes


def abstract(tree):
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(np.shape(a), np.asarray(a).dtype), tree)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


MODEL = {
    "Conv_0": {"kernel": rand(3, 3, 1, 4), "bias": rand(4)},
    "Conv_1": {"kernel": rand(3, 3, 4, 8, seed=1), "bias": rand(8)},
    "Dense_0": {"kernel": rand(32, 12), "bias": rand(12)},
    "Dense_1": {"kernel": rand(12, 10), "bias": rand(10)},
}
EXPECTED = abstract(MODEL)


# ---- keys -----------------------------------------------------------------------------------------


def test_matching_keys_need_no_change():
    assert match_keys(MODEL, EXPECTED, collections=False).changes == []


def test_params_are_found_in_a_trainstate_not_in_the_optimizer_moments():
    state = {"step": 5, "params": MODEL, "opt_state": [{"count": 1, "mu": MODEL, "nu": MODEL}]}
    matched = match_keys(state, EXPECTED, collections=False)
    assert matched.tree is MODEL
    assert "used 'params'" in matched.changes[0] and "opt_state, step" in matched.changes[1]


def test_the_same_collection_at_two_places_of_equal_depth_is_refused():
    with pytest.raises(ParamKeysError, match="'a/params', 'b/params'"):
        match_keys({"a": {"params": MODEL}, "b": {"params": MODEL}}, EXPECTED, collections=False)


def test_linen_variables_nested_twice_are_unwrapped():
    matched = match_keys({"params": {"params": MODEL}}, {"params": EXPECTED}, collections=True)
    assert matched.tree == {"params": MODEL}
    assert matched.changes == ["used 'params/params' of the given tree as the model's params"]


def test_renamed_layers_are_paired_by_shapes():
    renamed = {
        "conv1": MODEL["Conv_0"],
        "conv2": MODEL["Conv_1"],
        "fc1": MODEL["Dense_0"],
        "fc2": MODEL["Dense_1"],
    }
    matched = match_keys(renamed, EXPECTED, collections=False)
    assert matched.tree["Dense_0"]["kernel"] is MODEL["Dense_0"]["kernel"]
    assert matched.tree["Conv_1"]["bias"] is MODEL["Conv_1"]["bias"]
    assert "fc1 → Dense_0" in matched.changes[0]


def test_identical_layers_are_paired_by_their_numbers_or_refused_without():
    twin = {"kernel": rand(8, 8), "bias": rand(8)}
    other = {"kernel": rand(8, 8, seed=2), "bias": rand(8, seed=3)}
    expected = abstract({"Dense_0": twin, "Dense_1": other})
    matched = match_keys({"layer2": other, "layer1": twin}, expected, collections=False)
    assert (
        matched.tree["Dense_0"]["kernel"] is twin["kernel"]
        and matched.tree["Dense_1"]["bias"] is other["bias"]
    )
    assert "paired by their numbers" in matched.changes[0]
    with pytest.raises(ParamKeysError, match=r"Dense_0, Dense_1.*decoder, encoder.*2 renamings fit"):
        match_keys({"encoder": twin, "decoder": other}, expected, collections=False)


def test_leaf_names_and_transposed_kernels_rename_by_loose_shapes():
    torch = {"fc": {"weight": MODEL["Dense_1"]["kernel"].T, "bias": MODEL["Dense_1"]["bias"]}}
    matched = match_keys(torch, abstract({"Dense_1": MODEL["Dense_1"]}), collections=False)
    assert set(matched.tree["Dense_1"]) == {"kernel", "bias"}
    assert matched.tree["Dense_1"]["kernel"].shape == (10, 12)  # the shape step transposes it


def test_a_missing_layer_is_named_and_not_fixed():
    partial = {k: v for k, v in MODEL.items() if k != "Dense_1"}
    with pytest.raises(
        ParamKeysError, match=r"\(6 of 8 arrays match\): missing Dense_1/bias, Dense_1/kernel"
    ) as err:
        match_keys(partial, EXPECTED, collections=False)
    assert err.value.code == "J2T307" and "model's keys" in err.value.fix


# ---- shapes ---------------------------------------------------------------------------------------


def test_oihw_kernels_are_transposed_to_hwio_with_the_values_in_place():
    given = {
        **MODEL,
        "Conv_1": {**MODEL["Conv_1"], "kernel": np.transpose(MODEL["Conv_1"]["kernel"], (3, 2, 0, 1))},
    }
    plan = plan_shapes(given, EXPECTED)
    assert plan.ok and len(plan.changes) == 1 and "OIHW" in plan.changes[0]
    np.testing.assert_array_equal(plan.tree["Conv_1"]["kernel"], MODEL["Conv_1"]["kernel"])


def test_a_tied_layout_is_settled_by_the_other_kernels_or_refused():
    square = rand(3, 3, 4, 4, seed=5)  # in = out channels: OIHW and IOHW give the same shape
    model = {"Conv_0": {"kernel": square}, "Conv_1": {"kernel": MODEL["Conv_1"]["kernel"]}}
    oihw = {name: {"kernel": np.transpose(layer["kernel"], (3, 2, 0, 1))} for name, layer in model.items()}
    plan = plan_shapes(oihw, abstract(model))
    assert plan.ok
    np.testing.assert_array_equal(plan.tree["Conv_0"]["kernel"], square)
    alone = plan_shapes({"Conv_0": oihw["Conv_0"]}, abstract({"Conv_0": model["Conv_0"]}))
    assert not alone.ok and "OIHW" in alone.ambiguous[0] and "IOHW" in alone.ambiguous[0]


def test_a_square_kernel_beside_transposed_ones_is_refused():
    model = {
        "Dense_0": {"kernel": rand(16, 8)},
        "Dense_1": {"kernel": rand(8, 8)},
        "Dense_2": {"kernel": rand(8, 4)},
    }
    torch = {name: {"kernel": layer["kernel"].T} for name, layer in model.items()}
    plan = plan_shapes(torch, abstract(model))
    assert not plan.ok and plan.ambiguous == [plan.ambiguous[0]]
    assert "Dense_1/kernel (8, 8)" in plan.ambiguous[0] and "cannot tell" in plan.ambiguous[0]


def test_flattened_and_unflattened_dims_are_reshaped_in_order():
    given = {**MODEL, "Conv_0": {**MODEL["Conv_0"], "kernel": MODEL["Conv_0"]["kernel"].reshape(9, 4)}}
    given["Dense_0"] = {**MODEL["Dense_0"], "kernel": MODEL["Dense_0"]["kernel"].reshape(4, 8, 12)}
    plan = plan_shapes(given, EXPECTED)
    assert plan.ok and all("reshaped" in c for c in plan.changes)
    np.testing.assert_array_equal(plan.tree["Dense_0"]["kernel"], MODEL["Dense_0"]["kernel"])


def test_other_sizes_have_no_reading():
    given = {**MODEL, "Dense_1": {"kernel": rand(12, 11), "bias": rand(11)}}
    plan = plan_shapes(given, EXPECTED)
    assert [path for path, _, _ in plan.unfixable] == [("Dense_1", "bias"), ("Dense_1", "kernel")]


@pytest.mark.parametrize(
    ("a", "b", "merges"),
    [
        ((9, 4), (3, 3, 1, 4), True),
        ((1, 10), (10,), True),
        ((7, 7, 64, 128), (3136, 128), True),
        ((12, 10), (10, 12), False),
        ((4, 6), (6, 4), False),
    ],
)
def test_only_merges_dims(a, b, merges):
    assert only_merges_dims(a, b) is merges


# ---- dtypes ---------------------------------------------------------------------------------------


class Pair(NamedTuple):
    w: np.ndarray
    b: np.ndarray


def test_dtypes_are_cast_where_safe_and_containers_kept():
    plan = plan_dtypes(Pair(np.ones((2, 2), np.float64), np.arange(3, dtype=np.int64)))
    assert isinstance(plan.tree, Pair) and plan.tree.w.dtype == np.float32 and plan.tree.b.dtype == np.int32
    assert plan.warnings == [
        "parameters in float64 were cast to float32 (TF.js computes in float32)",
        "int64 parameters were cast to int32 (TF.js has no int64)",
    ]
    assert not plan.refused and len(plan.changes) == 2


def test_unsafe_dtypes_are_refused():
    plan = plan_dtypes({"big": np.array([2**40], np.int64), "z": np.ones(2, np.complex64)})
    assert len(plan.refused) == 2 and "do not fit int32" in plan.refused[0] and "complex" in plan.refused[1]


# ---- prepare: the switch ---------------------------------------------------------------------------


def test_autofix_off_raises_what_autofix_on_would_do():
    given = {"params": {"params": jax.tree.map(lambda a: a.astype(np.float64), MODEL)}}
    with pytest.raises(ParamKeysError) as err:
        autofix.prepare(given, {"params": EXPECTED}, autofix=False, collections=True)
    assert "auto-fix would make that change: used 'params/params'" in err.value.fix
    prepared = autofix.prepare(given, {"params": EXPECTED}, autofix=True, collections=True)
    assert prepared.params["params"]["Dense_0"]["kernel"].dtype == np.float32
    assert len(prepared.autofixes) == 2 and "float64 cast to float32" in prepared.autofixes[1]
    with pytest.raises(UnsupportedDtypeError, match="float64"):
        autofix.prepare(jax.tree.map(lambda a: a.astype(np.float64), MODEL), EXPECTED, autofix=False)


def test_ambiguous_shapes_are_refused_with_autofix_on():
    torch = {"Dense_0": {"kernel": rand(8, 16)}, "Dense_1": {"kernel": rand(8, 8)}}
    expected = abstract({"Dense_0": {"kernel": rand(16, 8)}, "Dense_1": {"kernel": rand(8, 8)}})
    with pytest.raises(ParamShapeError, match=r"ambiguous.*Dense_1/kernel") as err:
        autofix.prepare(torch, expected, autofix=True)
    assert "does not guess" in err.value.fix


# ---- input spec -----------------------------------------------------------------------------------


def cnn_fits(spec):
    return tuple(spec.shape[1:]) == (8, 8, 1) and spec.dtype == jnp.float32


def test_a_flattened_input_is_adapted_and_moved_axes_are_refused():
    flat = jax.ShapeDtypeStruct((1, 64), jnp.float32)
    adapter = input_spec.resolve_misfit(flat, cnn_fits, why="test", autofix=True)
    assert tuple(adapter.model.shape) == (1, 8, 8, 1)
    with pytest.raises(InputSpecError, match=r"fits an input of \(1, 8, 8, 1\)") as err:
        input_spec.resolve_misfit(flat, cnn_fits, why="test", autofix=False)
    assert "leave autofix on" in err.value.fix
    nchw = jax.ShapeDtypeStruct((1, 3, 8, 8), jnp.float32)
    with pytest.raises(InputSpecError, match="does not move axes"):
        input_spec.resolve_misfit(nchw, lambda s: tuple(s.shape[1:]) == (8, 8, 3), why="test", autofix=True)
    assert input_spec.resolve_misfit(nchw, lambda s: False, why="test", autofix=True) is None


# ---- end to end -----------------------------------------------------------------------------------


def test_conversion_lists_every_autofix_in_the_report_and_the_metadata(tmp_path):
    setup = corpus.by_name("torch_mlp_state_dict")[0].build(tmp_path)
    report = to_tensorflowjs(
        setup.model, setup.params, input_spec=setup.input_spec, out_dir=tmp_path / "e", progress=False
    )
    assert report.autofixes[0] == "used 'state_dict' of the given tree as the model's params"
    assert "fc1 → Dense_0, fc2 → Dense_1, fc3 → Dense_2" in report.autofixes[1]
    assert sum("weight → kernel" in c for c in report.autofixes) == 3
    assert sum("(out, in)" in c for c in report.autofixes) == 3
    assert report.autofixes[-1].startswith("6 parameters in float64 cast to float32")
    meta = json.loads((tmp_path / "e" / "model.json").read_text())["userDefinedMetadata"]["jax2tfjs"]
    assert meta["autofixes"] == report.autofixes
    assert json.loads((tmp_path / "e" / "report.json").read_text())["autofixes"] == report.autofixes


def test_a_pytorch_cnn_dense_after_the_flatten_is_refused_not_silently_misordered(tmp_path):
    setup = corpus.by_name("torch_state_dict")[0].build(tmp_path)
    with pytest.raises(errors.ParamShapeError) as err:
        to_tensorflowjs(
            setup.model, setup.params, input_spec=setup.input_spec, out_dir=tmp_path / "e", progress=False
        )
    assert "params/Dense_0/kernel" in err.value.cause and "C, H, W" in err.value.cause
    assert "Dense_1" not in err.value.cause.split("ambiguous:")[-1]  # fed by Dense_0, not by a flatten
    assert not (tmp_path / "e").exists()


def test_transposed_conv_layouts_are_refused_with_the_flip_in_the_recipe():
    expected = {"k": np.zeros((3, 3, 2, 5), np.float32)}  # HWIO, in=2, out=5
    plan = plan_shapes({"k": np.zeros((3, 3, 5, 2), np.float32)}, expected)  # HWOI
    assert not plan.ok and "[::-1, ::-1]" in plan.ambiguous[0] and "HWOI" in plan.ambiguous[0]


def test_layers_numbered_from_one_beside_same_named_twins_are_refused():
    kernel = {"kernel": np.zeros((4, 4), np.float32), "bias": np.zeros(4, np.float32)}
    expected = {"Dense_0": kernel, "Dense_1": kernel, "Dense_2": kernel}
    given = {"Dense_1": kernel, "Dense_2": kernel, "Dense_3": kernel}
    with pytest.raises(errors.ParamKeysError) as err:
        match_keys(given, expected, collections=False)
    assert "which is which cannot be told" in err.value.cause


# ---- taxonomy ---------------------------------------------------------------------------------------


def test_every_error_class_has_a_unique_code_and_describes_itself():
    entries = taxonomy.entries()
    assert len({e.code for e in entries}) == len(entries) == len(errors.BY_CODE)
    for entry in entries:
        assert entry.example.startswith(entry.code + ": ") and "\n  fix: " in entry.example
        assert entry.summary and entry.fix
    assert {"J2T301", "J2T302", "J2T303", "J2T307", "J2T308", "J2T309", "J2T202", "J2T901"} <= set(
        errors.BY_CODE
    )


def test_a_class_without_its_own_description_or_with_a_taken_code_is_rejected():
    with pytest.raises(TypeError, match="must define summary"):
        type("Vague", (errors.ModelInputError,), {"code": "J2T399", "example_cause": "x", "example_fix": "y"})
    with pytest.raises(TypeError, match="reuses code J2T307"):
        type(
            "Twin",
            (errors.ModelInputError,),
            {"code": "J2T307", "summary": "s", "example_cause": "x", "example_fix": "y"},
        )


# ---- the corpus (fast subset; `make doctor-bench` runs all of it, with TF.js) -----------------------


FAST = [case for case in corpus.CASES if case.fast]


def test_the_corpus_covers_every_class_with_enough_cases():
    assert len(corpus.CASES) >= 20
    classes = {case.error_class for case in corpus.CASES}
    assert classes == {
        corpus.KEYS,
        corpus.SHAPES,
        corpus.DTYPES,
        corpus.INPUT,
        corpus.PRIMITIVE,
        corpus.CHECKPOINT,
        corpus.EXPORT,
        corpus.MEMORY,
    }
    assert any(not c.fixable for c in corpus.CASES if c.error_class == corpus.KEYS)  # refusals are part of it
    assert sum(c.fixable for c in corpus.CASES) / len(corpus.CASES) >= bench.TARGET_FIXED / 100


@pytest.mark.parametrize("case", FAST, ids=[case.name for case in FAST])
def test_corpus_case(case, tmp_path):
    result = bench.run_case(case, tmp_path)
    assert result.right_code, (result.code_off, result.code_on, result.doctor_code, result.note)
    if case.fixable:
        assert result.fixed, (result.note, result.savedmodel_diff, result.reference_diff)
    else:
        assert result.code_on != bench.CONVERTED
