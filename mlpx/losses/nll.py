"""Negative log-likelihood of a log-softmax layer: ``nn.LogSoftmax`` then ``nn.NLLLoss``.

The two-module formulation of cross-entropy the course teaches: the network's scores go
through a log-softmax layer, and the loss is the mean of minus the log-probability of each
sample's class. Its numbers equal ``cross_entropy``'s (which fuses the two); here each module
is a forward/backward pair of its own, composed.
"""

from __future__ import annotations

import numpy as np

from mlpx.losses.base import Loss
from mlpx.losses.cross_entropy import logsumexp


def log_softmax_forward(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-probabilities ``s - logsumexp(s)`` of scores (N, C), and the cache (the
    log-probabilities themselves) for :func:`log_softmax_backward`."""
    log_probs = scores - logsumexp(scores, axis=1)[:, None]
    return log_probs, log_probs


def log_softmax_backward(dlog_probs: np.ndarray, log_probs: np.ndarray) -> np.ndarray:
    """Gradient (N, C) with respect to the scores: ``g - softmax(s) * sum_c g_c`` for the
    upstream gradient g (N, C)."""
    return dlog_probs - np.exp(log_probs) * dlog_probs.sum(axis=1, keepdims=True)


def nll_forward(log_probs: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean of ``-log_probs[i, y_i]`` over the batch (``nn.NLLLoss``), and its gradient
    (N, C): ``-1 / N`` at each sample's class, 0 elsewhere."""
    n = log_probs.shape[0]
    rows = np.arange(n)
    loss = -float(np.add.reduce(log_probs[rows, y])) / n
    dlog_probs = np.zeros_like(log_probs)
    dlog_probs[rows, y] = -1.0 / n
    return loss, dlog_probs


def log_softmax_nll(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """The log-softmax layer and NLL composed: mean loss and its gradient (N, C) with
    respect to the scores (N, C), for labels y (N,)."""
    log_probs, cache = log_softmax_forward(scores)
    loss, dlog_probs = nll_forward(log_probs, y)
    return loss, log_softmax_backward(dlog_probs, cache)


def torch_log_softmax_nll():
    """``nn.LogSoftmax(dim=1)`` followed by ``nn.NLLLoss()`` (mean over the batch)."""
    from torch import nn

    log_softmax, nll = nn.LogSoftmax(dim=1), nn.NLLLoss()

    def loss(logits, y):
        return nll(log_softmax(logits), y)

    return loss


ENTRY = Loss(
    "nll",
    "a log-softmax layer and the negative log-likelihood (nn.LogSoftmax + nn.NLLLoss)",
    numpy=log_softmax_nll,
    torch=torch_log_softmax_nll,
)
