"""RMSprop, Adagrad and Adadelta: steps scaled by a running measure of the squared gradients.

None of them uses a step count in its arithmetic, so each element steps on its own (the NumPy
backend may step a layer inside backprop).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlpx.optimizers.base import (
    Hyperparameter,
    Optimizer,
    OptimizerSettings,
    TorchUpdate,
    UpdateRule,
    eps,
    scalar,
    weight_decay,
)


@dataclass(frozen=True)
class RMSprop(UpdateRule):
    """``torch.optim.RMSprop``: ``v = alpha * v + (1 - alpha) * g**2``; the step is
    ``lr * g / (sqrt(v) + eps)``, where centered subtracts the squared running mean of the
    gradient from ``v`` and momentum accumulates ``g / (sqrt(v) + eps)`` in a buffer."""

    alpha: float = 0.99
    eps: float = 1e-8
    weight_decay: float = 0.0
    momentum: float = 0.0
    centered: bool = False

    stacks = True

    def init_state(self, w: np.ndarray) -> dict[str, np.ndarray]:
        state = {"square_avg": np.zeros_like(w)}
        if self.momentum > 0:
            state["momentum_buffer"] = np.zeros_like(w)
        if self.centered:
            state["grad_avg"] = np.zeros_like(w)
        return state

    def update(
        self, w: np.ndarray, dw: np.ndarray, state: dict[str, np.ndarray], lr: float
    ) -> None:
        if self.weight_decay:
            dw += self.weight_decay * w
        square_avg = state["square_avg"]
        square_avg *= self.alpha
        square_avg += np.square(dw) * (1 - self.alpha)
        if not self.centered and not self.momentum:
            _step_by_scaled_gradient(w, dw, square_avg, self.eps, lr)
            return
        if self.centered:
            grad_avg = state["grad_avg"]
            grad_avg += (dw - grad_avg) * (1 - self.alpha)  # torch's lerp
            avg = square_avg - np.square(grad_avg)
            np.sqrt(avg, out=avg)
        else:
            avg = np.sqrt(square_avg)
        avg += self.eps
        dw /= avg
        if self.momentum > 0:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += dw
            np.copyto(dw, buf)
        dw *= scalar(-lr, dw)
        w += dw


@dataclass(frozen=True)
class Adagrad(UpdateRule):
    """``torch.optim.Adagrad`` with lr_decay 0 and initial accumulator 0."""

    eps: float = 1e-10
    weight_decay: float = 0.0

    stacks = True

    def init_state(self, w: np.ndarray) -> dict[str, np.ndarray]:
        return {"sum": np.zeros_like(w)}

    def update(
        self, w: np.ndarray, dw: np.ndarray, state: dict[str, np.ndarray], lr: float
    ) -> None:
        if self.weight_decay:
            dw += self.weight_decay * w
        state["sum"] += np.square(dw)
        _step_by_scaled_gradient(w, dw, state["sum"], self.eps, lr)


@dataclass(frozen=True)
class Adadelta(UpdateRule):
    """``torch.optim.Adadelta``: ``v = rho * v + (1 - rho) * g**2``, ``delta = sqrt(u + eps)
    / sqrt(v + eps) * g``, ``u = rho * u + (1 - rho) * delta**2``, ``w -= lr * delta``."""

    rho: float = 0.9
    eps: float = 1e-6
    weight_decay: float = 0.0

    stacks = True

    def init_state(self, w: np.ndarray) -> dict[str, np.ndarray]:
        return {"square_avg": np.zeros_like(w), "acc_delta": np.zeros_like(w)}

    def update(
        self, w: np.ndarray, dw: np.ndarray, state: dict[str, np.ndarray], lr: float
    ) -> None:
        if self.weight_decay:
            dw += self.weight_decay * w
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= self.rho
        square_avg += np.square(dw) * (1 - self.rho)
        std = square_avg + self.eps
        np.sqrt(std, out=std)
        delta = acc_delta + self.eps
        np.sqrt(delta, out=delta)
        delta /= std
        delta *= dw
        acc_delta *= self.rho
        acc_delta += np.square(delta) * (1 - self.rho)
        delta *= scalar(-lr, delta)
        w += delta


def _step_by_scaled_gradient(
    w: np.ndarray, dw: np.ndarray, accumulator: np.ndarray, eps: float, lr: float
) -> None:
    """``w -= lr * dw / (sqrt(accumulator) + eps)``, with one temporary."""
    denom = np.sqrt(accumulator)
    denom += eps
    dw /= denom
    dw *= scalar(-lr, dw)
    w += dw


def torch_rmsprop(settings: OptimizerSettings) -> TorchUpdate:
    """``torch.optim.rmsprop.rmsprop``; momentum buffers and gradient averages only where
    the hyperparameters use them, as torch keeps them."""
    from torch.optim import rmsprop

    hyperparameters = settings.hyperparameters
    grad_avg = "grad_avg" if hyperparameters["centered"] else None
    buffer = "momentum_buffer" if hyperparameters["momentum"] > 0 else None
    slots = ("square_avg", grad_avg, buffer, "step")
    return TorchUpdate(rmsprop.rmsprop, slots, dict(hyperparameters))


def torch_adagrad(settings: OptimizerSettings) -> TorchUpdate:
    """``torch.optim.adagrad.adagrad`` with lr_decay 0 (mlpx's ``lr_decay`` is the schedule)."""
    from torch.optim import adagrad

    hyperparameters = settings.hyperparameters | {"lr_decay": 0.0, "maximize": False}
    return TorchUpdate(adagrad.adagrad, ("sum", "step"), hyperparameters)


def torch_adadelta(settings: OptimizerSettings) -> TorchUpdate:
    """``torch.optim.adadelta.adadelta``."""
    from torch.optim import adadelta

    hyperparameters = settings.hyperparameters | {"maximize": False}
    return TorchUpdate(adadelta.adadelta, ("square_avg", "acc_delta", "step"), hyperparameters)


ENTRIES = (
    Optimizer(
        "rmsprop",
        "RMSprop (torch.optim.RMSprop), optionally centered or with momentum",
        numpy_rule=lambda s: RMSprop(**s.hyperparameters),
        torch_update=torch_rmsprop,
        lr=1e-2,
        hyperparameters=(
            Hyperparameter(
                "alpha", 0.99, "decay rate of the running average of g**2", ge=0.0, le=1.0
            ),
            eps(1e-8),
            weight_decay(),
            Hyperparameter("momentum", 0.0, "momentum factor (0: none)", ge=0.0),
            Hyperparameter("centered", False, "divide by an estimate of the gradient's variance"),
        ),
    ),
    Optimizer(
        "adagrad",
        "Adagrad (torch.optim.Adagrad)",
        numpy_rule=lambda s: Adagrad(**s.hyperparameters),
        torch_update=torch_adagrad,
        lr=1e-2,
        hyperparameters=(eps(1e-10), weight_decay()),
    ),
    Optimizer(
        "adadelta",
        "Adadelta (torch.optim.Adadelta)",
        numpy_rule=lambda s: Adadelta(**s.hyperparameters),
        torch_update=torch_adadelta,
        lr=1.0,
        hyperparameters=(
            Hyperparameter("rho", 0.9, "decay rate of the running averages", ge=0.0, le=1.0),
            eps(1e-6),
            weight_decay(),
        ),
    ),
)
