"""A noisy function of two inputs to fit: ``y = sin(3 x1) x2 + noise`` (a regression demo
whose fit can be drawn over the plane)."""

from __future__ import annotations

import numpy as np

from mlpx.data.dataset import Source

N_TRAIN, N_TEST = 2_000, 1_000
NOISE = 0.1
"""Standard deviation of the Gaussian noise on the targets: the lowest RMSE a model can
reach on average."""


def target(x: np.ndarray) -> np.ndarray:
    """The noiseless function at points x (N, 2): ``sin(3 x1) * x2`` (N,)."""
    return np.sin(3 * x[:, 0]) * x[:, 1]


def load(config) -> Source:
    """2,000 training and 1,000 test points, uniform on [-1, 1]^2, from a fixed seed."""
    rng = np.random.default_rng(2027)
    x = rng.uniform(-1.0, 1.0, size=(N_TRAIN + N_TEST, 2))
    y = target(x) + NOISE * rng.standard_normal(len(x))
    return Source(
        x=x[:N_TRAIN],
        y=y[:N_TRAIN],
        x_test=x[N_TRAIN:],
        y_test=y[N_TRAIN:],
        class_names=["y"],
    )
