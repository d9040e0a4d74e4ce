"""Layers of the NumPy backend as forward/backward pairs (cs231n style).

Every ``*_forward`` returns ``(out, cache)``; the matching ``*_backward`` takes the upstream
gradient and that cache. Shapes: N samples, D input features, M output features, C classes.
"""

from __future__ import annotations

import numpy as np


def logsumexp(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """Stable ``log(sum(exp(scores)))`` along ``axis`` with the max-shift trick.

    ``c + log(sum(exp(s - c)))`` with ``c = max(s)``: the largest exponent is exp(0) = 1, so
    nothing overflows, and the sum is >= 1, so the log never sees 0. Works for any float dtype
    and keeps it; e.g. scores (N, C) -> (N,).
    """
    shift = np.max(scores, axis=axis, keepdims=True)
    total = np.sum(np.exp(scores - shift), axis=axis, keepdims=True)
    return np.squeeze(shift + np.log(total), axis=axis)


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
    loss = float(np.mean(lse - scores[rows, y]))
    dscores = np.exp(scores - lse[:, None])
    dscores[rows, y] -= 1
    dscores /= n
    return loss, dscores
