"""Gradient clipping on the NumPy backend's flat gradient buffer, as ``torch.nn.utils`` does it.

Both functions work in place on every gradient of the network at once: the gradients are one
flat array (see :mod:`mlpx.backends.numpy.stepping`), so the global norm is one dot product.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mlpx.config import TrainConfig

NORM_EPS = 1e-6
"""Added to the norm before dividing, as ``torch.nn.utils.clip_grad_norm_`` adds it."""


def clip_grad_norm(grads: np.ndarray, max_norm: float) -> None:
    """Scale ``grads`` (P,) in place by ``min(max_norm / (||grads||_2 + 1e-6), 1)``, the
    arithmetic of ``torch.nn.utils.clip_grad_norm_`` over all of a model's gradients."""
    norm = np.sqrt(np.dot(grads, grads))
    coef = max_norm / (norm + NORM_EPS)
    if coef < 1:
        grads *= coef


def clip_grad_value(grads: np.ndarray, clip_value: float) -> None:
    """Clamp every element of ``grads`` (P,) to [-clip_value, clip_value] in place, as
    ``torch.nn.utils.clip_grad_value_`` does."""
    np.clip(grads, -clip_value, clip_value, out=grads)


def gradient_clip(train: TrainConfig) -> Callable[[np.ndarray], None] | None:
    """The clipping ``train.clip_grad_norm`` or ``train.clip_grad_value`` asks for, or None."""
    if train.clip_grad_norm is not None:
        return partial(clip_grad_norm, max_norm=train.clip_grad_norm)
    if train.clip_grad_value is not None:
        return partial(clip_grad_value, clip_value=train.clip_grad_value)
    return None
