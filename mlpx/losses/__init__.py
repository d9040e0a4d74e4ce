"""The losses a config can name (``loss:``): one registry entry each (see :class:`Loss`).

``LOSSES`` maps a name to its entry; the config's allowed names, both backends and the
gradient check read it. To add a loss, write its NumPy loss-and-gradient and name torch's
counterpart in a :class:`Loss` and :func:`register` it; nothing else changes.
"""

from __future__ import annotations

from mlpx.losses import cross_entropy, mse, nll, robust
from mlpx.losses.base import TASKS, Loss, NumpyLoss

LOSSES: dict[str, Loss] = {
    entry.name: entry
    for entry in (cross_entropy.ENTRY, nll.ENTRY, mse.ENTRY, robust.MAE, robust.HUBER)
}

__all__ = ["LOSSES", "TASKS", "Loss", "NumpyLoss", "register"]


def register(entry: Loss) -> Loss:
    """Add ``entry`` under its name (which must be new) and return it."""
    if entry.name in LOSSES:
        raise ValueError(f"a loss named {entry.name!r} is registered already")
    LOSSES[entry.name] = entry
    return entry
