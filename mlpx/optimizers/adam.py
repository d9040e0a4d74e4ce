"""The Adam family: Adam and AdamW (with AMSGrad), Adamax, NAdam and RAdam.

Each keeps running averages of the gradient and of its square (Adamax: of its infinity norm)
with one step count for all parameters, so each steps all parameters in one call.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mlpx.optimizers.base import (
    BETAS,
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
class Adam(UpdateRule):
    """``torch.optim.Adam`` (bias-corrected moments), or ``AdamW`` with decoupled decay;
    ``amsgrad`` normalises by the largest second moment so far.

    Coupled (Adam): ``weight_decay * w`` is added to the gradient. Decoupled (AdamW): ``w``
    is first multiplied by ``1 - lr * weight_decay`` and the gradient is left alone.
    """

    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    amsgrad: bool = False
    decoupled_weight_decay: bool = False
    elementwise = False  # one step count for all parameters: one update call per step
    stacks = True

    def init_state(self, w: np.ndarray) -> dict[str, np.ndarray]:
        state = {
            "step": np.zeros((), dtype=np.int64),
            "exp_avg": np.zeros_like(w),
            "exp_avg_sq": np.zeros_like(w),
        }
        return state | ({"max_exp_avg_sq": np.zeros_like(w)} if self.amsgrad else {})

    def update(
        self, w: np.ndarray, dw: np.ndarray, state: dict[str, np.ndarray], lr: float
    ) -> None:
        beta1, beta2 = self.betas
        state["step"] += 1
        step = _count(state["step"])
        _decay(w, dw, lr, self.weight_decay, self.decoupled_weight_decay)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        _update_moments(dw, exp_avg, exp_avg_sq, beta1, beta2)
        if self.amsgrad:
            exp_avg_sq = np.maximum(
                state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"]
            )
        step_size = lr / (1 - _power(beta1, step))
        denom = np.sqrt(exp_avg_sq, out=dw)
        denom /= scalar(_root(1 - _power(beta2, step)), denom)
        denom += self.eps
        np.divide(exp_avg, denom, out=dw)
        dw *= scalar(-step_size, dw)
        w += dw


@dataclass(frozen=True)
class Adamax(UpdateRule):
    """``torch.optim.Adamax``: Adam with the infinity norm,
    ``exp_inf = max(beta2 * exp_inf, |g| + eps)``, ``w -= lr / (1 - beta1**t) * m / exp_inf``."""

    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    elementwise = False
    stacks = True

    def init_state(self, w: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "step": np.zeros((), dtype=np.int64),
            "exp_avg": np.zeros_like(w),
            "exp_inf": np.zeros_like(w),
        }

    def update(
        self, w: np.ndarray, dw: np.ndarray, state: dict[str, np.ndarray], lr: float
    ) -> None:
        beta1, beta2 = self.betas
        state["step"] += 1
        step = _count(state["step"])
        _decay(w, dw, lr, self.weight_decay, decoupled=False)
        exp_avg, exp_inf = state["exp_avg"], state["exp_inf"]
        exp_avg += (dw - exp_avg) * (1 - beta1)
        exp_inf *= beta2
        np.abs(dw, out=dw)
        dw += self.eps
        np.maximum(exp_inf, dw, out=exp_inf)
        np.divide(exp_avg, exp_inf, out=dw)
        dw *= scalar(-(lr / (1 - _power(beta1, step))), dw)
        w += dw


@dataclass(frozen=True)
class NAdam(UpdateRule):
    """``torch.optim.NAdam``: Adam with Nesterov momentum whose factor ``mu_t = beta1 *
    (1 - 0.5 * 0.96 ** (t * momentum_decay))`` warms up; ``mu_product`` is the product of
    the factors so far, kept in float32 as torch keeps it."""

    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    momentum_decay: float = 4e-3
    decoupled_weight_decay: bool = False
    elementwise = False

    def init_state(self, w: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "step": np.zeros((), dtype=np.int64),
            "mu_product": np.ones((), dtype=np.float32),
            "exp_avg": np.zeros_like(w),
            "exp_avg_sq": np.zeros_like(w),
        }

    def update(
        self, w: np.ndarray, dw: np.ndarray, state: dict[str, np.ndarray], lr: float
    ) -> None:
        beta1, beta2 = self.betas
        state["step"] += 1
        step = int(state["step"])
        _decay(w, dw, lr, self.weight_decay, self.decoupled_weight_decay)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * self.momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * self.momentum_decay)))
        state["mu_product"] *= mu
        mu_product = float(state["mu_product"])
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        _update_moments(dw, exp_avg, exp_avg_sq, beta1, beta2, keep_grad=True)
        denom = exp_avg_sq / (1 - beta2**step)
        np.sqrt(denom, out=denom)
        denom += self.eps
        dw /= denom
        dw *= -lr * (1.0 - mu) / (1.0 - mu_product)
        w += dw
        np.divide(exp_avg, denom, out=dw)
        dw *= (-lr * mu_next) / (1.0 - mu_product * mu_next)
        w += dw


@dataclass(frozen=True)
class RAdam(UpdateRule):
    """``torch.optim.RAdam``: Adam whose adaptive step is rectified, and used only once the
    variance estimate is tractable (``rho_t > 5``); before that, bias-corrected momentum SGD."""

    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0
    decoupled_weight_decay: bool = False
    elementwise = False

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
        _decay(w, dw, lr, self.weight_decay, self.decoupled_weight_decay)
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        _update_moments(dw, exp_avg, exp_avg_sq, beta1, beta2)
        bias_correction2 = 1 - beta2**step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2**step) / bias_correction2
        np.divide(exp_avg, 1 - beta1**step, out=dw)
        dw *= lr
        if rho_t > 5.0:
            rect = (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
            denom = np.sqrt(exp_avg_sq)
            denom += self.eps
            dw *= bias_correction2**0.5 / denom
            dw *= rect
        w -= dw


def _count(step: np.ndarray) -> int | np.ndarray:
    """A rule's step count as a Python int (one model: the arithmetic of a scalar), or the
    (K, 1) counts of a stack's models as they are."""
    return int(step) if step.ndim == 0 else step


