"""The small interface the training loop talks to; one implementation per backend.

The loop owns the batch order, epochs, metrics and files; a backend owns only arithmetic.
Concrete backends are imported lazily by name so that the loop never depends on one.
"""

from __future__ import annotations

import importlib
import math
import os
import time
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
        self.threads: int | None = None
        """CPU threads of the arithmetic (:func:`cpu_threads`); None off the CPU."""

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


class StackedView:
    """What a model of a :class:`Stack` does in place of training its epoch: it records the
    epoch's steps (batch bounds and rates) for the stack to train, and hands the loop the
    stats the stack set. Mixed in before the backend: ``class T(StackedView, NumpyBackend)``."""

    stats: EpochStats | None = None

    def start_epoch(self, order: np.ndarray) -> None:
        super().start_epoch(order)  # type: ignore[misc]
        self.bounds: list[tuple[int, int]] = []
        self.rates: list[float] = []
        self.stats = None

    def train_step(self, start: int, stop: int, lr: float) -> None:
        self.bounds.append((start, stop))
        self.rates.append(lr)

    def end_epoch(self) -> EpochStats:
        if self.stats is None:
            from mlpx.errors import BackendError

            raise BackendError("a stacked model's epoch is read before its stack trained it")
        return self.stats


class Stack(ABC):
    """K models of one architecture trained as one, each seen by its run as a Backend.

    A stacked sweep builds K Trainers whose ``make_backend`` is :meth:`backend`; each run
    hands its epoch's steps (batch order and rates) to its view as usual, then
    :meth:`train_epoch` trains the epoch of every run still going at once, with the trial
    axis leading every array. Each model keeps its own batch order, initial weights,
    dropout generator, optimizer state and rates, so its numbers are a separate run's.
    """

    @abstractmethod
    def backend(self, config: Config, spec: ModelSpec, params: dict[str, np.ndarray]) -> Backend:
        """The view of the next model of the stack (the Trainer's ``make_backend``)."""

    @abstractmethod
    def train_epoch(self, active: list[int]) -> None:
        """Train the epoch the views ``active`` (indices, in creation order) were given;
        the other models stay as they are."""


def stack_key(config: Config) -> tuple[tuple[str, object], ...]:
    """What models must share to train as one stack, as (what, value) pairs: backend,
    device, dtype, loss, architecture (with or without dropout and batch norm, any rate),
    batch size and data (any seed: each trial gathers its own split, of the same size).
    Learning rates, seeds, optimizers and their hyperparameters, clipping, penalties,
    schedules, epochs, init and dropout rate may differ."""
    m, data = config.model, config.data.model_dump()
    return (
        ("task", config.task),
        ("backend", config.backend),
        ("device", config.device),
        ("dtype", config.dtype),
        ("loss", config.loss),
        ("model.kind", m.kind),
        ("model.hidden", tuple(m.hidden)),
        ("model.activation", m.activation),
        ("model.batchnorm", m.batchnorm),
        ("model.dropout (zero or not)", m.dropout > 0),
        ("train.batch_size", config.train.batch_size),
        ("data", repr(sorted(data.items()))),
    )


def stacks(backend: str) -> bool:
    """Whether backend ``backend`` can train a stack (has a ``stacked`` module), found
    without importing the backend (the torch backend's package imports torch)."""
    from importlib.util import find_spec

    package = find_spec(BACKENDS[backend])
    places = (package.submodule_search_locations or []) if package is not None else []
    return any((Path(place) / "stacked.py").is_file() for place in places)


def create_stack(config: Config, size: int) -> Stack:
    """A stack of ``size`` models on the backend ``config`` names (of one :func:`stack_key`)."""
    module = importlib.import_module(BACKENDS[config.backend] + ".stacked")
    return module.STACK(config, size)


SMALL_STEP_FLOPS = 20e6
"""Below this much work per training step, one CPU thread is faster than several: the
matrices are too small to split, and waking a second thread costs more than it saves."""


