"""Update rules of the NumPy backend, with the semantics and defaults of ``torch.optim``.

A rule holds only hyperparameters. Each parameter's state (momentum buffer, moment
estimates, step count) is a dict of arrays made by :meth:`UpdateRule.init_state` and held
beside the parameter by the caller, under the names ``torch.optim`` uses. ``update`` changes
the parameter and its state in place and uses the gradient array as scratch space: the
caller recomputes gradients before the next step anyway, and this spares an allocation.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mlpx.errors import ConfigError

if TYPE_CHECKING:
    from mlpx.config import OptimizerConfig


class UpdateRule(ABC):
    """One optimizer's arithmetic: per-parameter state and an in-place step."""

    elementwise: bool = True
    """Each element's step depends on that element alone (no state shared across elements),
    so any slice of the parameters, with the same slice of gradient and state, can be
    stepped on its own, e.g. one layer as soon as backprop has its gradient."""

    @property
    def folds_lr(self) -> bool:
        """The step is ``w -= lr * dw`` exactly: the caller may compute ``-lr * dw`` in the
        backward pass instead (scale the loss's gradient) and step with ``w += that``."""
        return False

    def init_state(self, w: np.ndarray) -> dict[str, np.ndarray]:
        """Fresh state for parameter ``w`` (empty for rules without state)."""
        return {}

    @abstractmethod
    def update(
        self, w: np.ndarray, dw: np.ndarray, state: dict[str, np.ndarray], lr: float
    ) -> None:
        """One step on ``w`` in place, given its gradient ``dw`` (same shape; overwritten)."""


@dataclass(frozen=True)
class SGD(UpdateRule):
    """``torch.optim.SGD`` with dampening 0: plain, heavy-ball momentum or Nesterov.

    The momentum buffer starts at zeros, which with dampening 0 is exactly torch's first-step
    initialisation ``buf = grad``.
    """

    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0

    @property
    def folds_lr(self) -> bool:
        return not self.momentum and not self.weight_decay

    def init_state(self, w: np.ndarray) -> dict[str, np.ndarray]:
        return {"momentum_buffer": np.zeros_like(w)} if self.momentum else {}

    def update(
        self, w: np.ndarray, dw: np.ndarray, state: dict[str, np.ndarray], lr: float
    ) -> None:
        if self.weight_decay:
            dw += self.weight_decay * w
        if self.momentum:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += dw
            if self.nesterov:
                dw += self.momentum * buf
            else:
                np.copyto(dw, buf)
        dw *= -lr
        w += dw


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


def build_update_rule(config: OptimizerConfig) -> UpdateRule:
    """The rule a config's ``optimizer`` section names, with its momentum and weight decay.

    ``sgd`` is SGD without momentum; ``momentum`` and ``nesterov`` are SGD with
    ``config.momentum``; the others take torch's defaults for everything but weight decay.
    """
    decay = config.weight_decay
    match config.name:
        case "sgd":
            return SGD(weight_decay=decay)
        case "momentum":
            return SGD(momentum=config.momentum, weight_decay=decay)
        case "nesterov":
            if config.momentum == 0:
                raise ConfigError("optimizer.momentum: nesterov needs momentum > 0, got 0")
            return SGD(momentum=config.momentum, nesterov=True, weight_decay=decay)
        case "adam":
            return Adam(weight_decay=decay)
        case "adamw":
            return Adam(weight_decay=decay, decoupled_weight_decay=True)
        case "rmsprop":
            return RMSprop(weight_decay=decay)
        case "adagrad":
            return Adagrad(weight_decay=decay)
    raise ConfigError(f"optimizer.name: unknown update rule {config.name!r}")
