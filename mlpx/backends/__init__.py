"""The small interface the training loop talks to; one implementation per backend.

The loop owns the batch order, epochs, metrics and files; a backend owns only arithmetic.
Concrete backends are imported lazily by name so that the loop never depends on one.
"""

from __future__ import annotations

import importlib
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mlpx.config import Config
    from mlpx.model import ModelSpec

BACKENDS = {"torch": "mlpx.backends.torch", "numpy": "mlpx.backends.numpy"}


@dataclass
class EpochStats:
    """What a backend accumulated over one epoch of training steps.

    losses : (n_batches,) objective (the config's loss + penalty) of every batch, in order.
    correct : number of training samples the model classified right while training (0 for
        regression).
    """

    losses: np.ndarray
    correct: int


@dataclass
class Evaluation:
    """Loss (the config's loss, no penalty), accuracy and predictions of a split: labels (N,)
    int64, or for regression the outputs (N, outputs) float64 (standardised targets' units)
    with accuracy None."""

    loss: float | None
    accuracy: float | None
    predictions: np.ndarray


class Backend(ABC):
    """Arithmetic of one MLP: training steps, evaluation, state as NumPy arrays."""

    name: str
    model_filename: str

    def __init__(self, config: Config, spec: ModelSpec, params: dict[str, np.ndarray]):
        self.config = config
        self.spec = spec

    @property
    @abstractmethod
    def device(self) -> str:
        """The resolved device, e.g. ``cpu`` or ``cuda:0``."""

    @abstractmethod
    def set_data(self, split: str, x: np.ndarray, y: np.ndarray | None) -> None:
        """Keep split ``split`` (x: (N, D) float; y: (N,) int64 labels, (N, outputs) real
        targets for regression, or None) for later steps."""

    @abstractmethod
    def start_epoch(self, order: np.ndarray) -> None:
        """Begin an epoch over the ``train`` split in ``order`` ((N,) int64)."""

    @abstractmethod
    def train_step(self, start: int, stop: int, lr: float) -> None:
        """One optimizer step with learning rate ``lr`` on the batch ``order[start:stop]`` of
        the current epoch (the loop's schedule gives every step its rate)."""

    @abstractmethod
    def end_epoch(self) -> EpochStats:
        """Finish the epoch and return its per-batch losses (the only host sync per epoch)."""

    @abstractmethod
    def evaluate(self, split: str) -> Evaluation:
        """Evaluate a stored split in inference mode (batch norm running stats, no dropout)."""

    @abstractmethod
    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted labels (N,) int64 for inputs x (N, D); for regression the outputs
        (N, outputs) float64."""

    @abstractmethod
    def params(self) -> dict[str, np.ndarray]:
        """Parameters and buffers, named as in :mod:`mlpx.model`, as NumPy copies."""

    @abstractmethod
    def state(self) -> dict[str, np.ndarray]:
        """Everything needed to resume: ``params()`` plus optimizer state under ``opt/...``."""

    @abstractmethod
    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state` returned."""

    @abstractmethod
    def save_model(self, path: Path) -> None:
        """Write the model's parameters to ``path`` (the caller makes it atomic)."""

    @staticmethod
    @abstractmethod
    def load_model(path: Path) -> dict[str, np.ndarray]:
        """Read parameters written by :meth:`save_model`."""


SMALL_STEP_FLOPS = 20e6
"""Below this much work per training step, one CPU thread is faster than several: the
matrices are too small to split, and waking a second thread costs more than it saves."""


def cpu_threads(config: Config, spec: ModelSpec) -> int:
    """Threads for CPU arithmetic: ``config.threads``, or with ``auto`` one thread for small
    steps (see SMALL_STEP_FLOPS) and every core otherwise."""
    if config.threads != "auto":
        return config.threads
    if spec.flops_per_sample() * config.train.batch_size < SMALL_STEP_FLOPS:
        return 1
    return os.cpu_count() or 1


def backend_class(name: str) -> type[Backend]:
    """The Backend subclass registered under ``name`` (imported on first use)."""
    module = importlib.import_module(BACKENDS[name])
    return module.BACKEND


def create_backend(config: Config, spec: ModelSpec, params: dict[str, np.ndarray]) -> Backend:
    """Build the backend the config names, starting from ``params``."""
    return backend_class(config.backend)(config, spec, params)
