"""Regression losses less swayed by outliers than squared error: ``mae`` (``nn.L1Loss``)
and ``huber`` (``nn.HuberLoss``, quadratic within ``huber_delta``, linear beyond)."""

from __future__ import annotations

import numpy as np

from mlpx.losses.base import Loss


def absolute_error(outputs: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """``mean(|outputs - targets|)`` over every element of (N, K), and its gradient
    ``sign(outputs - targets) / (N K)`` (0 where they are equal, as torch's)."""
    diff = np.subtract(outputs, targets, dtype=outputs.dtype)
    loss = float(np.abs(diff).sum()) / diff.size
    return loss, np.sign(diff) / np.asarray(diff.size, dtype=diff.dtype)


def huber(
    outputs: np.ndarray, targets: np.ndarray, huber_delta: float = 1.0
) -> tuple[float, np.ndarray]:
    """``nn.HuberLoss(delta=huber_delta)``: mean over (N, K) of ``d**2 / 2`` where
    ``|d| < delta`` and ``delta * (|d| - delta / 2)`` elsewhere, d = outputs - targets; the
    gradient is ``clip(d, -delta, delta) / (N K)``."""
    diff = np.subtract(outputs, targets, dtype=outputs.dtype)
    size = np.abs(diff)
    inside = size < huber_delta
    elements = np.where(inside, 0.5 * diff * diff, huber_delta * (size - 0.5 * huber_delta))
    loss = float(elements.sum()) / diff.size
    grad = np.clip(diff, -huber_delta, huber_delta)
    grad /= diff.size
    return loss, grad


def torch_l1():
    """``nn.L1Loss()`` (mean over every element)."""
    from torch import nn

    return nn.L1Loss()


def torch_huber():
    """``nn.HuberLoss(delta=huber_delta)`` (mean over every element)."""
    from torch.nn import functional

    def loss(outputs, targets, huber_delta=1.0):
        return functional.huber_loss(outputs, targets, delta=huber_delta)

    return loss


MAE = Loss(
    "mae",
    "mean absolute error of the outputs (nn.L1Loss); regression only",
    regression_numpy=absolute_error,
    regression_torch=torch_l1,
)
HUBER = Loss(
    "huber",
    "Huber loss of the outputs (nn.HuberLoss, delta huber_delta); regression only",
    regression_numpy=huber,
    regression_torch=torch_huber,
    settings=("huber_delta",),
)
