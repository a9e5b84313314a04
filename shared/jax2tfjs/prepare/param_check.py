"""Compare a parameter tree with the one the model expects, and say how they differ in words.

`expected` holds `jax.ShapeDtypeStruct` leaves (from `jax.eval_shape(model.init, …)`), `given` the
user's arrays. The diff lists missing and unexpected paths and per-path shape differences, short
enough to read in an error message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jax2tfjs.prepare.trees import Path, Tree, fmt, leaves, listing, natural_key, shape_of


@dataclass
class ParamDiff:
    missing: list[Path] = field(default_factory=list)
    unexpected: list[Path] = field(default_factory=list)
    # (path, given shape, expected shape)
    shapes: list[tuple[Path, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    matching: int = 0  # paths present on both sides
    expected_count: int = 0

    @property
    def keys_match(self) -> bool:
        return not self.missing and not self.unexpected

    @property
    def shapes_match(self) -> bool:
        return not self.shapes


def _sorted(paths: list[Path]) -> list[Path]:
    return sorted(paths, key=lambda p: tuple(natural_key(k) for k in p))


def compare(given: Tree, expected: Tree) -> ParamDiff:
    have, want = leaves(given), leaves(expected)
    common = [p for p in want if p in have]
    return ParamDiff(
        missing=_sorted([p for p in want if p not in have]),
        unexpected=_sorted([p for p in have if p not in want]),
        shapes=[
            (p, shape_of(have[p]), shape_of(want[p]))
            for p in _sorted(common)
            if shape_of(have[p]) != shape_of(want[p])
        ],
        matching=len(common),
        expected_count=len(want),
    )


def describe_keys(diff: ParamDiff) -> str:
    parts = []
    if diff.missing:
        parts.append("missing " + listing([fmt(p) for p in diff.missing]))
    if diff.unexpected:
        parts.append("unexpected " + listing([fmt(p) for p in diff.unexpected]))
    return (
        f"the parameters do not match the model's keys ({diff.matching} of {diff.expected_count} "
        f"arrays match): " + "; ".join(parts)
    )


def describe_shapes(rows: list[tuple[Path, tuple[int, ...], tuple[int, ...]]]) -> str:
    items = [f"{fmt(p)} given {given}, model wants {want}" for p, given, want in rows]
    noun = "parameter has" if len(rows) == 1 else "parameters have"
    return f"{len(rows)} {noun} another shape than the model's: " + listing(items, limit=4)
