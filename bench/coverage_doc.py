"""docs/coverage.md, generated from the rule registry (`make docs`; a test fails when it is stale)."""

from __future__ import annotations

from jax2tfjs.lowering import NOT_SUPPORTED, RULES

HEADER = """# Lowering coverage

Generated from `jax2tfjs.lowering` by `make docs`; do not edit by hand (`tests/convert_env/test_docs.py` fails
when this file is stale). Every lowered primitive has parity cases run against JAX with a dynamic
batch dimension (`tests/convert_env/test_lowering_parity.py`).
"""


def render() -> str:
    lines = [
        HEADER,
        f"## Lowered: {len(RULES)} primitives\n",
        "| primitive | TF ops emitted | parity cases | limits |",
        "| --- | --- | --- | --- |",
    ]
    for name in sorted(RULES):
        rule = RULES[name]
        cases = (
            ", ".join(case.name for case in rule.cases) or "(legacy name; no longer emitted by current JAX)"
        )
        lines.append(f"| `{name}` | {', '.join(rule.tf_ops)} | {cases} | {rule.limits or ''} |")
    lines += [
        "",
        f"## Refused on purpose: {len(NOT_SUPPORTED)} primitives\n",
        "| primitive | why, and what to do |",
        "| --- | --- |",
    ]
    lines += [f"| `{name}` | {reason} |" for name, reason in sorted(NOT_SUPPORTED.items())]
    lines += ["", "Any other primitive raises `J2T301` naming it and the source line that produced it.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render(), end="")
