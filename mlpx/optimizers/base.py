"""What an optimizer is to mlpx: a registry entry holding its NumPy rule and torch's own update.

An :class:`Optimizer` entry names an optimizer, says in one line what it is, and builds its
arithmetic for each backend from the config's ``optimizer`` section: a NumPy
:class:`UpdateRule` (written here, with ``torch.optim``'s semantics) and the
:class:`TorchUpdate` that ``torch.optim`` itself runs. The two live side by side in one
module per optimizer family so that a reader can hold one against the other.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from mlpx.errors import SettingError, shown


class OptimizerSettings(Protocol):
    """The config's ``optimizer`` section as an entry reads it (any object with these).

    ``hyperparameters`` holds every hyperparameter the entry declares, by name, validated and
    with defaults filled in (betas as a tuple)."""

    name: str
    lr: float
    hyperparameters: dict[str, Any]


@dataclass(frozen=True)
class Hyperparameter:
    """One hyperparameter an optimizer takes, named and defaulted as ``torch.optim`` does.

    Its kind follows from the default: a number (bool excluded), true/false, or a pair of
    numbers (``betas``); the bounds apply to every number.
    """

    name: str
    default: float | bool | tuple[float, float]
    help: str
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    @property
    def expected(self) -> str:
        """What a value may be, for error messages and the docs."""
        bounds = [
            f"{sign} {limit:g}"
            for sign, limit in ((">=", self.ge), (">", self.gt), ("<=", self.le), ("<", self.lt))
            if limit is not None
        ]
        bounded = f" {' and '.join(bounds)}" if bounds else ""
        if isinstance(self.default, bool):
            return "true or false"
        if isinstance(self.default, tuple):
            return f"a pair of numbers like [0.9, 0.999], each{bounded}"
        return f"a number{bounded}"

    def check(self, value: Any) -> float | bool | tuple[float, ...]:
        """``value`` as this hyperparameter holds it; :class:`SettingError` if not allowed."""
        if isinstance(self.default, bool):
            ok = isinstance(value, bool)
        elif isinstance(self.default, tuple):
            ok = isinstance(value, list | tuple) and len(value) == len(self.default)
            ok = ok and all(self._in_bounds(v) for v in value)
            value = tuple(float(v) for v in value) if ok else value
        else:
            ok = self._in_bounds(value)
            value = float(value) if ok else value
        if not ok:
            expected = self.expected
            if isinstance(value, float) and math.isinf(value):
                expected = expected.replace("a number", "a finite number", 1)
            message = f"{shown(value)} is not allowed; expected {expected}"
            raise SettingError(self.name, value, message)
        return value

    def _in_bounds(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if not math.isfinite(value):  # nan and inf alike
            return False
        return not (
            (self.ge is not None and value < self.ge)
            or (self.gt is not None and value <= self.gt)
            or (self.le is not None and value > self.le)
            or (self.lt is not None and value >= self.lt)
        )


class UpdateRule(ABC):
    """One optimizer's NumPy arithmetic: per-parameter state and an in-place step.

    A rule holds only hyperparameters. Each parameter's state (momentum buffer, moment
    estimates, step count) is a dict of arrays made by :meth:`init_state` and held beside the
    parameter by the caller, under the names ``torch.optim`` uses. :meth:`update` changes the
    parameter and its state in place and uses the gradient array as scratch space: the
    caller recomputes gradients before the next step anyway, and this spares an allocation.
    """

    elementwise: bool = True
    """Each element's step depends on that element alone (no state shared across elements),
    so any slice of the parameters, with the same slice of gradient and state, can be
    stepped on its own, e.g. one layer as soon as backprop has its gradient."""

    stacks: bool = False
    """:meth:`update` also steps K models at once, with the arithmetic of K separate calls:
    ``w``, ``dw`` and the state's arrays (K, P), its 0-d slots and ``lr`` (K, 1) columns,
    one row per model (a stacked sweep, :mod:`mlpx.backends.numpy.stacked`). Without it a
    stack calls the rule once per model."""

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


def scalar(value: float | np.ndarray, like: np.ndarray) -> float | np.ndarray:
    """A rule's per-step factor as it meets ``like``: a Python float as it is (NumPy casts
    it to ``like``'s dtype), a stack's (K, 1) column cast to that dtype here, so that each
    model of a float32 stack is rounded as its separate call rounds it."""
    return value if np.ndim(value) == 0 else np.asarray(value, like.dtype)


@dataclass(frozen=True)
class TorchUpdate:
    """The functional update ``torch.optim`` runs for one configuration.

    function : e.g. ``torch.optim.adam.adam``, called as ``function(params, grads,
        *state_lists, lr=..., fused=... or foreach=..., **hyperparameters)``.
    slots : the state lists the function takes after (params, grads), in its order; None
        marks a list that this configuration leaves empty (AMSGrad's maxima, centered
        RMSprop's averages, the momentum buffers of SGD without momentum).
    hyperparameters : every other keyword argument; ``lr`` is passed per step.
    made_by_step : slots that start as None because the function's first step makes them
        (SGD's momentum buffers, set to the first gradient).
    """

    function: Callable[..., None]
    slots: tuple[str | None, ...]
    hyperparameters: dict[str, Any]
    made_by_step: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Optimizer:
    """A registry entry: see :mod:`mlpx.optimizers`.

    name : what ``optimizer.name`` says in a config.
    summary : one line for help texts and the docs.
    numpy_rule : builds the NumPy backend's rule from the ``optimizer`` section.
    torch_update : builds torch's functional update (imports torch itself, when called).
    check : raises :class:`mlpx.errors.SettingError` for settings this optimizer cannot
        run with; the config turns it into one line naming the key.
    lr : the learning rate when the config gives none (``torch.optim``'s default).
    hyperparameters : everything else the optimizer takes; the config accepts exactly these
        (besides ``name``, ``lr`` and ``lr_decay``) and fills in their defaults.
    """

    name: str
    summary: str
    numpy_rule: Callable[[OptimizerSettings], UpdateRule]
    torch_update: Callable[[OptimizerSettings], TorchUpdate]
    check: Callable[[OptimizerSettings], None] | None = None
    lr: float = 1e-3
    hyperparameters: tuple[Hyperparameter, ...] = ()

    def takes(self) -> str:
        """``lr`` and the hyperparameters' names, for messages: "lr, betas, eps, ..."."""
        return ", ".join(["lr", *(h.name for h in self.hyperparameters)])


def weight_decay(default: float = 0.0, decoupled: bool = False) -> Hyperparameter:
    """``weight_decay``: coupled (added to the gradient) or decoupled (shrinks the weights)."""
    help = (
        "decoupled decay: w *= 1 - lr * weight_decay before the step"
        if decoupled
        else "L2 penalty: weight_decay * w is added to the gradient"
    )
    return Hyperparameter("weight_decay", default, help, ge=0.0)


def eps(default: float) -> Hyperparameter:
    """``eps``: added to a denominator for numerical stability."""
    return Hyperparameter("eps", default, "added to the denominator for stability", ge=0.0)


BETAS = Hyperparameter(
    "betas",
    (0.9, 0.999),
    "decay rates of the running averages of the gradient and of its square",
    ge=0.0,
    lt=1.0,
)
