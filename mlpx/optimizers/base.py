"""What an optimizer is to mlpx: a registry entry holding its NumPy rule and torch's own update.

An :class:`Optimizer` entry names an optimizer, says in one line what it is, and builds its
arithmetic for each backend from the config's ``optimizer`` section: a NumPy
:class:`UpdateRule` (written here, with ``torch.optim``'s semantics) and the
:class:`TorchUpdate` that ``torch.optim`` itself runs. The two live side by side in one
module per optimizer family so that a reader can hold one against the other.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


class OptimizerSettings(Protocol):
    """The config's ``optimizer`` section as an entry reads it (any object with these)."""

    name: str
    lr: float
    momentum: float
    weight_decay: float


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
class TorchUpdate:
    """The functional update ``torch.optim`` runs for one configuration.

    function : e.g. ``torch.optim.adam.adam``, called as ``function(params, grads,
        *state_lists, lr=..., fused=... or foreach=..., **hyperparameters)``.
    slots : the state lists the function takes after (params, grads), in its order; None
        marks a list that this configuration leaves empty (AMSGrad's maxima, centered
        RMSprop's averages, the momentum buffers of SGD without momentum).
    hyperparameters : every other keyword argument; ``lr`` is passed per step.
    """

    function: Callable[..., None]
    slots: tuple[str | None, ...]
    hyperparameters: dict[str, Any]


@dataclass(frozen=True)
class Optimizer:
    """A registry entry: see :mod:`mlpx.optimizers`.

    name : what ``optimizer.name`` says in a config.
    summary : one line for help texts and the docs.
    numpy_rule : builds the NumPy backend's rule from the ``optimizer`` section.
    torch_update : builds torch's functional update (imports torch itself, when called).
    check : raises :class:`mlpx.errors.SettingError` for settings this optimizer cannot
        run with; the config turns it into one line naming the key.
    """

    name: str
    summary: str
    numpy_rule: Callable[[OptimizerSettings], UpdateRule]
    torch_update: Callable[[OptimizerSettings], TorchUpdate]
    check: Callable[[OptimizerSettings], None] | None = None