def _power(base: float, step: int | np.ndarray) -> float | np.ndarray:
    """``base ** step`` as Python computes it, for each model of a stack too: a stacked row
    gets the bits its separate call gets. NumPy's vectorised power of a column can round
    differently (by an ulp on AVX-512 machines), and a stack must train each model as its
    own run does."""
    if isinstance(step, int):
        return base**step
    return np.array([base ** int(count) for count in step.flat]).reshape(step.shape)


def _root(x: float | np.ndarray) -> float | np.ndarray:
    """The square root of a Python float with ``math``, of a stack's column with NumPy."""
    return math.sqrt(x) if isinstance(x, float) else np.sqrt(x)


def _decay(w: np.ndarray, dw: np.ndarray, lr: float, weight_decay: float, decoupled: bool) -> None:
    """Weight decay as torch applies it: shrink ``w`` (decoupled) or add to ``dw``."""
    if weight_decay and decoupled:
        w *= scalar(1 - lr * weight_decay, w)
    elif weight_decay:
        dw += weight_decay * w


def _update_moments(
    dw: np.ndarray,
    exp_avg: np.ndarray,
    exp_avg_sq: np.ndarray,
    beta1: float,
    beta2: float,
    keep_grad: bool = False,
) -> None:
    """``exp_avg`` and ``exp_avg_sq`` one step further; ``dw`` is scratch unless kept."""
    exp_avg_sq *= beta2
    exp_avg_sq += np.square(dw) * (1 - beta2)
    # torch's lerp: exp_avg += (grad - exp_avg) * (1 - beta1), in dw's memory if it may
    change = dw - exp_avg if keep_grad else np.subtract(dw, exp_avg, out=dw)
    change *= 1 - beta1
    exp_avg += change


