"""docs/coverage.md, generated from the rule registry and from what the parity cases really emit
(`make docs`; tests/convert_env/test_docs.py fails when it is stale)."""

from __future__ import annotations

from bench.parity import all_cases, lower_case, measured_ops
from jax2tfjs.lowering import NOT_SUPPORTED, RULES
from jax2tfjs.lowering.primitives import ALIASES

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


def render() -> str:
    measured = measured_ops()
    tracing: dict[str, list[str]] = {}  # primitive → its rule's cases that trace it
    for primitive, case in all_cases().values():
        for name in RULES[primitive].group:
            if name in lower_case(case).primitives:
                tracing.setdefault(name, []).append(case.name)
    lines = [
        HEADER,
        f"## Lowered: {len(RULES)} primitives\n",
        "| primitive | TF ops emitted | parity cases | limits |",
        "| --- | --- | --- | --- |",
    ]
    for name in sorted(RULES):
        cases = ", ".join(tracing.get(name, [])) or "(none)"
        lines.append(f"| `{name}` | {_ops_cell(name, measured)} | {cases} | {RULES[name].limits or ''} |")
    lines += [
        "",
        f"## Refused on purpose: {len(NOT_SUPPORTED)} primitives\n",
        "| primitive | why, and what to do |",
        "| --- | --- |",
    ]
    lines += [f"| `{name}` | {reason} |" for name, reason in sorted(NOT_SUPPORTED.items())]
    lines += [
        "",
        "## Renamed primitives\n",
        "Rules are keyed by the primitives of the installed JAX; a rule may name one of these older",
        "names, which registers it for the primitive JAX uses now.\n",
        "| older name | primitive now |",
        "| --- | --- |",
    ]
    lines += [f"| `{old}` | `{new}` |" for old, new in sorted(ALIASES.items())]
    lines += ["", "Any other primitive raises `J2T301` naming it and the source line that produced it.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
