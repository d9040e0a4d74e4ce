"""Stochastic gradient descent: plain (``sgd``), heavy-ball (``momentum``) and ``nesterov``.

All three are ``torch.optim.SGD`` with dampening 0; ``momentum`` and ``nesterov`` take
``optimizer.momentum``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlpx.errors import SettingError
from mlpx.optimizers.base import Optimizer, OptimizerSettings, TorchUpdate, UpdateRule


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


def torch_sgd(momentum: float, nesterov: bool, weight_decay: float) -> TorchUpdate:
    """``torch.optim.sgd.sgd`` with these settings (dampening 0)."""
    from torch.optim import sgd

    hyperparameters = {"momentum": momentum, "dampening": 0.0, "nesterov": nesterov}
    hyperparameters |= {"weight_decay": weight_decay, "maximize": False}
    return TorchUpdate(sgd.sgd, ("momentum_buffer" if momentum else None,), hyperparameters)


def _needs_momentum(settings: OptimizerSettings) -> None:
    if settings.momentum == 0:
        raise SettingError("momentum", 0.0, "nesterov needs optimizer.momentum > 0")


ENTRIES = (
    Optimizer(
        "sgd",
        "plain SGD, w -= lr * grad (torch.optim.SGD without momentum)",
        numpy_rule=lambda s: SGD(weight_decay=s.weight_decay),
        torch_update=lambda s: torch_sgd(0.0, False, s.weight_decay),
    ),
    Optimizer(
        "momentum",
        "SGD with heavy-ball momentum (torch.optim.SGD, momentum=optimizer.momentum)",
        numpy_rule=lambda s: SGD(momentum=s.momentum, weight_decay=s.weight_decay),
        torch_update=lambda s: torch_sgd(s.momentum, False, s.weight_decay),
    ),
    Optimizer(
        "nesterov",
        "SGD with Nesterov momentum (torch.optim.SGD, nesterov=True)",
        numpy_rule=lambda s: SGD(momentum=s.momentum, nesterov=True, weight_decay=s.weight_decay),
        torch_update=lambda s: torch_sgd(s.momentum, True, s.weight_decay),
        check=_needs_momentum,
    ),
)
