"""Splitting index sets: stratified splits, per-class keep fractions, over/undersampling.

Every function takes the `numpy.random.Generator` that drives it, so one seeded generator
used in a fixed order (core.data.prepare_dataset) makes every split reproducible.
"""

from __future__ import annotations

import numpy as np
import torch


def class_weights(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """N / (C * count_c) per class, 0 for a class absent from `labels`; float32 [C]."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    safe = np.where(counts > 0, counts, 1.0)
    weights = np.where(counts > 0, len(labels) / (num_classes * safe), 0.0)
    return torch.tensor(weights, dtype=torch.float32)


def split_counts(class_sizes: np.ndarray, split_sizes: list[int]) -> np.ndarray:
    """[C, S] samples of each class per split: margins exact, each within 1 of its share.

    Start from floor(share) and hand out the missing ones split by split, always to the
    classes still owing the most (Ryser's greedy; it always completes for such margins).
    """
    share = np.outer(class_sizes, split_sizes) / max(int(class_sizes.sum()), 1)
    counts = np.floor(share).astype(np.int64)
    owing = class_sizes - counts.sum(axis=1)
    for s, size in enumerate(split_sizes):
        extra = size - int(counts[:, s].sum())
        order = np.lexsort((counts[:, s] - share[:, s], -owing))  # most owed, then largest rest
        counts[order[:extra], s] += 1
        owing[order[:extra]] -= 1
    return counts


def split_indices(
    pool: np.ndarray,
    labels: np.ndarray,
    sizes: list[int],
    stratified: bool,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Cut `pool` (indices, with their `labels`) into disjoint parts of `sizes`, shuffled."""
    if not stratified:
        cuts = np.cumsum(sizes)[:-1]
        return np.split(rng.permutation(pool), cuts)
    classes = np.unique(labels)
    counts = split_counts(np.array([(labels == c).sum() for c in classes]), sizes)
    parts: list[list[np.ndarray]] = [[] for _ in sizes]
    for row, c in enumerate(classes):
        members = rng.permutation(pool[labels == c])
        for s, piece in enumerate(np.split(members, np.cumsum(counts[row])[:-1])):
            parts[s].append(piece)
    return [rng.permutation(np.concatenate(p)) for p in parts]


def keep_per_class(
    idx: np.ndarray, labels: np.ndarray, keep: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Keep a random `keep[c]` samples of each class c from `idx` (order stays random)."""
    chosen = np.zeros(len(idx), bool)
    for c, k in enumerate(keep):
        where = np.flatnonzero(labels == c)
        chosen[rng.permutation(where)[: int(k)]] = True
    return idx[chosen]


def apply_fractions(
    idx: np.ndarray, labels: np.ndarray, fractions: tuple[float, ...], rng: np.random.Generator
) -> np.ndarray:
    """round(f * count) of each digit; at least 1 when f > 0 and the digit is present."""
    present = np.bincount(labels, minlength=len(fractions))
    f = np.asarray(fractions)
    keep = np.round(f * present).astype(np.int64)
    keep = np.where((f > 0) & (present > 0), np.maximum(keep, 1), keep)
    return keep_per_class(idx, labels, keep, rng)


def rebalance(
    idx: np.ndarray,
    labels: np.ndarray,
    remedy: str,
    num_classes: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Over/undersample `idx` (with final class `labels`) to equal counts per present class."""
    counts = np.bincount(labels, minlength=num_classes)
    present = counts[counts > 0]
    if remedy == "undersample":
        return keep_per_class(idx, labels, np.where(counts > 0, present.min(), 0), rng)
    if remedy == "oversample":
        extra = [
            rng.choice(idx[labels == c], size=present.max() - counts[c], replace=True)
            for c in range(num_classes)
            if 0 < counts[c] < present.max()
        ]
        return rng.permutation(np.concatenate([idx, *extra]))
    return idx
