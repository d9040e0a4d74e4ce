"""Mean squared error (``nn.MSELoss``, mean reduction) for both tasks.

Regression: the network's outputs (N, K) against the real targets (N, K). Classification:
the softmax probabilities of the scores (N, C) against one-hot targets, averaged over all
N * C elements as ``nn.MSELoss`` does (a tenth of the Brier score for 10 classes).
"""

from __future__ import annotations

import numpy as np

from mlpx.losses.base import Loss


def squared_error(outputs: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """``mean((outputs - targets) ** 2)`` over every element of (N, K), and its gradient
    ``2 (outputs - targets) / (N K)`` (N, K) in the outputs' dtype."""
    diff = np.subtract(outputs, targets, dtype=outputs.dtype)
    loss = float(np.vdot(diff, diff)) / diff.size
    diff *= 2.0 / diff.size
    return loss, diff


def softmax_squared_error(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error between softmax(scores) (N, C) and one-hot(y) for labels y (N,),
    and its gradient with respect to the scores (N, C), through the softmax's Jacobian:
    ``p * (g - sum_c g_c p_c)`` with g the gradient with respect to the probabilities."""
    shifted = scores - np.maximum.reduce(scores, axis=1, keepdims=True)
    p = np.exp(shifted)
    p /= np.add.reduce(p, axis=1, keepdims=True)
    diff = p.copy()
    diff[np.arange(len(y)), y] -= 1
    loss = float(np.vdot(diff, diff)) / diff.size
    g = diff * (2.0 / diff.size)
    dscores = p * (g - np.add.reduce(g * p, axis=1, keepdims=True))
    return loss, dscores


def torch_softmax_mse():
    """``nn.MSELoss()`` of ``softmax(logits)`` against ``one_hot(y)``."""
    import torch
    from torch import nn

    mse = nn.MSELoss()

    def loss(logits, y):
        onehot = nn.functional.one_hot(y, logits.shape[1]).to(logits.dtype)
        return mse(torch.softmax(logits, dim=1), onehot)

    return loss


def torch_mse():
    """``nn.MSELoss()`` (mean over every element)."""
    from torch import nn

    return nn.MSELoss()


ENTRY = Loss(
    "mse",
    "mean squared error (nn.MSELoss): of the outputs for regression, of the softmax "
    "probabilities against one-hot labels for classification",
    numpy=softmax_squared_error,
    torch=torch_softmax_mse,
    regression_numpy=squared_error,
    regression_torch=torch_mse,
)
