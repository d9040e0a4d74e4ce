"""What a loss is to mlpx: a registry entry with its NumPy loss-and-gradient and torch's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

NumpyLoss = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]
"""``(scores (N, C), y (N,)) -> (mean loss, dscores (N, C))``: the loss of a batch and its
gradient with respect to the network's output scores, in the scores' dtype."""


@dataclass(frozen=True)
class Loss:
    """A registry entry: see :mod:`mlpx.losses`.

    name : what ``loss`` says in a config.
    summary : one line for help texts and the docs.
    numpy : the NumPy backend's loss and gradient (:data:`NumpyLoss`); it may return a
        gradient that overwrites nothing the caller still needs, and the caller may scale it
        in place.
    torch : returns torch's counterpart, ``(logits (N, C), y (N,) int64) -> 0-d mean loss``
        (the factory imports torch, so that the registry itself does not).
    """

    name: str
    summary: str
    numpy: NumpyLoss
    torch: Callable[[], Callable[[Any, Any], Any]]
