"""Layers of the NumPy backend as forward/backward pairs (cs231n style).

Every ``*_forward`` returns ``(out, cache)``; the matching ``*_backward`` takes the upstream
gradient and that cache. Shapes: N samples, D input features, M output features, C classes.
Every array may also carry leading axes, the same on all of a call's arrays: a stack of K
models trained together (:mod:`mlpx.backends.numpy.stacked`) passes x (K, N, D), w (K, D, M)
and b (K, M), and gets each model's own result, as K separate calls would give it.
The losses (softmax cross-entropy, ...) are in :mod:`mlpx.losses`.
"""

from __future__ import annotations

import numpy as np


def affine_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, out: np.ndarray | None = None
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Affine layer ``x @ w + b``.

    Parameters
    ----------
    x : (N, D) inputs.
    w : (D, M) weights.
    b : (M,) biases.
    out : optional (N, M) buffer to write the result into.

    Returns
    -------
    out : (N, M) outputs.
    cache : ``(x, w)``, kept by reference: ``x`` must not change before the backward pass.
    """
    out = np.matmul(x, w, out=out)
    out += b[..., None, :]
    return out, (x, w)


def affine_backward(
    dout: np.ndarray,
    cache: tuple[np.ndarray, np.ndarray],
    dx: np.ndarray | None = None,
    dw: np.ndarray | None = None,
    db: np.ndarray | None = None,
    need_dx: bool = True,
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Backward pass of :func:`affine_forward`.

    Parameters
    ----------
    dout : (N, M) upstream gradient.
    cache : ``(x, w)`` from the forward pass, x (N, D) and w (D, M).
    dx, dw, db : optional (N, D), (D, M), (M,) buffers for the gradients. A ``dw`` in
        Fortran order (the transpose of a C-contiguous (M, D) block, as the NumPy backend
        stores its weights) is computed as ``dout.T @ x`` straight into that block: the
        same numbers, and BLAS runs that product faster than ``x.T @ dout``.
    need_dx : compute ``dx``; the first layer of a network skips it (nothing consumes it).

    Returns
    -------
    dx : (N, D) gradient with respect to x, or None when ``need_dx`` is false.
    dw : (D, M) gradient with respect to w.
    db : (M,) gradient with respect to b.
    """
    x, w = cache
    if need_dx:
        dx = np.matmul(dout, _t(w), out=dx)
    if dw is not None and not dw.flags.c_contiguous and _t(dw).flags.c_contiguous:
        np.matmul(_t(dout), x, out=_t(dw))
    else:
        dw = np.matmul(_t(x), dout, out=dw)
    db = np.add.reduce(dout, axis=-2, out=db)
    return (dx if need_dx else None), dw, db


def _t(a: np.ndarray) -> np.ndarray:
    """The transpose of every matrix in ``a`` (..., R, C) -> (..., C, R), a view."""
    return np.swapaxes(a, -1, -2)


def _rows(v: np.ndarray) -> np.ndarray:
    """A per-feature vector (..., M) as (..., 1, M), to broadcast over a batch's rows."""
    return v[..., None, :]


