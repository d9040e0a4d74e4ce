"""What a loss is to mlpx: a registry entry with its NumPy loss-and-gradient and torch's."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

NumpyLoss = Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]]
"""``(scores (N, C), y) -> (mean loss, dscores (N, C))``: the loss of a batch and its
gradient with respect to the network's outputs, in their dtype. ``y`` is (N,) int64 class
labels for classification and (N, C) real targets, in the outputs' dtype, for regression."""

TASKS = ("classification", "regression")


@dataclass(frozen=True)
class Loss:
    """A registry entry: see :mod:`mlpx.losses`.

    name : what ``loss`` says in a config.
    summary : one line for help texts and the docs.
    numpy : the NumPy backend's loss and gradient for classification (:data:`NumpyLoss`,
        ``y`` labels), or None when the loss does not classify; it may return a gradient that
        overwrites nothing the caller still needs, and the caller may scale it in place.
    torch : returns torch's counterpart, ``(logits (N, C), y (N,) int64) -> 0-d mean loss``
        (the factory imports torch, so that the registry itself does not), or None.
    stacked_numpy : ``numpy`` of K models at once, ``(scores (K, N, C), y (K, N)) -> (losses
        (K,), dscores (K, N, C))``, for stacked sweeps (:mod:`mlpx.backends.numpy.stacked`),
        or None: a stack then calls ``numpy`` once per model.
    stacked_torch : like ``torch``, for K models at once: returns ``(logits (K, N, C), y
        (K, N)) -> (K,) mean losses``, or None (a stack then calls ``torch``'s per model).
    regression_numpy, regression_torch : the same for regression (``y`` (N, C) real targets
        of the outputs' dtype), or None when the loss does not regress.
    settings : top-level config keys the loss reads (``huber_delta``); every function above
        takes them as keyword arguments.
    """

    name: str
    summary: str
    numpy: NumpyLoss | None = None
    stacked_numpy: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None
    torch: Callable[[], Callable[[Any, Any], Any]] | None = None
    stacked_torch: Callable[[], Callable[[Any, Any], Any]] | None = None
    regression_numpy: Callable[..., tuple[float, np.ndarray]] | None = None
    regression_torch: Callable[[], Callable[..., Any]] | None = None
    settings: tuple[str, ...] = ()

    @property
    def tasks(self) -> tuple[str, ...]:
        """The tasks the loss applies to: classification, regression or both."""
        found = {"classification": self.numpy, "regression": self.regression_numpy}
        return tuple(task for task in TASKS if found[task] is not None)

    def numpy_loss(self, task: str, settings: Any = None) -> NumpyLoss:
        """The NumPy loss of ``task``, with ``settings`` (an object with the config's
        top-level keys, e.g. the Config) bound."""
        function = self.numpy if task == "classification" else self.regression_numpy
        if function is None:
            raise ValueError(f"loss {self.name} does not apply to {task}")
        return functools.partial(function, **self._bound(settings))

    def torch_loss(self, task: str, settings: Any = None) -> Callable[[Any, Any], Any]:
        """Torch's loss of ``task`` (a ``(outputs, y) -> 0-d mean loss``), settings bound."""
        factory = self.torch if task == "classification" else self.regression_torch
        if factory is None:
            raise ValueError(f"loss {self.name} does not apply to {task}")
        return functools.partial(factory(), **self._bound(settings))

    def _bound(self, settings: Any) -> dict[str, Any]:
        if settings is None:
            return {}
        return {name: getattr(settings, name) for name in self.settings}
