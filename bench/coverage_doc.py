"""docs/coverage.md, generated from the rule registry and from what the parity cases really emit
(`make docs`; tests/convert_env/test_docs.py fails when it is stale)."""

from __future__ import annotations

import functools
import subprocess
import sys

import jax

from bench.parity import all_cases, lower_case, measured_ops
from jax2tfjs.lowering import NOT_SUPPORTED, RULES
from jax2tfjs.lowering.inference_scope import FOLDED_ONLY, OUTSIDE_INFERENCE
from jax2tfjs.lowering.primitives import ALIASES

NO_RULE = "no lowering rule yet"

# Measured while writing the rules of issue 16 (TF.js 4.22, Node and headless Chromium); each is
# also a comment beside the rule that avoids it, and a parity case that fails without the workaround.
PITFALLS = """## TF.js 4.22 behaviour the rules work around (measured)

- wasm `Maximum`/`Minimum` pass a NaN on only from their first operand (`max(1, NaN)` is 1): a NaN-free
  constant goes second, otherwise `IsNan` + `SelectV2` (`elementwise/max_nan_second`).
- wasm `StridedSlice` with a stride > 1 on int32 or bool returns float32 garbage: a contiguous slice
  and `GatherV2` (`shape/slice_strided_int`); wasm `GatherV2` ignores `batch_dims` (sort and LU gather
  rows through flat offsets or masked sums).
- wasm computes some int32 ops in float32: `PadV2`'s pad value and integer `FloorDiv`/`FloorMod` are
  exact only below 2**24 (integer division is built from 16-bit halves); on cpu, int32 `Mul` is exact
  only below 2**53 and `Square` below 2**24.
- wasm `MaxPool3D` gives wrong maxima for some non-cubic windows (3-D max pooling uses slices); wasm
  `Sign` is 0 for |x| <= 1e-7 (special functions and bit casts avoid it).
- `BitwiseAnd` is in the op list but cannot run in any graph model (its executor reads inputs `a`/`b`,
  its op mapping names them `x`/`y`): integer bitwise ops are computed arithmetically.
- webgl cannot compile a `Pad` of rank 5 or more, nor a rank-5 strided `StridedSlice` (rank-3 views
  instead); webgl holds int32 as float32, so int32 sort keys beyond 2**24 may tie there.
- cpu `TopKV2` compares by subtraction, which NaN and tied infinities break: float keys are split into
  a class (-inf, finite, +inf, NaN) and a finite part, sorted in stable passes.
- A `SelectV2` of bool scalars crashed wasm (memory access out of bounds): total-order comparisons use
  logical ops only.
- TensorFlow's CPU kernels flush float32 denormals to zero, TF.js keeps them: `reduce_precision`,
  `nextafter` and bit casts are bit-exact in TF.js and differ on denormals in the SavedModel only.
"""

HEADER = """# Lowering coverage

Generated from `jax2tfjs.lowering` by `make docs`; do not edit by hand (`tests/convert_env/test_docs.py` fails
when this file is stale). Every lowered primitive has parity cases run against JAX at two batch sizes
through one graph with a dynamic batch dimension (`tests/convert_env/test_lowering_parity.py`), and
again in real TF.js on the Node cpu and wasm backends (`tests/convert_env/test_lowering_tfjs.py`,
harness `bench/parity_tfjs.py`: the cases go into about ten graph models, one per rule module in
chunks of 40, converted by jax2tfjs's own converter path, each backend running them all in one Node
process at both batch sizes; a chunk that fails is split case by case, so a failure names its case
and backend, e.g. `test_rule_in_tfjs[wasm-dot/int_dot_to_float]`).

"TF ops emitted" is measured, not declared: the ops each primitive's equations put into the TF
graphs of all parity cases (graph plumbing such as Const and Identity aside). Tests fail when a
rule emits an op its declaration lacks, or one that is missing from TF.js's op list
(`tests/convert_env/test_lowering_ops.py`). "(none)": the rule emits no op itself (an inlined
call's equations emit their own; an identity passes its input on).
"""


def _ops_cell(name: str, measured: dict[str, set[str]]) -> str:
    ops = measured.get(name, set())
    declared = [op for op in RULES[name].tf_ops if op in ops]
    return ", ".join(declared + sorted(ops - set(declared))) or "(none)"