def cpu_threads(config: Config, spec: ModelSpec) -> int:
    """Threads for CPU arithmetic: ``config.threads``, or with ``auto`` one thread for small
    steps (see SMALL_STEP_FLOPS) and every free core otherwise (see :func:`free_cores`)."""
    if config.threads != "auto":
        return config.threads
    if spec.flops_per_sample() * config.train.batch_size < SMALL_STEP_FLOPS:
        return 1
    return free_cores()


BUSY_WINDOW = 0.1
"""Seconds over which :func:`busy_cores` watches the machine's CPU time."""


def free_cores() -> int:
    """The cores this process may use (its CPU affinity) that other processes are not
    keeping busy now (:func:`busy_cores`), at least 1.

    A thread that must wait for a core another process holds stalls every thread of a
    step at the next barrier (BLAS and OpenMP split each product evenly, and spin while they
    wait): on a 2-core machine with one other busy process, 2 threads made an MNIST epoch
    1.35x (numpy) to 2.5x (torch) slower than 1. A sweep's parallel trials already pin
    themselves to one thread each.
    """
    cores = _allowed_cpus()
    global _busy_seen
    now = time.monotonic()
    if _busy_seen is None or now - _busy_seen[0] > BUSY_REUSE:  # a stack's models: once
        _busy_seen = (now, busy_cores(cores))
    return max(1, min(len(cores), len(cores) - math.floor(_busy_seen[1] + 0.5)))


BUSY_REUSE = 5.0
"""Seconds for which one :func:`busy_cores` reading stands (the models of a stack start
together: one look at the machine, not one each)."""
_busy_seen: tuple[float, float] | None = None


def _allowed_cpus() -> set[int]:
    """The CPUs this process may run on (its affinity; all of them where that is unknown)."""
    if hasattr(os, "sched_getaffinity"):
        return set(os.sched_getaffinity(0))
    return set(range(os.cpu_count() or 1))


def busy_cores(cpus: set[int], window: float = BUSY_WINDOW) -> float:
    """How many of ``cpus`` other processes keep busy now: their CPU time outside idle over
    ``window`` seconds, less this process's own (its threads may still be running), from
    /proc/stat (Linux); where that cannot be read, the 1-minute load average.

    Time of processes running at a lower priority (``nice``) does not count: they yield
    their core to this one. The load average is a minute behind: a process that just
    started or just ended would count for a minute too little or too long.
    """
    try:
        before, own_before = _cpu_times(cpus), _own_ticks()
        time.sleep(window)
        after, own_after = _cpu_times(cpus), _own_ticks()
    except (OSError, ValueError, IndexError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    busy, total = (a - b for a, b in zip(after, before, strict=True))
    busy = max(0.0, busy - (own_after - own_before))
    return len(cpus) * busy / total if total > 0 else 0.0


def _own_ticks() -> float:
    """This process's CPU time, user and system, all threads, in clock ticks."""
    times = os.times()
    return (times.user + times.system) * os.sysconf("SC_CLK_TCK")


def _cpu_times(cpus: set[int], path: str = "/proc/stat") -> tuple[int, int]:
    """(busy, total) clock ticks since boot of ``cpus``, from their ``cpuN`` lines of
    /proc/stat: user nice system idle iowait irq softirq steal; busy leaves out nice,
    idle and iowait."""
    busy = total = 0
    with open(path, encoding="ascii") as stat:
        for line in stat:
            name, *fields = line.split()
            if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
                continue
            user, nice, system, idle, iowait, irq, softirq, steal = map(int, fields[:8])
            busy += user + system + irq + softirq + steal
            total += user + nice + system + idle + iowait + irq + softirq + steal
    if not total:
        raise ValueError(f"no line of {path} for CPUs {sorted(cpus)}")
    return busy, total


def backend_class(name: str) -> type[Backend]:
    """The Backend subclass registered under ``name`` (imported on first use)."""
    module = importlib.import_module(BACKENDS[name])
    return module.BACKEND


def create_backend(config: Config, spec: ModelSpec, params: dict[str, np.ndarray]) -> Backend:
    """Build the backend the config names, starting from ``params``."""
    return backend_class(config.backend)(config, spec, params)
