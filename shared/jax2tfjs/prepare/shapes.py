"""Shape auto-fix: read a parameter saved in another framework's layout, or flattened, the way the
model wants it, when the model's shapes allow exactly one reading.

Readings of one array: each known source layout whose transpose gives the expected shape (PyTorch's
OIHW, …; a dense kernel saved as (out, in)), and a plain C-order reshape when it only merges or splits
neighbouring dims (flattened ↔ unflattened, dropped size-1 dims). Readings that give the same array
count once. When one array allows several layouts (a conv with as many inputs as outputs fits OIHW
and IOHW), the layout every other array of its kind was read in decides; with no such consensus the
fix is refused and the tied readings named. Once a layout is chosen for a kind of array, any array
of that kind whose shape the layout maps onto itself (a square dense kernel) is ambiguous: saved
transposed or not, the shapes cannot tell, so that is refused too.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from jax2tfjs.prepare.trees import Path, Tree, fmt, leaves, listing, shape_of, unflatten

# Flax's layouts: dense (in, out); convolutions spatial dims, then in, then out.
TARGET = {2: "IO", 3: "WIO", 4: "HWIO", 5: "DHWIO"}
TARGET_NAMES = {2: "(in, out)", 3: "WIO", 4: "HWIO", 5: "DHWIO"}
SOURCES: dict[int, dict[str, str]] = {
    2: {"OI": "(out, in) (PyTorch Linear)"},
    3: {"OIW": "OIW (PyTorch Conv1d)", "IOW": "IOW (PyTorch ConvTranspose1d)", "OWI": "OWI"},
    4: {
        "OIHW": "OIHW (PyTorch Conv2d, ONNX)",
        "IOHW": "IOHW (PyTorch ConvTranspose2d)",
        "OHWI": "OHWI (TFLite)",
        "HWOI": "HWOI (TF conv2d_transpose filters)",
    },
    5: {"OIDHW": "OIDHW (PyTorch Conv3d)", "IODHW": "IODHW (PyTorch ConvTranspose3d)"},
}
RESHAPE = "reshape"
# Transposed-convolution layouts: PyTorch's ConvTranspose and TF's conv2d_transpose are gradients of a
# convolution, so their kernels are also flipped spatially relative to Flax's ConvTranspose
# (transpose_kernel=False). A transpose alone would give a model that runs and computes the wrong
# thing, so these readings are recognised, then refused with the whole recipe.
TRANSPOSED_CONV = {"IOW", "IOHW", "IODHW", "HWOI"}
# Channels-first convolution layouts (PyTorch, ONNX): their models flatten features in C, H, W order.
CHANNELS_FIRST = {"OIW", "OIHW", "OIDHW"}


@dataclass
class Reading:
    name: str  # a source layout (e.g. "OIHW") or RESHAPE
    perm: tuple[int, ...] | None  # the transpose, None for a reshape
    result: np.ndarray


@dataclass
class ShapePlan:
    tree: Tree
    changes: list[str] = field(default_factory=list)
    unfixable: list[tuple[Path, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unfixable and not self.ambiguous


def layout_perm(source: str, rank: int) -> tuple[int, ...]:
    return tuple(source.index(axis) for axis in TARGET[rank])


def _prefix_products(shape: tuple[int, ...]) -> set[int]:
    dims = [d for d in shape if d != 1]
    return {math.prod(dims[: i + 1]) for i in range(len(dims))}


def only_merges_dims(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    """True when a C-order reshape between a and b merges or splits neighbouring dims only (so the
    data keeps its order: a flatten, an unflatten, or size-1 dims added or dropped)."""
    if math.prod(a) != math.prod(b):
        return False
    pa, pb = _prefix_products(a), _prefix_products(b)
    return pa <= pb or pb <= pa


def readings(array: np.ndarray, want: tuple[int, ...]) -> list[Reading]:
    """Every distinct way to read `array` as shape `want`."""
    found: list[Reading] = []
    if array.ndim == len(want) and array.ndim in SOURCES:
        for source in SOURCES[array.ndim]:
            perm = layout_perm(source, array.ndim)
            if tuple(array.shape[p] for p in perm) == want:
                found.append(Reading(source, perm, np.transpose(array, perm)))
    if only_merges_dims(array.shape, want):
        found.append(Reading(RESHAPE, None, array.reshape(want)))
    distinct: list[Reading] = []
    for reading in found:
        if not any(np.array_equal(reading.result, kept.result) for kept in distinct):
            distinct.append(reading)
    return distinct


def _kind(path: Path, rank: int) -> tuple[int, str]:
    """Arrays of one kind (a rank and a leaf name, e.g. 4-D 'kernel') come from one framework."""
    return rank, path[-1] if path else ""


def _describe(path: Path, array: np.ndarray, reading: Reading, want: tuple[int, ...]) -> str:
    if reading.perm is None:
        return f"{fmt(path)}: reshaped {tuple(array.shape)} → {want} (flattened or split dims, order kept)"
    rank = array.ndim
    return (
        f"{fmt(path)}: read {tuple(array.shape)} as {SOURCES[rank][reading.name]}, "
        f"transposed to {TARGET_NAMES[rank]} {want}"
    )


def plan_shapes(given: Tree, expected: Tree) -> ShapePlan:
    """Fix every shape mismatch between `given` and `expected` (same keys) that has one reading."""
    have, want = leaves(given), leaves(expected)
    arrays = {path: np.asarray(leaf) for path, leaf in have.items()}
    plan = ShapePlan(tree=given)
    options: dict[Path, list[Reading]] = {}
    for path, target in want.items():
        shape = shape_of(target)
        if path in arrays and arrays[path].shape != shape:
            options[path] = readings(arrays[path], shape)
            if not options[path]:
                plan.unfixable.append((path, tuple(arrays[path].shape), shape))
    if not options:
        return plan

    # Layouts read unambiguously, per kind of array: the consensus for tied arrays of that kind.
    decided: dict[tuple[int, str], set[str]] = defaultdict(set)
    for path, found in options.items():
        if len(found) == 1 and found[0].perm is not None:
            decided[_kind(path, arrays[path].ndim)].add(found[0].name)
    chosen: dict[Path, Reading] = {}
    for path, found in options.items():
        if len(found) == 1:
            chosen[path] = found[0]
            continue
        if not found:
            continue
        consensus = decided.get(_kind(path, arrays[path].ndim), set())
        agreed = [r for r in found if r.name in consensus] if len(consensus) == 1 else []
        if agreed:
            chosen[path] = agreed[0]
        else:
            names = [SOURCES[arrays[path].ndim][r.name] if r.perm else RESHAPE for r in found]
            plan.ambiguous.append(
                f"{fmt(path)} {tuple(arrays[path].shape)} reads as {want[path].shape} in {len(found)} ways "
                f"({'; '.join(names)}) and no other array of its kind settles which"
            )

    # A chosen layout that would map another array of the kind onto its own shape: can't tell.
    used: dict[tuple[int, str], set[str]] = defaultdict(set)
    for path, reading in chosen.items():
        if reading.perm is not None:
            used[_kind(path, arrays[path].ndim)].add(reading.name)
    for path, array in arrays.items():
        if path in options or path not in want:
            continue
        for source in used.get(_kind(path, array.ndim), ()):
            perm = layout_perm(source, array.ndim)
            moved = perm != tuple(range(array.ndim))
            if moved and tuple(array.shape[p] for p in perm) == array.shape:
                plan.ambiguous.append(
                    f"{fmt(path)} {tuple(array.shape)}: the other {path[-1]}s were saved as "
                    f"{SOURCES[array.ndim][source]}, and this one reads the same either way "
                    "(saved transposed or not, its shape cannot tell)"
                )

    for path, reading in chosen.items():
        if reading.name in TRANSPOSED_CONV:
            plan.ambiguous.append(
                f"{fmt(path)} {tuple(arrays[path].shape)} reads only as {SOURCES[arrays[path].ndim][reading.name]}: "
                "weights of a transposed convolution, which also need a spatial flip for Flax's ConvTranspose "
                "(or transpose_kernel=True); convert them yourself, e.g. "
                f"np.transpose(w, {reading.perm})[::-1, ::-1]"
            )
    plan.ambiguous.extend(_flatten_order_risks(chosen, arrays, want))

    if plan.ok:
        fixed = dict(have)
        for path, reading in chosen.items():
            fixed[path] = reading.result
            plan.changes.append(_describe(path, arrays[path], reading, shape_of(want[path])))
        plan.tree = unflatten(fixed)
    return plan


def _flatten_order_risks(chosen: dict[Path, Reading], arrays: dict, want: dict) -> list[str]:
    """Dense kernels fed by a flatten, when the convolutions came from a channels-first framework:
    PyTorch flattens C, H, W where Flax flattens H, W, C, so such a kernel's rows are in another
    order, and the shapes cannot tell which. A dense layer is taken as fed by a flatten when its
    input width is no other layer's output width."""
    if not any(r.name in CHANNELS_FIRST for r in chosen.values()):
        return []
    widths = {path: shape_of(leaf) for path, leaf in want.items() if len(shape_of(leaf)) >= 2}
    risks = []
    for path, reading in chosen.items():
        if reading.name != "OI":
            continue
        fan_in = widths[path][0]
        if all(shape[-1] != fan_in for other, shape in widths.items() if other != path):
            risks.append(
                f"{fmt(path)} {tuple(arrays[path].shape)}: (out, in) from a channels-first model, fed by a "
                "flatten of conv features, whose rows PyTorch orders C, H, W and Flax H, W, C; permute "
                "them yourself: w.reshape(out, C, H, W).transpose(0, 2, 3, 1).reshape(out, -1).T"
            )
    return risks


def describe_refusal(plan: ShapePlan) -> str:
    return "ambiguous: " + listing(plan.ambiguous, limit=4)
