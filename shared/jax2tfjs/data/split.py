"""A seeded, stratified train/test split with exact totals."""

from __future__ import annotations

import numpy as np


def stratified_split(labels: np.ndarray, test_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (train, test): each class gives its share of `test_size`, largest remainder
    rounding makes the shares sum to exactly `test_size`; both arrays are shuffled with `seed`."""
    if not 0 < test_size < labels.size:
        raise ValueError(f"test_size must be in (0, {labels.size}), got {test_size}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * test_size / labels.size
    shares = np.floor(exact).astype(int)
    remainder_order = np.argsort(-(exact - shares), kind="stable")
    shares[remainder_order[: test_size - shares.sum()]] += 1
    train_parts, test_parts = [], []
    for cls, share in zip(classes, shares, strict=True):
        members = rng.permutation(np.flatnonzero(labels == cls))
        test_parts.append(members[:share])
        train_parts.append(members[share:])
    return rng.permutation(np.concatenate(train_parts)), rng.permutation(np.concatenate(test_parts))
