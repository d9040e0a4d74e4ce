"""Gradient clipping of the torch backend: ``torch.nn.utils``' arithmetic on a list of gradients.

``torch.nn.utils.clip_grad_norm_`` and ``clip_grad_value_`` read ``p.grad`` of parameters; the
backend has the gradients ``torch.autograd.grad`` returned instead, so this is the same
arithmetic (foreach kernels, the clip factor kept on the device: no host sync per step).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from mlpx.config import TrainConfig

NORM_EPS = 1e-6
"""Added to the norm before dividing, as ``torch.nn.utils.clip_grad_norm_`` adds it."""


@torch.no_grad()
def clip_grad_norm(grads: list[torch.Tensor], max_norm: float) -> None:
    """Scale ``grads`` in place by ``min(max_norm / (total 2-norm + 1e-6), 1)``."""
    norms = torch._foreach_norm(grads, 2.0)
    total = torch.linalg.vector_norm(torch.stack(norms), 2.0)
    torch._foreach_mul_(grads, torch.clamp(max_norm / (total + NORM_EPS), max=1.0))


@torch.no_grad()
def clip_grad_value(grads: list[torch.Tensor], clip_value: float) -> None:
    """Clamp every element of ``grads`` to [-clip_value, clip_value] in place."""
    torch._foreach_clamp_min_(grads, -clip_value)
    torch._foreach_clamp_max_(grads, clip_value)


def gradient_clip(train: TrainConfig) -> Callable[[list[torch.Tensor]], None] | None:
    """The clipping ``train.clip_grad_norm`` or ``train.clip_grad_value`` asks for, or None."""
    if train.clip_grad_norm is not None:
        return partial(clip_grad_norm, max_norm=train.clip_grad_norm)
    if train.clip_grad_value is not None:
        return partial(clip_grad_value, clip_value=train.clip_grad_value)
    return None
