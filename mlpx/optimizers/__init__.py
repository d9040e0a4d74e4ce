"""The optimizers a config can name: one registry entry each (see :class:`Optimizer`).

``OPTIMIZERS`` maps ``optimizer.name`` to its entry; the config's allowed names and
did-you-mean hints, the sweep's default grid and both backends read it. To add an
optimizer, write its NumPy :class:`UpdateRule` and its :class:`TorchUpdate` in a module of
this package (or anywhere) and :func:`register` the entry; nothing else changes.
"""

from __future__ import annotations

from mlpx.errors import ConfigError
from mlpx.optimizers import adam, adaptive, sgd
from mlpx.optimizers.base import (
    Hyperparameter,
    Optimizer,
    OptimizerSettings,
    TorchUpdate,
    UpdateRule,
)

OPTIMIZERS: dict[str, Optimizer] = {
    entry.name: entry for entry in (*sgd.ENTRIES, *adam.ENTRIES, *adaptive.ENTRIES)
}

__all__ = [
    "OPTIMIZERS",
    "Hyperparameter",
    "Optimizer",
    "OptimizerSettings",
    "TorchUpdate",
    "UpdateRule",
    "numpy_rule",
    "register",
    "torch_update",
]


def register(entry: Optimizer) -> Optimizer:
    """Add ``entry`` under its name (which must be new) and return it."""
    if entry.name in OPTIMIZERS:
        raise ValueError(f"an optimizer named {entry.name!r} is registered already")
    OPTIMIZERS[entry.name] = entry
    return entry


def _entry(name: str) -> Optimizer:
    try:
        return OPTIMIZERS[name]
    except KeyError:
        allowed = ", ".join(OPTIMIZERS)
        raise ConfigError(f"optimizer.name: unknown optimizer {name!r}; one of {allowed}") from None


def numpy_rule(settings: OptimizerSettings) -> UpdateRule:
    """The NumPy update rule of the optimizer ``settings.name`` names."""
    return _entry(settings.name).numpy_rule(settings)


def torch_update(settings: OptimizerSettings) -> TorchUpdate:
    """``torch.optim``'s functional update for the optimizer ``settings.name`` names."""
    return _entry(settings.name).torch_update(settings)