def relu_forward(x: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """ReLU ``max(x, 0)`` of x (N, M); ``out`` may be ``x`` itself. The cache is the output."""
    out = np.maximum(x, 0, out=out)
    return out, out


def relu_backward(dout: np.ndarray, cache: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Gradient (N, M) of ReLU: ``dout`` where the output was positive; ``out`` may be dout."""
    return np.multiply(dout, cache > 0, out=out)


def sigmoid_forward(x: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Logistic sigmoid ``1 / (1 + exp(-x))`` of x (N, M); ``out`` may be x. Cache: the output.

    ``exp(-x)`` overflows to inf for very negative x, which gives the exact limit 0, so the
    overflow warning is silenced rather than the formula changed.
    """
    out = np.negative(x, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)
    return out, out


def sigmoid_backward(
    dout: np.ndarray, cache: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """Gradient (N, M) of the sigmoid, ``dout * s * (1 - s)`` with s the cached output."""
    out = np.multiply(dout, cache, out=out)
    out *= 1 - cache
    return out


def tanh_forward(x: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hyperbolic tangent of x (N, M); ``out`` may be x. The cache is the output."""
    out = np.tanh(x, out=out)
    return out, out


def tanh_backward(dout: np.ndarray, cache: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Gradient (N, M) of tanh, ``dout * (1 - t**2)`` with t the cached output."""
    return np.multiply(dout, 1 - np.square(cache), out=out)


ACTIVATIONS = {
    "relu": (relu_forward, relu_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
}
"""Forward/backward pair of every activation a config can name."""


def batchnorm_forward(
    x: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    train: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
    out: np.ndarray | None = None,
    xhat: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """Batch normalisation over the batch axis, as ``torch.nn.BatchNorm1d`` computes it.

    In train mode the batch is normalised with its own mean and biased variance, and the
    running statistics are updated in place with the *unbiased* variance:
    ``running = (1 - momentum) * running + momentum * batch_stat``. In eval mode the running
    statistics normalise and nothing is updated.

    Parameters
    ----------
    x : (N, M) inputs; N must be at least 2 in train mode.
    gamma, beta : (M,) learned scale and shift.
    running_mean, running_var : (M,) running statistics, updated in place in train mode.
    train : use (and update with) batch statistics.
    momentum, eps : as in ``torch.nn.BatchNorm1d``.
    out : optional (N, M) buffer for the output; may be ``x`` itself.
    xhat : optional (N, M) buffer for the normalised inputs (train mode).

    Returns
    -------
    out : (N, M) ``gamma * xhat + beta``.
    cache : ``(xhat, gamma, inv_std)`` for :func:`batchnorm_backward` in train mode, else None.
    """
    if not train:
        inv_std = 1 / np.sqrt(running_var + eps)
        out = np.subtract(x, _rows(running_mean), out=out)
        out *= _rows(inv_std * gamma)
        out += _rows(beta)
        return out, None
    n = x.shape[-2]
    if n < 2:
        raise ValueError(f"batch norm in train mode needs more than 1 sample per batch, got {n}")
    mean = np.mean(x, axis=-2)
    xhat = np.subtract(x, _rows(mean), out=xhat)
    var = np.einsum("...nm,...nm->...m", xhat, xhat) / n
    inv_std = 1 / np.sqrt(var + eps)
    xhat *= _rows(inv_std)
    out = np.multiply(xhat, _rows(gamma), out=out)
    out += _rows(beta)
    running_mean *= 1 - momentum
    running_mean += momentum * mean
    running_var *= 1 - momentum
    running_var += (momentum * n / (n - 1)) * var
    return out, (xhat, gamma, inv_std)


def batchnorm_backward(
    dout: np.ndarray,
    cache: tuple[np.ndarray, np.ndarray, np.ndarray],
    dx: np.ndarray | None = None,
    dgamma: np.ndarray | None = None,
    dbeta: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of :func:`batchnorm_forward` in train mode (batch statistics).

    Uses the simplified form ``dx = gamma * inv_std / N * (N * dout - sum(dout) -
    xhat * sum(dout * xhat))``, which accounts for the batch mean and variance depending on x.

    Parameters
    ----------
    dout : (N, M) upstream gradient.
    cache : ``(xhat, gamma, inv_std)`` from the forward pass.
    dx : optional (N, M) buffer for the input gradient; may be ``dout`` itself.
    dgamma, dbeta : optional (M,) buffers.

    Returns
    -------
    dx : (N, M), dgamma : (M,), dbeta : (M,).
    """
    xhat, gamma, inv_std = cache
    n = dout.shape[-2]
    dbeta = np.sum(dout, axis=-2, out=dbeta)
    dgamma = np.einsum("...nm,...nm->...m", dout, xhat, out=dgamma)
    dx = np.multiply(dout, n, out=dx)
    dx -= _rows(dbeta)
    dx -= xhat * _rows(dgamma)
    dx *= _rows(gamma * inv_std / n)
    return dx, dgamma, dbeta


def dropout_mask(p: float, rng: np.random.Generator, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` (N, M), float32 or float64, with an inverted-dropout mask and return it.

    Each entry is 0 with probability ``p`` and ``1 / (1 - p)`` otherwise: scaling at train
    time keeps the expected activation unchanged, so inference needs no rescaling. ``rng`` is
    the seeded generator that owns the randomness.
    """
    rng.random(out=out, dtype=out.dtype)
    np.greater_equal(out, p, out=out)
    out /= 1 - p
    return out


def dropout_forward(
    x: np.ndarray, mask: np.ndarray, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Apply an inverted-dropout mask (N, M) from :func:`dropout_mask` to x (N, M).

    The mask is passed in (not drawn here) so that a check can hold it fixed. Returns the
    output (N, M) and the mask as cache.
    """
    return np.multiply(x, mask, out=out), mask


def dropout_backward(
    dout: np.ndarray, cache: np.ndarray, out: np.ndarray | None = None
) -> np.ndarray:
    """Gradient (N, M) of dropout: ``dout * mask``; ``out`` may be dout."""
    return np.multiply(dout, cache, out=out)
