"""Adam and AdamW: bias-corrected first and second moment estimates."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlpx.optimizers.base import Optimizer, TorchUpdate, UpdateRule


@dataclass(frozen=True)
class Adam(UpdateRule):
    """``torch.optim.Adam`` (bias-corrected moments), or ``AdamW`` with decoupled decay.

    Coupled (Adam): ``weight_decay * w`` is added to the gradient. Decoupled (AdamW): ``w``
    is first multiplied by ``1 - lr * weight_decay`` and the gradient is left alone.
    """

    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    decoupled_weight_decay: bool = False
    elementwise = False  # one step count for all parameters: one update call per step

    def init_state(self, w: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "step": np.zeros((), dtype=np.int64),
            "exp_avg": np.zeros_like(w),
            "exp_avg_sq": np.zeros_like(w),
        }

    def update(
        self, w: np.ndarray, dw: np.ndarray, state: dict[str, np.ndarray], lr: float
    ) -> None:
        beta1, beta2 = self.betas
        state["step"] += 1
        step = int(state["step"])
        if self.weight_decay and self.decoupled_weight_decay:
            w *= 1 - lr * self.weight_decay
        elif self.weight_decay:
            dw += self.weight_decay * w
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg_sq *= beta2
        exp_avg_sq += np.square(dw) * (1 - beta2)
        # torch's lerp: exp_avg += (grad - exp_avg) * (1 - beta1), computed in dw's memory.
        dw -= exp_avg
        dw *= 1 - beta1
        exp_avg += dw
        step_size = lr / (1 - beta1**step)
        denom = np.sqrt(exp_avg_sq, out=dw)
        denom /= math.sqrt(1 - beta2**step)
        denom += self.eps
        np.divide(exp_avg, denom, out=dw)
        dw *= -step_size
        w += dw


def torch_adam(weight_decay: float, decoupled: bool) -> TorchUpdate:
    """``torch.optim.adam.adam`` (or ``adamw.adamw``) with torch's default betas and eps."""
    from torch.optim import adam, adamw

    hyperparameters = {"amsgrad": False, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    hyperparameters |= {"weight_decay": weight_decay, "maximize": False}
    function = adamw.adamw if decoupled else adam.adam
    return TorchUpdate(function, ("exp_avg", "exp_avg_sq", None, "step"), hyperparameters)


ENTRIES = (
    Optimizer(
        "adam",
        "Adam (torch.optim.Adam: betas 0.9, 0.999, eps 1e-8)",
        numpy_rule=lambda s: Adam(weight_decay=s.weight_decay),
        torch_update=lambda s: torch_adam(s.weight_decay, decoupled=False),
    ),
    Optimizer(
        "adamw",
        "Adam with decoupled weight decay (torch.optim.AdamW)",
        numpy_rule=lambda s: Adam(weight_decay=s.weight_decay, decoupled_weight_decay=True),
        torch_update=lambda s: torch_adam(s.weight_decay, decoupled=True),
    ),
)
