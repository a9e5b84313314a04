"""The zoo through the official `tensorflowjs.converters.convert_jax` (jax2tf), in .venv/official.

The parent (bench.perf.zoo_ops) starts `python -m bench.perf.zoo_official REQUEST.json RESULTS.jsonl`
in the official venv (jax 0.4.30, flax 0.8.5, tensorflow 2.19, tensorflowjs 4.22): one process for all
models (TensorFlow's import costs ~8 s), restarted past a model that kills it. The request lists
entries: {name, weights (an .npz of the parameter leaves our side converted, in JAX flatten order),
inputs: [{shape, dtype}] (the exact arrays fed later, flattened), out_dir}. For each, one JSON line is
appended to RESULTS.jsonl as soon as it is done (so a crash names the entry it died on): {name, ok,
convert_s} or {name, ok: false, stage, error}. Stages: `build` (the zoo's own code cannot build the
model under jax 0.4.30 / flax 0.8.5), `weights` (its parameters do not match ours leaf for leaf),
`convert` (convert_jax or the tfjs converter refused it).

nnx entries: convert_jax takes apply_fn(params, *xs), so the module is split into its Param/BatchStat
state (handed over as a flat list of leaves: convert_jax makes a tf.Variable per leaf and cannot walk
an nnx State) and merged back inside apply_fn, in eval mode. The zoo's nnx builders redraw biases and
statistics with nnx.Any / to_pure_dict, which flax 0.8.5's nnx lacks: that redraw is skipped here
(`allow_nnx_builds`), as the leaves are replaced by ours anyway. norms_cnn_nnx still cannot build
(flax 0.8.5's nnx has no GroupNorm).

The call is as a user of the official path must write it: inputs flattened to positional arguments
(convert_jax takes `*xs` and one TensorSpec each) and outputs flattened to a tuple, at a FIXED shape —
with a symbolic batch jax2tf adds a shape Assert that the tfjs converter refuses (convert_official.py).
"""

from __future__ import annotations

import functools
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np


def _error(err: BaseException) -> str:
    text = f"{type(err).__name__}: {err}".strip().replace("\n", " ")
    return text[:400]


def load_leaves(path: str | Path) -> list[np.ndarray]:
    """The parameter leaves saved by `save_leaves`, in their order."""
    with np.load(path) as data:
        return [data[f"leaf_{i}"] for i in range(len(data.files))]


def save_leaves(path: str | Path, leaves: list[Any]) -> None:
    """Parameter leaves in JAX's flatten order, as leaf_0 … leaf_N (numpy only: both venvs read it)."""
    np.savez(path, **{f"leaf_{i}": np.asarray(leaf) for i, leaf in enumerate(leaves)})


def _same_weights(params: Any, path: str) -> Any:
    """`params` with every leaf replaced by ours (same flatten order, same shapes), so both exports
    compute with identical weights whatever each flax version's initialisers draw."""
    import jax

    leaves, treedef = jax.tree_util.tree_flatten(params)
    ours = load_leaves(path)
    theirs = [tuple(np.shape(leaf)) for leaf in leaves]
    if [tuple(a.shape) for a in ours] != theirs:
        raise ValueError(
            f"{len(theirs)} leaves here, {len(ours)} on our side, or their shapes differ: "
            f"{theirs[:6]} vs {[tuple(a.shape) for a in ours[:6]]}"
        )
    return jax.tree_util.tree_unflatten(treedef, [np.asarray(a) for a in ours])


def nnx_weights(module: Any) -> Any:
    """The nnx state both sides hand over: parameters and batch statistics (not RNG state)."""
    from flax import nnx

    return nnx.state(module, (nnx.Param, nnx.BatchStat))


def allow_nnx_builds() -> None:
    """The zoo's nnx builders redraw statistics and biases with nnx.Any / to_pure_dict, which flax
    0.8.5's nnx lacks. Here that redraw is skipped: the leaves are replaced by ours anyway."""
    from bench.zoo import forms

    forms.perturb_nnx = lambda module, seed: module


def _nnx_form(built: Any) -> tuple[Any, Any]:
    """(call(params, **kwargs) -> the module's call, params as a flat list): convert_jax makes one
    tf.Variable per params leaf and cannot walk an nnx State, so the state crosses as its leaves."""
    import jax
    from flax import nnx

    module = built.model
    module.eval()  # BatchNorm on running averages, Dropout off, as ours converts it
    graphdef, weights, rest = nnx.split(module, (nnx.Param, nnx.BatchStat), ...)
    leaves, treedef = jax.tree_util.tree_flatten(weights)

    def call(flat: Any, **kwargs: Any) -> Any:
        state = jax.tree_util.tree_unflatten(treedef, list(flat))
        return functools.partial(nnx.merge(graphdef, state, rest), **kwargs)

    return call, leaves


def _flat_apply(entry: Any, built: Any, nnx_call: Any = None) -> Any:
    """apply_fn(params, *input_leaves) -> tuple of output leaves, for convert_jax."""
    import jax

    from bench.zoo.registry import call_with

    in_tree = jax.tree_util.tree_structure(entry.input)
    kwargs = built.apply_kwargs or {}

    def apply(params: Any, *leaves: Any) -> Any:
        inputs = jax.tree_util.tree_unflatten(in_tree, list(leaves))
        if entry.style == "jax":
            call = functools.partial(built.model, params)
        elif entry.style == "nnx":
            call = nnx_call(params, **kwargs)
        else:
            call = functools.partial(built.model.apply, params, **kwargs)
        return tuple(jax.tree_util.tree_leaves(call_with(call, inputs)))

    return apply


def convert_one(spec: dict[str, Any]) -> dict[str, Any]:
    import tensorflow as tf
    from tensorflowjs.converters import convert_jax

    from bench import zoo

    name = spec["name"]
    stage = "build"
    try:
        entry = zoo.get(name)
        built = entry.build(0)  # norms_cnn_nnx fails here: flax 0.8.5's nnx has no GroupNorm
        stage = "weights"
        nnx_call = None
        if entry.style == "nnx":
            nnx_call, params = _nnx_form(built)
            params = _same_weights(params, spec["weights"])
        else:
            params = _same_weights(built.params, spec["weights"])
        stage = "convert"
        signatures = [
            tf.TensorSpec(tuple(i["shape"]), tf.dtypes.as_dtype(i["dtype"])) for i in spec["inputs"]
        ]
        begin = time.perf_counter()
        apply = _flat_apply(entry, built, nnx_call)
        convert_jax(apply, params, input_signatures=signatures, model_dir=spec["out_dir"])
        return {"name": name, "ok": True, "convert_s": round(time.perf_counter() - begin, 3)}
    except Exception as err:  # a model the official path cannot take is a result, not a crash
        traceback.print_exc(file=sys.stderr)
        return {"name": name, "ok": False, "stage": stage, "error": _error(err)}


def main(request_path: str, results_path: str) -> None:
    import jax

    from jax2tfjs.provenance import package_versions

    allow_nnx_builds()
    request = json.loads(Path(request_path).read_text())
    with Path(results_path).open("a") as out:
        versions = package_versions(("jax", "flax", "tensorflow", "tensorflowjs"))
        out.write(json.dumps({"versions": versions, "jax": jax.__version__}) + "\n")
        for spec in request["entries"]:
            print(f"[zoo-official] {spec['name']} ...", file=sys.stderr, flush=True)
            out.write(json.dumps(convert_one(spec)) + "\n")
            out.flush()


if __name__ == "__main__":
    main(*sys.argv[1:3])
