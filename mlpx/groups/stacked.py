"""Stacked trials: trials of one shape trained together as one batched model.

:func:`train_stacked` runs K ordinary :class:`~mlpx.train.Trainer` s in lockstep over one
:class:`~mlpx.backends.Stack`: every run goes through its own loop (batch order, schedule,
early stopping, metrics, checkpoints, run directory), pausing after handing an epoch's
steps to its view; the stack then trains that epoch of every run still going at once. A
run that stops (early stopping, divergence) writes its final files at once and leaves the
lockstep; the others go on. Their plots are left to ``mlpx plot`` (:mod:`mlpx.replot`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlpx.config import Config
    from mlpx.data import Dataset
    from mlpx.train import TrainResult

MEMORY_SHARE = 0.25
"""The share of the machine's available memory a stacked chunk's arrays may take."""


@dataclass
class StackedRun:
    """How one trial of a stack ended: its result, or the exception that ended it."""

    result: TrainResult | None
    error: BaseException | None = None


def _shared_datasets(configs: list[Config]) -> list[Dataset]:
    """Each config's dataset, loaded once per (data, seed, dtype): trials of one seed share."""
    from mlpx.data import load_dataset

    loaded: dict[tuple, Dataset] = {}
    datasets = []
    for config in configs:
        key = (repr(sorted(config.data.model_dump().items())), config.seed, config.dtype)
        if key not in loaded:
            loaded[key] = load_dataset(config.data, config.seed, config.dtype)
        datasets.append(loaded[key])
    return datasets


def train_stacked(
    configs: list[Config], run_paths: list[Path], command: list[str] | None = None
) -> Iterator[tuple[int, StackedRun]]:
    """Train ``configs`` (one :func:`~mlpx.backends.stack_key`) as one stack, each into
    its run path; yield each one's index and how it ended, as it ends.

    Ctrl-C (or a run interrupted on its own) ends every run as interrupted, each with its
    files; an error in the stacked arithmetic ends every run still going as failed.
    """
    from mlpx.backends import create_stack
    from mlpx.train import CHECKPOINT_SECONDS, Trainer

    stack = create_stack(configs[0], len(configs))
    trainers = [
        Trainer(config, dataset=dataset, make_backend=stack.backend)
        for config, dataset in zip(configs, _shared_datasets(configs), strict=True)
    ]
    for trainer in trainers:
        trainer.draw_plots = False  # drawing takes longer than training: mlpx plot draws them
        # K runs' checkpoints as often as one run's: a kill loses CHECKPOINT_SECONDS of
        # each run's own training at most, as it would alone
        trainer.checkpoint_seconds = CHECKPOINT_SECONDS * len(trainers)
    started: set[int] = set()
    going = {
        k: trainer.training(run_path=path, command=command)
        for k, (trainer, path) in enumerate(zip(trainers, run_paths, strict=True))
    }
    interrupted = False

    def advance(k: int, step: Callable[[Any], Any]) -> StackedRun | None:
        nonlocal interrupted
        try:
            step(going[k])
            return None
        except StopIteration as done:
            del going[k]
            interrupted |= done.value.status == "interrupted"
            return StackedRun(done.value)
        except BaseException as exc:  # the run has written its files as failed
            del going[k]
            interrupted |= isinstance(exc, KeyboardInterrupt)
            return StackedRun(None, exc)

    stop: BaseException | None = None
    while going:
        for k in sorted(going):
            if stop is not None:
                ended = advance(k, _thrower(stop))
            elif k in started:
                ended = advance(k, _sender)
            else:
                started.add(k)
                ended = advance(k, next)
            if ended is not None:
                yield k, ended
        if going:
            stop = KeyboardInterrupt() if interrupted else None
        if going and stop is None:
            try:
                stack.train_epoch(sorted(going))
            except BaseException as exc:
                stop = exc


def _sender(run: Any) -> None:
    run.send(None)


def _thrower(exc: BaseException) -> Callable[[Any], Any]:
    return lambda run: run.throw(exc)


def trial_bytes(config: Config, n_features: int, n_classes: int) -> int:
    """Memory one trial takes in a stack: parameters, gradients, optimizer state (at most
    two slots) and a batch's activations, inputs and gradients, in the config's dtype."""
    m = config.model
    sizes = [n_features, *m.hidden, n_classes]
    params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    activations = config.train.batch_size * (sum(sizes) + 5 * sum(m.hidden))
    itemsize = 4 if config.dtype == "float32" else 8
    return itemsize * (4 * params + activations)


def available_memory() -> int:
    """Bytes of memory available for new work now: Linux's MemAvailable (free pages plus
    the page cache it can drop), else the free pages, else 1 GiB."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return 1 << 30


def chunk_size(config: Config, n_features: int, n_classes: int) -> int:
    """How many trials of ``config``'s shape one stack holds: a share of the free memory."""
    return max(
        1, int(MEMORY_SHARE * available_memory()) // trial_bytes(config, n_features, n_classes)
    )
