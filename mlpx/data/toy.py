"""The classic two-layer-net check: five 4-feature points, three classes (cs231n)."""

from __future__ import annotations

import numpy as np

from mlpx.data.dataset import Source


def load(config) -> Source:
    """``np.random.seed(1); X = 10 * randn(5, 4)``, ``y = [0, 1, 2, 2, 1]``."""
    x = 10 * np.random.RandomState(1).randn(5, 4)
    return Source(x=x, y=np.array([0, 1, 2, 2, 1]))
