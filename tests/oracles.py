"""Independent computations the tests compare mlpx against, written from the documented rules
with NumPy and scikit-learn only (nothing here imports mlpx).

The validation split is "a seeded stratified ``data.val_fraction`` of every class, drawn by
the generator seeded ``[seed, 1]``" and the normalisation is "fitted on the training part"
(README, ``mlpx.data.dataset``): a test that builds its validation inputs with mlpx's own
loader cannot see either rule broken, so these spell them out again.
"""

from __future__ import annotations

import numpy as np


def documented_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) row indices, both sorted: per class in label order, the rows of that class
    shuffled by the generator seeded ``[seed, 1]``, the first round(fraction * n) of them
    (at least one, at most n - 1; none for a class of one) held out."""
    rng = np.random.default_rng([seed, 1])
    held: list[int] = []
    for label in sorted(set(y.tolist())):
        rows = rng.permutation([i for i, v in enumerate(y.tolist()) if v == label])
        n = len(rows)
        k = 0 if n < 2 else min(max(int(round(fraction * n)), 1), n - 1)
        held.extend(int(r) for r in rows[:k])
    val = np.array(sorted(held), dtype=np.int64)
    train = np.array([i for i in range(len(y)) if i not in set(held)], dtype=np.int64)
    return train, val


def standard_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and population std (constant features: std 1), in float64."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    return mean, np.where(std > 0, std, 1.0)


def digits_split(seed: int = 0, fraction: float = 0.2):
    """scikit-learn's digits split by the documented rule, standardised on its training rows:
    (x_train, y_train, x_val, y_val, mean, std), x in float64."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    train, val = documented_split(y, fraction, seed)
    mean, std = standard_stats(x[train])
    return (x[train] - mean) / std, y[train], (x[val] - mean) / std, y[val], mean, std


def report_supports(report: str, split: str = "val") -> dict[str, int]:
    """Per-class support of the classification report on ``split`` in a report.txt."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if f"on the {split} split" in line)
    supports: dict[str, int] = {}
    for line in lines[start + 1 :]:
        fields = line.split()
        if fields[:1] == ["accuracy"]:
            break
        if len(fields) == 5 and fields[0] != "precision":
            supports[fields[0]] = int(fields[4])
    return supports