@functools.cache
def installed_primitives() -> frozenset[str]:
    """The primitives a fresh interpreter sees after `import jax2tfjs.lowering`. Not this process's
    live set: what else it imported adds primitives (pallas adds 15, jax.experimental.jax2tf
    call_tf; measured in a full test session), and the doc must not depend on that."""
    code = (
        "import jax2tfjs.lowering\n"
        "from jax2tfjs.lowering.primitives import live_primitives\n"
        "print(' '.join(sorted(live_primitives())))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return frozenset(done.stdout.split())


def scope() -> dict[str, list[str]]:
    """Every primitive of the installed JAX in exactly one class: lowered, folded (no rule; converted
    when its inputs do not depend on the model's), refused (inference-possible, no rule), outside
    (cannot appear in a one-device inference graph; grouped in inference_scope)."""
    outside = set().union(*(group.names for group in OUTSIDE_INFERENCE))
    classes: dict[str, list[str]] = {"lowered": [], "folded": [], "refused": [], "outside": []}
    for name in sorted(installed_primitives()):
        if name in RULES:
            classes["lowered"].append(name)
        elif name in outside:
            classes["outside"].append(name)
        elif name in FOLDED_ONLY:
            classes["folded"].append(name)
        else:
            classes["refused"].append(name)
    return classes


def headline(classes: dict[str, list[str]]) -> str:
    possible = len(classes["lowered"]) + len(classes["folded"]) + len(classes["refused"])
    converted = len(classes["lowered"]) + len(classes["folded"])
    total = possible + len(classes["outside"])
    return (
        f"The installed JAX ({jax.__version__}) defines **{total} primitives**. **{possible}** can appear "
        f"in a one-device inference graph; of those, **{converted} ({100 * converted / possible:.0f} %)** "
        f"convert: {len(classes['lowered'])} lowered by a rule, {len(classes['folded'])} folded only "
        f"(evaluated at conversion when their inputs do not depend on the model's inputs), and "
        f"{len(classes['refused'])} are refused with a reason. The other {len(classes['outside'])} "
        "cannot appear in such a graph (collectives, sharding, callbacks, refs, GPU-only kernels, "
        "differentiation and export internals) and are listed by group at the end. A refused or "
        "outside primitive raises `J2T301` naming it, the reason and the user's source line."
    )


def render() -> str:
    measured = measured_ops()
    classes = scope()
    tracing: dict[str, list[str]] = {}  # primitive → its rule's cases that trace it
    for primitive, case in all_cases().values():
        for name in RULES[primitive].group:
            if name in lower_case(case).primitives:
                tracing.setdefault(name, []).append(case.name)
    lines = [
        HEADER,
        headline(classes) + "\n",
        f"## Lowered: {len(RULES)} primitives\n",
        "| primitive | TF ops emitted | parity cases | limits |",
        "| --- | --- | --- | --- |",
    ]
    for name in sorted(RULES):
        cases = ", ".join(tracing.get(name, [])) or "(none)"
        lines.append(f"| `{name}` | {_ops_cell(name, measured)} | {cases} | {RULES[name].limits or ''} |")
    lines += [
        "",
        f"## Folded only: {len(classes['folded'])} primitives\n",
        "No rule: an equation of these is evaluated in JAX at conversion when none of its inputs "
        "depends on the model's inputs (a PRNG key from a fixed seed and the draws from it), and "
        "becomes a constant. Otherwise it is refused, for this reason:\n",
        "| primitive | when its inputs depend on the model's inputs |",
        "| --- | --- |",
    ]
    lines += [f"| `{name}` | {NOT_SUPPORTED.get(name, NO_RULE)} |" for name in classes["folded"]]
    lines += [
        "",
        f"## Refused: {len(classes['refused'])} primitives\n",
        "Inference-possible, no rule. Equations of these still fold when their inputs are constants.\n",
        "| primitive | why, and what to do |",
        "| --- | --- |",
    ]
    lines += [f"| `{name}` | {NOT_SUPPORTED.get(name, NO_RULE)} |" for name in classes["refused"]]
    lines += ["", f"## Outside a one-device inference graph: {len(classes['outside'])} primitives\n"]
    for group in OUTSIDE_INFERENCE:
        names = ", ".join(f"`{name}`" for name in sorted(group.names))
        lines += [f"**{group.title}** ({len(group.names)}): {group.why}.\n", names, ""]
    lines += [
        "## Renamed primitives\n",
        "Rules are keyed by the primitives of the installed JAX; a rule may name one of these older",
        "names, which registers it for the primitive JAX uses now.\n",
        "| older name | primitive now |",
        "| --- | --- |",
    ]
    lines += [f"| `{old}` | `{new}` |" for old, new in sorted(ALIASES.items())]
    lines += ["", PITFALLS]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
