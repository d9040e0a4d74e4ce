"""Stochastic gradient descent: ``sgd`` (``torch.optim.SGD``), and the presets ``momentum``
and ``nesterov`` (SGD with momentum 0.9, heavy-ball or Nesterov) that older configs name."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlpx.errors import SettingError
from mlpx.optimizers.base import (
    Hyperparameter,
    Optimizer,
    OptimizerSettings,
    TorchUpdate,
    UpdateRule,
    scalar,
    weight_decay,
)


@dataclass(frozen=True)
class SGD(UpdateRule):
    """``torch.optim.SGD``: plain, heavy-ball momentum (with dampening) or Nesterov.

    torch's first step sets the momentum buffer to the gradient itself, undamped. With
    dampening 0 a buffer of zeros gives the same first step; with dampening the rule also
    counts steps (a 0-d ``step`` slot shared by all parameters, so it steps all of them
    in one call).
    """

    momentum: float = 0.0
    dampening: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0

    @property
    def folds_lr(self) -> bool:
        return not self.momentum and not self.weight_decay

    @property
    def _counts_steps(self) -> bool:
        return bool(self.momentum and self.dampening)

    @property
    def elementwise(self) -> bool:  # type: ignore[override]
        return not self._counts_steps

    @property
    def stacks(self) -> bool:  # type: ignore[override]
        return not self._counts_steps  # its first step is told apart by a scalar test

    def init_state(self, w: np.ndarray) -> dict[str, np.ndarray]:
        if not self.momentum:
            return {}
        state = {"momentum_buffer": np.zeros_like(w)}
        return state | ({"step": np.zeros((), dtype=np.int64)} if self._counts_steps else {})

    def update(
        self, w: np.ndarray, dw: np.ndarray, state: dict[str, np.ndarray], lr: float
    ) -> None:
        if self.weight_decay:
            dw += self.weight_decay * w
        if self.momentum:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            if self._counts_steps and state["step"] == 0:
                buf += dw
            elif self.dampening:
                buf += (1 - self.dampening) * dw
            else:
                buf += dw
            if self._counts_steps:
                state["step"] += 1
            if self.nesterov:
                dw += self.momentum * buf
            else:
                np.copyto(dw, buf)
        dw *= scalar(-lr, dw)
        w += dw


def torch_sgd(settings: OptimizerSettings, **preset: object) -> TorchUpdate:
    """``torch.optim.sgd.sgd`` with the section's hyperparameters (and a preset's)."""
    from torch.optim import sgd

    hyperparameters = {"momentum": 0.0, "dampening": 0.0, "nesterov": False, "maximize": False}
    hyperparameters |= settings.hyperparameters | preset
    buffer = "momentum_buffer" if hyperparameters["momentum"] else None
    return TorchUpdate(sgd.sgd, (buffer,), hyperparameters, frozenset({"momentum_buffer"}))


def _nesterov_needs(settings: OptimizerSettings) -> None:
    """torch.optim.SGD's own rule: Nesterov needs momentum > 0 and no dampening."""
    hyperparameters = settings.hyperparameters
    nesterov = settings.name == "nesterov" or hyperparameters.get("nesterov")
    if nesterov and hyperparameters["momentum"] == 0:
        raise SettingError("momentum", 0.0, "nesterov needs optimizer.momentum > 0")
    if nesterov and hyperparameters.get("dampening", 0.0) != 0:
        raise SettingError(
            "dampening", hyperparameters["dampening"], "nesterov needs optimizer.dampening: 0"
        )


def _momentum(default: float) -> Hyperparameter:
    return Hyperparameter("momentum", default, "momentum factor (0: none)", ge=0.0, lt=1.0)


DAMPENING = Hyperparameter(
    "dampening", 0.0, "the gradient enters the momentum buffer times 1 - dampening", ge=0.0, le=1.0
)

ENTRIES = (
    Optimizer(
        "sgd",
        "SGD (torch.optim.SGD): plain, with momentum, dampening or Nesterov",
        numpy_rule=lambda s: SGD(**s.hyperparameters),
        torch_update=torch_sgd,
        check=_nesterov_needs,
        lr=1e-3,
        hyperparameters=(
            _momentum(0.0),
            DAMPENING,
            Hyperparameter("nesterov", False, "Nesterov momentum (needs momentum > 0)"),
            weight_decay(),
        ),
    ),
    Optimizer(
        "momentum",
        "SGD with heavy-ball momentum 0.9 (sgd with momentum: 0.9)",
        numpy_rule=lambda s: SGD(**s.hyperparameters),
        torch_update=torch_sgd,
        lr=1e-3,
        hyperparameters=(_momentum(0.9), DAMPENING, weight_decay()),
    ),
    Optimizer(
        "nesterov",
        "SGD with Nesterov momentum 0.9 (sgd with momentum: 0.9, nesterov: true)",
        numpy_rule=lambda s: SGD(nesterov=True, **s.hyperparameters),
        torch_update=lambda s: torch_sgd(s, nesterov=True),
        check=_nesterov_needs,
        lr=1e-3,
        hyperparameters=(_momentum(0.9), weight_decay()),
    ),
)
