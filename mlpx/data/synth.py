"""2-D points labelled by an ellipse: class 1 where x^T Q x > 0.6 (a decision-boundary demo)."""

from __future__ import annotations

import numpy as np

from mlpx.data.dataset import Source

Q = np.array([[1.0, -0.05], [1.0, 0.4]])
N_TRAIN, N_TEST = 60_000, 10_000


def label(x: np.ndarray) -> np.ndarray:
    """Class of every point x (N, 2): 1 where x^T Q x > 0.6, else 0."""
    return (np.einsum("ni,ij,nj->n", x, Q, x) > 0.6).astype(np.int64)


def load(config) -> Source:
    """60,000 training and 10,000 test points from a fixed-seed standard normal."""
    rng = np.random.default_rng(2026)
    x = rng.standard_normal((N_TRAIN + N_TEST, 2))
    y = label(x)
    return Source(
        x=x[:N_TRAIN],
        y=y[:N_TRAIN],
        x_test=x[N_TRAIN:],
        y_test=y[N_TRAIN:],
        class_names=["inside", "outside"],
    )
