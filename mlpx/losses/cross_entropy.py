"""Softmax cross-entropy: log-sum-exp in NumPy, ``F.cross_entropy`` in torch."""

from __future__ import annotations

import numpy as np

from mlpx.losses.base import Loss


def logsumexp(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """Stable ``log(sum(exp(scores)))`` along ``axis`` with the max-shift trick.

    ``c + log(sum(exp(s - c)))`` with ``c = max(s)``: the largest exponent is exp(0) = 1, so
    nothing overflows, and the sum is >= 1, so the log never sees 0. Works for any float dtype
    and keeps it; e.g. scores (N, C) -> (N,).
    """
    # the ufuncs' own reductions: np.max/np.sum wrappers cost more than a 64x10 batch's work
    shift = np.maximum.reduce(scores, axis=axis, keepdims=True)
    total = np.add.reduce(np.exp(scores - shift), axis=axis, keepdims=True)
    lse = np.log(total, out=total)
    lse += shift
    return np.squeeze(lse, axis=axis)


def softmax_cross_entropy(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean softmax cross-entropy and its gradient, computed with log-sum-exp.

    Parameters
    ----------
    scores : (N, C) logits, any magnitude (stable for +-1000).
    y : (N,) integer labels in [0, C).

    Returns
    -------
    loss : mean over the batch of ``logsumexp(s) - s_y``.
    dscores : (N, C) gradient of the loss, ``(softmax(s) - onehot(y)) / N``, dtype of scores.
    """
    n = scores.shape[0]
    lse = logsumexp(scores, axis=1)
    rows = np.arange(n)
    loss = float(np.add.reduce(lse - scores[rows, y])) / n
    dscores = np.subtract(scores, lse[:, None])
    np.exp(dscores, out=dscores)
    dscores[rows, y] -= 1
    dscores /= n
    return loss, dscores


def stacked_softmax_cross_entropy(
    scores: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`softmax_cross_entropy` of K models at once, the same arithmetic per model.

    scores : (K, N, C) logits, y : (K, N) labels; returns the K mean losses (K,) and the
    gradients (K, N, C).
    """
    k, n, _ = scores.shape
    lse = logsumexp(scores, axis=2)
    models, rows = np.arange(k)[:, None], np.arange(n)[None, :]
    # float64, as float(sum) / n is for one model
    losses = np.add.reduce(lse - scores[models, rows, y], axis=1).astype(np.float64) / n
    dscores = np.subtract(scores, lse[:, :, None])
    np.exp(dscores, out=dscores)
    dscores[models, rows, y] -= 1
    dscores /= n
    return losses, dscores


def torch_stacked_cross_entropy():
    """``F.cross_entropy`` of K models at once: (K, N, C) logits, (K, N) labels -> (K,)."""
    from torch.nn import functional

    def losses(logits, y):
        k, n, c = logits.shape
        each = functional.cross_entropy(
            logits.reshape(k * n, c), y.reshape(k * n), reduction="none"
        )
        return each.view(k, n).mean(dim=1)

    return losses


def torch_cross_entropy():
    """``torch.nn.functional.cross_entropy`` (mean over the batch)."""
    from torch.nn import functional

    return functional.cross_entropy


ENTRY = Loss(
    "cross_entropy",
    "softmax cross-entropy of the class scores (nn.CrossEntropyLoss)",
    numpy=softmax_cross_entropy,
    stacked_numpy=stacked_softmax_cross_entropy,
    torch=torch_cross_entropy,
    stacked_torch=torch_stacked_cross_entropy,
)