def _torch_hyperparameters(settings: OptimizerSettings, **fixed: object) -> dict[str, object]:
    """The section's hyperparameters as torch's functional updates take them (betas split)."""
    hyperparameters = dict(settings.hyperparameters) | {"maximize": False} | fixed
    hyperparameters["beta1"], hyperparameters["beta2"] = hyperparameters.pop("betas")
    return hyperparameters


def torch_adam(settings: OptimizerSettings, decoupled: bool) -> TorchUpdate:
    """``torch.optim.adam.adam`` (or ``adamw.adamw``) with the section's hyperparameters."""
    from torch.optim import adam, adamw

    hyperparameters = _torch_hyperparameters(settings)
    maxima = "max_exp_avg_sq" if hyperparameters["amsgrad"] else None
    function = adamw.adamw if decoupled else adam.adam
    return TorchUpdate(function, ("exp_avg", "exp_avg_sq", maxima, "step"), hyperparameters)


def torch_adamax(settings: OptimizerSettings) -> TorchUpdate:
    """``torch.optim.adamax.adamax``."""
    from torch.optim import adamax

    slots = ("exp_avg", "exp_inf", "step")
    return TorchUpdate(adamax.adamax, slots, _torch_hyperparameters(settings))


def torch_nadam(settings: OptimizerSettings) -> TorchUpdate:
    """``torch.optim.nadam.nadam``."""
    from torch.optim import nadam

    slots = ("exp_avg", "exp_avg_sq", "mu_product", "step")
    return TorchUpdate(nadam.nadam, slots, _torch_hyperparameters(settings))


def torch_radam(settings: OptimizerSettings) -> TorchUpdate:
    """``torch.optim.radam.radam``."""
    from torch.optim import radam

    slots = ("exp_avg", "exp_avg_sq", "step")
    return TorchUpdate(radam.radam, slots, _torch_hyperparameters(settings))


AMSGRAD = Hyperparameter("amsgrad", False, "normalise by the largest second moment so far")
DECOUPLED = Hyperparameter(
    "decoupled_weight_decay", False, "apply weight_decay as AdamW does (shrink the weights)"
)

ENTRIES = (
    Optimizer(
        "adam",
        "Adam (torch.optim.Adam)",
        numpy_rule=lambda s: Adam(**s.hyperparameters),
        torch_update=lambda s: torch_adam(s, decoupled=False),
        lr=1e-3,
        hyperparameters=(BETAS, eps(1e-8), weight_decay(), AMSGRAD),
    ),
    Optimizer(
        "adamw",
        "Adam with decoupled weight decay (torch.optim.AdamW)",
        numpy_rule=lambda s: Adam(decoupled_weight_decay=True, **s.hyperparameters),
        torch_update=lambda s: torch_adam(s, decoupled=True),
        lr=1e-3,
        hyperparameters=(BETAS, eps(1e-8), weight_decay(0.01, decoupled=True), AMSGRAD),
    ),
    Optimizer(
        "adamax",
        "Adam with the infinity norm (torch.optim.Adamax)",
        numpy_rule=lambda s: Adamax(**s.hyperparameters),
        torch_update=torch_adamax,
        lr=2e-3,
        hyperparameters=(BETAS, eps(1e-8), weight_decay()),
    ),
    Optimizer(
        "nadam",
        "Adam with Nesterov momentum (torch.optim.NAdam)",
        numpy_rule=lambda s: NAdam(**s.hyperparameters),
        torch_update=torch_nadam,
        lr=2e-3,
        hyperparameters=(
            BETAS,
            eps(1e-8),
            weight_decay(),
            Hyperparameter("momentum_decay", 4e-3, "how fast the momentum factor warms up", ge=0.0),
            DECOUPLED,
        ),
    ),
    Optimizer(
        "radam",
        "rectified Adam (torch.optim.RAdam)",
        numpy_rule=lambda s: RAdam(**s.hyperparameters),
        torch_update=torch_radam,
        lr=1e-3,
        hyperparameters=(BETAS, eps(1e-8), weight_decay(), DECOUPLED),
    ),
)
