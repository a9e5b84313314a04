"""The benchmark's measuring parts: weights hand-off, peak RSS per child, lean imports, the report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.perf import report, suite
from bench.perf.child import run_python
from bench.perf.weights_file import load_params, save_params
from conftest import ROOT
from jax2tfjs.errors import ExportError
from jax2tfjs.tables import markdown_table


def test_weights_file_round_trips_a_nested_tree(tmp_path):
    params = {"Conv_0": {"kernel": np.arange(6.0).reshape(2, 3), "bias": np.ones(3)}, "scale": np.float32(2)}
    save_params(tmp_path / "w.npz", params)
    back = load_params(tmp_path / "w.npz")
    assert back.keys() == params.keys() and back["Conv_0"].keys() == params["Conv_0"].keys()
    np.testing.assert_array_equal(back["Conv_0"]["kernel"], params["Conv_0"]["kernel"])
    assert not list(tmp_path.glob("*.tmp*")), "the temporary file must be renamed into place"


def test_child_peak_rss_is_the_childs_own_not_the_parents(tmp_path):
    """wait4's ru_maxrss would report at least this 400 MB parent; VmHWM reports the child's own."""
    ballast = np.ones(400 * 2**20 // 8)  # noqa: F841 (kept alive on purpose)
    script = tmp_path / "alloc.py"
    script.write_text(
        "import json, numpy as np\nblock = np.ones(150 * 2**20 // 8)\nprint(json.dumps({'sum': float(block[:10].sum())}))\n"
    )
    run = run_python(sys.executable, [str(script)], what="alloc")
    assert run.result == {"sum": 10.0}
    assert 150 < run.peak_rss_mb < 350, run.peak_rss_mb


def test_child_failure_names_the_command_and_its_error(tmp_path):
    script = tmp_path / "fail.py"
    script.write_text("raise SystemExit('no weights here')\n")
    with pytest.raises(ExportError) as err:
        run_python(sys.executable, [str(script)], what="a failing step")
    assert "a failing step failed (exit 1): no weights here" in err.value.cause
    assert str(script) in err.value.fix


LEAN_PROBE = (
    "import sys, jax2tfjs, tensorflow, tensorflowjs\n"
    "print(sorted(m for m in ('matplotlib', 'pyarrow') if m in sys.modules))\n"
    "import matplotlib, pyarrow\n"  # our own code may still import them
    "print('ok')\n"
)


@pytest.mark.parametrize(("flag", "loaded"), [("1", []), ("0", ["matplotlib", "pyarrow"])])
def test_lean_imports_keep_keras_and_pandas_from_loading_matplotlib_and_pyarrow(flag, loaded):
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-c", LEAN_PROBE],
        capture_output=True,
        text=True,
        timeout=300,
        env={"JAX2TFJS_LEAN_IMPORTS": flag, "PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    first, second = proc.stdout.strip().splitlines()[-2:]
    assert first == str(loaded) and second == "ok"


def _conversion(ours_wall: float, official_wall: float, ours_rss: float, official_rss: float) -> dict:
    row = {"import_s": 10.0, "convert_s": 2.0, "model_bytes": 1000, "versions": {"jax": "0.10.2"}}
    return {
        "rows": [
            {**row, "converter": "ours", "wall_s": ours_wall, "peak_rss_mb": ours_rss},
            {**row, "converter": "official", "wall_s": official_wall, "peak_rss_mb": official_rss},
            {**row, "converter": "jax2onnx", "wall_s": 20.0, "peak_rss_mb": 500.0},
        ]
    }


def _inference(official_wasm_error: bool) -> dict:
    rows = [
        {"export": "ours", "runtime": "TF.js", "backend": "cpu", "batch1_ms": 10.0, "batch32_ms": 400.0},
        {"export": "official", "runtime": "TF.js", "backend": "cpu", "batch1_ms": 10.2, "batch32_ms": 300.0},
        {"export": "ours", "runtime": "TF.js", "backend": "wasm", "batch1_ms": 1.0, "batch32_ms": 13.0},
        {"export": "official", "runtime": "TF.js", "backend": "wasm", "batch1_ms": 1.0, "batch32_ms": 13.0},
    ]
    if official_wasm_error:
        rows[3] = {"export": "official", "runtime": "TF.js", "backend": "wasm", "error": "rank-4 bias"}
    return {"rows": rows}


def test_targets_compare_ours_with_the_official_path_and_allow_5_percent_for_inference():
    targets = suite._targets(_conversion(14.0, 15.0, 900.0, 850.0), _inference(official_wasm_error=False))
    met = {t["target"]: t["met"] for t in targets}
    assert met["conversion wall time ≤ official's"] is True
    assert met["conversion peak RSS ≤ official's"] is False
    assert met["TF.js cpu batch 1: ours ≤ 1.05 × official"] is True  # 10.0 vs 10.2
    assert met["TF.js cpu batch 32: ours ≤ 1.05 × official"] is False  # 400 vs 300


def test_a_target_without_an_official_figure_is_not_counted_as_met():
    targets = suite._targets(_conversion(14.0, 15.0, 800.0, 850.0), _inference(official_wasm_error=True))
    wasm = [t for t in targets if t["target"].startswith("TF.js wasm")]
    assert [t["met"] for t in wasm] == [None, None]
    assert "the official path has no figure here" in wasm[0]["measured"]
    assert markdown_table(targets, report.TARGETS).count("| n/a |") == 2


def test_a_failed_official_conversion_is_a_row_with_its_error_not_a_crash():
    conversion = _conversion(14.0, 15.0, 800.0, 850.0)
    conversion["rows"][1] = {
        "converter": "official",
        "label": "convert_jax",
        "error": "Unsupported Ops: Assert | x",
    }
    targets = suite._targets(conversion, _inference(official_wasm_error=True))
    assert targets[0]["met"] is None and targets[1]["met"] is None
    findings = suite._findings(conversion, _inference(official_wasm_error=True))
    assert "The official path failed to convert the seed CNN: Unsupported Ops: Assert | x" in findings
    table = markdown_table(conversion["rows"], report.CONVERSION)
    assert "Assert \\| x" in table  # a `|` inside a cell is escaped, so the row keeps its columns
    header, _rule, *rows = table.splitlines()
    assert all(row.count(" | ") == header.count(" | ") for row in rows)


def test_findings_say_where_the_official_path_wins_and_what_it_cannot_run():
    findings = suite._findings(_conversion(16.0, 15.0, 900.0, 850.0), _inference(official_wasm_error=True))
    text = "\n".join(findings)
    assert "The official path wins on the whole conversion process: 15.00 s vs ours 16.00 s." in text
    assert "The official path wins on peak RSS" in text
    assert "The official export is faster on TF.js cpu at batch 32: 300.00 ms vs ours 400.00 ms." in text
    assert "The official export cannot run on TF.js wasm: rank-4 bias" in text


def test_committed_bench_readme_is_generated_from_the_committed_results():
    """bench/README.md is `make bench` output: it must match results.json, never be edited by hand."""
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    assert (ROOT / "bench" / "README.md").read_text() == report.markdown(results)
    for chart in ("conversion.png", "inference.png", "quantization.png"):
        assert (ROOT / "bench" / chart).stat().st_size > 5000
    names = [row["converter"] for row in results["conversion"]["rows"]]
    assert names == ["ours", "official", "jax2onnx"] and results["conversion"]["rounds"] >= 3


# ---- the zoo: ours vs the official convert_jax (bench/perf/zoo_ops.py, zoo_official.py) ----------------


def test_official_names_map_to_the_flat_leaf_they_stand_for():
    from bench.perf.zoo_ops import official_index

    names = ["xs_0", "xs_1:0", "output_12", "Identity:0", "Identity_2:0", "Identity"]
    assert [official_index(n) for n in names] == [0, 1, 12, 0, 2, 0]
    for bad in ("xs", "input_1", "Identity_x", "args_0"):
        with pytest.raises(ValueError):
            official_index(bad)


def test_child_results_keep_each_models_last_line_and_skip_a_line_cut_by_a_crash():
    from bench.perf.zoo_ops import parse_child_results

    text = "\n".join(
        [
            json.dumps({"versions": {"jax": "0.4.30"}, "jax": "0.4.30"}),
            "I0000 some TensorFlow log line",
            json.dumps({"name": "a", "ok": True, "convert_s": 1.0}),
            json.dumps({"name": "b", "ok": False, "stage": "build", "error": "no nnx.Any"}),
            json.dumps({"name": "a", "ok": False, "stage": "convert", "error": "later"}),
            '{"name": "c", "ok": tr',
        ]
    )
    versions, found = parse_child_results(text)
    assert versions == {"jax": "0.4.30"}
    assert sorted(found) == ["a", "b"] and found["a"]["error"] == "later"


def _graph_model(folder, ops):
    folder.mkdir(parents=True, exist_ok=True)
    nodes = [{"name": f"n{i}", "op": op} for i, op in enumerate(ops)]
    (folder / "model.json").write_text(json.dumps({"modelTopology": {"node": nodes}}))
    return folder / "model.json"


def test_op_counts_leave_out_graph_plumbing_the_same_way_for_both_exports(tmp_path):
    from bench.perf.zoo_ops import op_histogram

    path = _graph_model(tmp_path, ["Placeholder", "Const", "Const", "Identity", "MatMul", "MatMul", "Tanh"])
    assert op_histogram(path) == (3, {"MatMul": 2, "Tanh": 1})


def test_a_child_that_dies_fails_only_the_model_it_was_on_and_a_new_child_takes_the_rest(
    tmp_path, monkeypatch
):
    from bench.perf import zoo_ops

    (tmp_path / "official" / "bin").mkdir(parents=True)
    (tmp_path / "official" / "bin" / "python").write_text("")
    monkeypatch.setattr(zoo_ops, "VENV", tmp_path)
    calls = []

    def fake_child(specs, work, env):
        calls.append(([s["name"] for s in specs], env))
        found = {}
        for spec in specs:
            if spec["name"] == "dies":
                return {"jax": "0.4.30"}, found, "Segmentation fault"
            if spec["name"] == "nnx":
                found["nnx"] = {"name": "nnx", "ok": False, "stage": "build", "error": "no nnx.Any"}
                continue
            _graph_model(Path(spec["out_dir"]), ["Placeholder", "Relu"])
            found[spec["name"]] = {"name": spec["name"], "ok": True, "convert_s": 0.5}
        return {"jax": "0.4.30"}, found, ""

    monkeypatch.setattr(zoo_ops, "_run_child", fake_child)
    fed = [np.zeros((4, 3), np.float32)]
    rows = [{"name": n, "_fed": fed, "_dirs": {}} for n in ("a", "nnx", "dies", "b")]
    rows.append({"name": "unbuilt", "ours_error": "build: x"})
    versions = zoo_ops.convert_official(rows, tmp_path / "out", "official")
    assert versions == {"jax": "0.4.30"}
    assert calls == [(["a", "nnx", "dies", "b"], {}), (["b"], {})]
    by_name = {row["name"]: row for row in rows}
    assert by_name["a"]["official_ops"] == 1 and by_name["b"]["official_op_hist"] == {"Relu": 1}
    assert by_name["nnx"]["official_error"] == "official venv cannot build: no nnx.Any"
    assert by_name["dies"]["official_error"].endswith("died on it: Segmentation fault")
    assert "official_error" not in by_name["unbuilt"]
    # The oneDNN-off variant does not retry what this venv cannot build, and gets its environment.
    calls.clear()
    zoo_ops.convert_official(rows, tmp_path / "out", "portable")
    assert calls[0] == (["a", "dies", "b"], {"TF_ENABLE_ONEDNN_OPTS": "0"})


def test_each_rows_exports_come_back_paired_with_their_side_whatever_the_order(monkeypatch):
    from bench.perf import zoo_ops
    from jax2tfjs.errors import ExportError
    from jax2tfjs.verify.tfjs_batch import ExportOutcome

    monkeypatch.setattr(zoo_ops, "_export_runs", lambda row, side: row["_dirs"][side])
    rows = [
        {"name": "x", "_dirs": {"ours": "x/ours", "official": "x/official", "portable": "x/portable"}},
        {"name": "y", "_dirs": {"ours": "y/ours", "official": "y/official"}},
    ]
    orders = []

    def run_all(runs, backend, **_):
        orders.append(list(runs))
        return [ExportOutcome(r) for r in runs]

    monkeypatch.setattr(zoo_ops, "run_exports", run_all)
    for shift in range(3):
        found = zoo_ops._run_round(rows, "cpu", shift)
        for row, sides in zip(rows, found, strict=True):
            assert {side: outcome.folder for side, outcome in sides.items()} == row["_dirs"]
    # Each round, another export of each row goes first (one Node process holds them all).
    assert [order[0] for order in orders] == ["x/ours", "x/official", "x/portable"]
    assert [order[3] for order in orders] == ["y/ours", "y/official", "y/ours"]

    def dies_on_y(runs, backend, **_):
        if any(str(r).startswith("y") for r in runs):
            raise ExportError("TF.js (wasm) died while running export y", fix="-")
        return [ExportOutcome(r) for r in runs]

    monkeypatch.setattr(zoo_ops, "run_exports", dies_on_y)
    x, y = zoo_ops._run_round(rows, "wasm", 1)
    assert x["ours"].folder == "x/ours" and x["portable"].folder == "x/portable"
    assert y == {"official": "TF.js (wasm) died while running export y", "ours": y["ours"]}
    assert isinstance(y["ours"], str)


def test_outputs_compare_leaf_by_leaf_and_refuse_leaves_that_do_not_pair():
    from bench.perf.zoo_ops import _max_abs_diff

    a = [np.array([1.0, 2.0], np.float32), np.array([True, False])]
    assert _max_abs_diff(a, [np.array([1.0, 2.5]), np.array([True, True])]) == 1.0
    assert _max_abs_diff(a, a[:1]) is None
    assert _max_abs_diff(a, [np.zeros(3), a[1]]) is None


def test_official_weights_are_ours_leaf_for_leaf_or_the_mismatch_is_named(tmp_path):
    from bench.perf.zoo_official import _same_weights, load_leaves, save_leaves

    ours = {"Dense_0": {"bias": np.ones(3, np.float32), "kernel": np.full((2, 3), 7.0, np.float32)}}
    save_leaves(tmp_path / "w.npz", [ours["Dense_0"]["bias"], ours["Dense_0"]["kernel"]])
    assert [a.shape for a in load_leaves(tmp_path / "w.npz")] == [(3,), (2, 3)]
    theirs = {"Dense_0": {"bias": np.zeros(3), "kernel": np.zeros((2, 3))}}
    np.testing.assert_array_equal(_same_weights(theirs, tmp_path / "w.npz")["Dense_0"]["kernel"], 7.0)
    with pytest.raises(ValueError, match="shapes differ"):
        _same_weights({"Dense_0": {"bias": np.zeros(4), "kernel": np.zeros((2, 3))}}, tmp_path / "w.npz")


def test_an_nnx_module_crosses_to_convert_jax_as_flat_weights_and_runs_in_eval_mode(tmp_path):
    """What the official child hands convert_jax for an nnx entry: apply_fn(leaves, *xs) that merges
    the module back with OUR weights (same leaf order as the parent saved) and calls it in eval mode."""
    import jax
    from flax import nnx

    from bench.perf.zoo_official import _flat_apply, _nnx_form, _same_weights, nnx_weights, save_leaves
    from bench.zoo.registry import Built, InputSpec, ZooEntry

    class Head(nnx.Module):
        def __init__(self, rngs):
            self.dense = nnx.Linear(3, 2, rngs=rngs)
            self.drop = nnx.Dropout(0.9, rngs=rngs)

        def __call__(self, x):
            return self.drop(self.dense(x))

    ours, theirs = Head(nnx.Rngs(0)), Head(nnx.Rngs(1))
    save_leaves(tmp_path / "w.npz", jax.tree_util.tree_leaves(nnx_weights(ours)))
    entry = ZooEntry("head", "nnx", "", (), InputSpec((1, 3)), build=lambda seed: None)
    built = Built(model=theirs, params=None, reference=lambda x: x)
    call, leaves = _nnx_form(built)
    apply = _flat_apply(entry, built, call)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    (y,) = apply(_same_weights(leaves, tmp_path / "w.npz"), x)
    ours.eval()
    np.testing.assert_allclose(np.asarray(y), np.asarray(ours(x)), rtol=1e-6)  # Dropout(0.9) is off


def _zoo_row(name, ours_ops, official_ops, portable_ops, **extra):
    from bench.perf.zoo_ops import set_ops_ratio

    row = {"name": name, "ours_ops": ours_ops, "official_ops": official_ops, "portable_ops": portable_ops}
    set_ops_ratio(row)
    return {**row, **extra}


def test_the_op_target_is_against_the_smaller_official_count():
    from bench.perf.zoo_ops import set_ops_ratio

    rows = [
        {"ours_ops": 12, "official_ops": 20, "portable_ops": 15},
        {"ours_ops": 12, "official_ops": 15, "portable_ops": 15},
        {"ours_ops": 12, "portable_ops": 24},
        {"ours_ops": 12, "official_error": "x"},
    ]
    for row in rows:
        set_ops_ratio(row)
    assert [(r.get("ops_baseline"), r.get("ops_ratio")) for r in rows] == [
        ("portable", 0.8),
        ("official", 0.8),
        ("portable", 0.5),
        (None, None),
    ]


def _zoo_section():
    from bench.perf import zoo_ops

    rows = [
        _zoo_row(
            "lean",
            8,
            20,
            22,
            cpu_ms_ours=1.0,
            cpu_ms_official=2.0,
            cpu_baseline="official",
            cpu_ratio=0.5,
            cpu_max_abs_diff=1e-7,
            wasm_ms_ours=1.0,
            wasm_error_official="_FusedMatMul only supports rank-1 bias but got rank 2.",
            wasm_error_portable="_FusedMatMul only supports rank-1 bias but got rank 2.",
        ),
        _zoo_row(
            "heavy",
            30,
            25,
            24,
            ours_op_hist={"MatMul": 2, "Shape": 2, "Tanh": 1},
            portable_op_hist={"MatMul": 3, "Einsum": 1},
            cpu_ms_ours=3.0,
            cpu_ms_portable=2.0,
            cpu_baseline="portable",
            cpu_ratio=1.5,
            cpu_error_official="Activation tanh has not been implemented for the CPU backend.",
            wasm_error_ours="Kernel 'Einsum' not registered",
        ),
        {
            "name": "nnx_one",
            "style": "nnx",
            "ours_ops": 7,
            "official_error": "official venv cannot build: no nnx.Any",
            "portable_error": "official venv cannot build: no nnx.Any",
        },
    ]
    return {
        "created": "2026-11-30 20:00 UTC",
        "wall_s": 100.0,
        "batch": 4,
        "seed": 0,
        "latencies": True,
        "rounds": 3,
        "repeats": 20,
        "ours_versions": {"jax": "0.10.2"},
        "official_versions": {"python": "3.11", "jax": "0.4.30", "flax": "0.8.5"},
        "rows": rows,
        "summary": zoo_ops.summarize(rows),
        "misses": zoo_ops.misses(rows),
    }


def test_zoo_misses_name_every_target_missed_and_nothing_met():
    section = _zoo_section()
    misses = "\n".join(section["misses"])
    assert (
        "heavy: 30 ops vs the official 24 (oneDNN off; 1.25×, target ≤ 0.8); ours has more Shape +2, Tanh +1."
        in misses
    )
    assert "heavy: slower on TF.js cpu: 3.000 ms vs the official 2.000 ms (oneDNN off; 1.50×)." in misses
    assert "heavy: ours cannot run on TF.js wasm: Kernel 'Einsum' not registered" in misses
    assert "lean" not in misses and "nnx_one" not in misses
    summary = section["summary"]
    assert (summary["official_converted"], summary["ops_met"], summary["ops_ratio_worst"]) == (2, 1, 1.25)
    assert (summary["cpu_timed"], summary["cpu_met"], summary["wasm_official_cannot_run"]) == (2, 1, 1)


def test_zoo_table_marks_misses_the_fallback_baseline_and_what_cannot_run():
    text = report.zoo_ops_markdown(_zoo_section())
    table = [line for line in text.splitlines() if line.startswith("| ")]
    header, _rule, lean, heavy, nnx = table
    assert all(line.count(" | ") == header.count(" | ") for line in table)
    assert "| 0.40 |" in lean and "| 0.50 |" in lean and "| fails |" in lean
    assert "| 1.25 ✗ |" in heavy and "| 2.000 † |" in heavy and "| 1.50 ✗ |" in heavy
    assert "| no (cannot build) |" in nnx
    assert "- nnx_one: official venv cannot build: no nnx.Any" in text
    assert "- lean: no official export runs on TF.js wasm: _FusedMatMul only supports rank-1 bias" in text
    assert "- heavy: slower on TF.js cpu" in text
    section = {**_zoo_section(), "latencies": False}
    assert "cpu ms" not in report.zoo_ops_markdown(section)


def test_zoo_section_joins_results_json_and_the_readme_is_regenerated_from_it(tmp_path):
    section = _zoo_section()
    report.write_zoo_ops(section, tmp_path)  # no results.json yet: the zoo section alone
    results = json.loads((tmp_path / "results.json").read_text())
    assert list(results) == ["zoo_ops"]
    assert (tmp_path / "README.md").read_text() == report.markdown(results)
    (tmp_path / "results.json").write_text(json.dumps({"other": 1}))
    report.write_zoo_ops(section, tmp_path)
    assert json.loads((tmp_path / "results.json").read_text())["other"] == 1
