"""RMSprop and Adagrad: steps scaled by a running measure of the squared gradients."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlpx.optimizers.base import Optimizer, TorchUpdate, UpdateRule


@dataclass(frozen=True)
class RMSprop(UpdateRule):
    """``torch.optim.RMSprop`` without momentum, not centered: ``w -= lr * g / (sqrt(v) + eps)``."""

    alpha: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.0

    def init_state(self, w: np.ndarray) -> dict[str, np.ndarray]:
        return {"square_avg": np.zeros_like(w)}

    def update(
        self, w: np.ndarray, dw: np.ndarray, state: dict[str, np.ndarray], lr: float
    ) -> None:
        if self.weight_decay:
            dw += self.weight_decay * w
        square_avg = state["square_avg"]
        square_avg *= self.alpha
        square_avg += np.square(dw) * (1 - self.alpha)
        _step_by_scaled_gradient(w, dw, square_avg, self.eps, lr)


@dataclass(frozen=True)
class Adagrad(UpdateRule):
    """``torch.optim.Adagrad`` with lr_decay 0 and initial accumulator 0."""

    eps: float = 1e-10
    weight_decay: float = 0.0

    def init_state(self, w: np.ndarray) -> dict[str, np.ndarray]:
        return {"sum": np.zeros_like(w)}

    def update(
        self, w: np.ndarray, dw: np.ndarray, state: dict[str, np.ndarray], lr: float
    ) -> None:
        if self.weight_decay:
            dw += self.weight_decay * w
        state["sum"] += np.square(dw)
        _step_by_scaled_gradient(w, dw, state["sum"], self.eps, lr)


def _step_by_scaled_gradient(
    w: np.ndarray, dw: np.ndarray, accumulator: np.ndarray, eps: float, lr: float
) -> None:
    """``w -= lr * dw / (sqrt(accumulator) + eps)``, with one temporary."""
    denom = np.sqrt(accumulator)
    denom += eps
    dw /= denom
    dw *= -lr
    w += dw


def torch_rmsprop(weight_decay: float) -> TorchUpdate:
    """``torch.optim.rmsprop.rmsprop`` with torch's defaults (alpha 0.99, eps 1e-8)."""
    from torch.optim import rmsprop

    hyperparameters = {"alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "centered": False}
    hyperparameters |= {"weight_decay": weight_decay}
    return TorchUpdate(rmsprop.rmsprop, ("square_avg", None, None, "step"), hyperparameters)


def torch_adagrad(weight_decay: float) -> TorchUpdate:
    """``torch.optim.adagrad.adagrad`` with torch's defaults (eps 1e-10, lr_decay 0)."""
    from torch.optim import adagrad

    hyperparameters = {"lr_decay": 0.0, "eps": 1e-10, "weight_decay": weight_decay}
    return TorchUpdate(adagrad.adagrad, ("sum", "step"), hyperparameters | {"maximize": False})


ENTRIES = (
    Optimizer(
        "rmsprop",
        "RMSprop (torch.optim.RMSprop: alpha 0.99, eps 1e-8)",
        numpy_rule=lambda s: RMSprop(weight_decay=s.weight_decay),
        torch_update=lambda s: torch_rmsprop(s.weight_decay),
    ),
    Optimizer(
        "adagrad",
        "Adagrad (torch.optim.Adagrad: eps 1e-10)",
        numpy_rule=lambda s: Adagrad(weight_decay=s.weight_decay),
        torch_update=lambda s: torch_adagrad(s.weight_decay),
    ),
)
