"""Learning-rate schedules: the rate of every training step, as a function of epoch and step.

The training loop asks its schedule for the rate of each step and passes it to the backend's
``train_step``, so a schedule that changes the rate within an epoch needs no backend change;
after each epoch it shows the schedule the epoch's record (:meth:`Schedule.observe`), which
is how ``plateau`` watches the validation loss. ``SCHEDULES`` maps the names the config's
``schedule.name`` takes to their entries: the settings each takes, with defaults, and how to
build it. The rates are those of ``torch.optim.lr_scheduler`` (stepped once per epoch, or per
batch for ``cosine`` with ``per: step``) for the same settings; ``warmup_epochs`` puts a
linear warmup in front of any of them, as ``SequentialLR([LinearLR, schedule])`` does.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

REQUIRED = object()
"""A setting's default that means: the config must give it."""


class Schedule:
    """A learning rate for every step of training; stateless unless it overrides
    :meth:`observe`."""

    def rate(self, epoch: int, step: int) -> float:
        """The rate of step ``step`` (0-based, within the epoch) of epoch ``epoch`` (1-based)."""
        raise NotImplementedError

    def observe(self, record: Mapping[str, Any]) -> None:
        """Take the metrics of the epoch that just ended (metrics.jsonl's record)."""


@dataclass
class Constant(Schedule):
    """The same rate throughout."""

    lr: float

    def rate(self, epoch: int, step: int) -> float:
        return self.lr


@dataclass
class Exponential(Schedule):
    """``lr * gamma ** (epoch - 1)``: ``ExponentialLR``."""

    lr: float
    gamma: float

    def rate(self, epoch: int, step: int) -> float:
        return self.lr * self.gamma ** (epoch - 1)


@dataclass
class Step(Schedule):
    """``lr * gamma ** ((epoch - 1) // step_size)``: ``StepLR``."""

    lr: float
    step_size: int
    gamma: float

    def rate(self, epoch: int, step: int) -> float:
        return self.lr * self.gamma ** ((epoch - 1) // self.step_size)


@dataclass
class MultiStep(Schedule):
    """``lr * gamma ** (milestones passed)``: ``MultiStepLR`` (milestones in epochs)."""

    lr: float
    milestones: list[int]
    gamma: float

    def rate(self, epoch: int, step: int) -> float:
        return self.lr * self.gamma ** bisect.bisect_right(self.milestones, epoch - 1)


@dataclass
class Cosine(Schedule):
    """Half a cosine from ``lr`` down to ``min_lr`` over the run: ``CosineAnnealingLR`` with
    ``T_max`` the run's epochs (``per: epoch``) or its batches (``per: step``)."""

    lr: float
    min_lr: float
    per_step: bool
    epochs: int
    steps_per_epoch: int

    def rate(self, epoch: int, step: int) -> float:
        if self.per_step:
            t, total = (epoch - 1) * self.steps_per_epoch + step, self.epochs * self.steps_per_epoch
        else:
            t, total = epoch - 1, self.epochs
        return self.min_lr + (self.lr - self.min_lr) * (1 + math.cos(math.pi * t / total)) / 2


@dataclass
class Plateau(Schedule):
    """``ReduceLROnPlateau`` on the validation loss (mode min, relative threshold 1e-4, no
    cooldown): the rate is multiplied by ``factor`` once the loss has not improved for more
    than ``patience`` epochs, never below ``min_lr``."""

    lr: float
    factor: float
    patience: int
    min_lr: float
    threshold: float = 1e-4
    eps: float = 1e-8
    current: float = field(init=False)
    best: float = field(init=False, default=math.inf)
    bad_epochs: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.current = self.lr

    def rate(self, epoch: int, step: int) -> float:
        return self.current

    def observe(self, record: Mapping[str, Any]) -> None:
        loss = record["val_loss"]
        if loss < self.best * (1 - self.threshold):
            self.best, self.bad_epochs = loss, 0
        else:
            self.bad_epochs += 1
        if self.bad_epochs > self.patience:
            reduced = max(self.current * self.factor, self.min_lr)
            if self.current - reduced > self.eps:
                self.current = reduced
            self.bad_epochs = 0


@dataclass
class Warmup(Schedule):
    """Epoch k of the first ``epochs`` runs at ``k / epochs`` of ``lr``; then ``then`` runs
    from its own first epoch (``SequentialLR`` of ``LinearLR(start_factor=1/epochs,
    total_iters=epochs-1)`` and the schedule, milestone ``epochs``)."""

    lr: float
    epochs: int
    then: Schedule

    def rate(self, epoch: int, step: int) -> float:
        if epoch <= self.epochs:
            return self.lr * epoch / self.epochs
        return self.then.rate(epoch - self.epochs, step)

    def observe(self, record: Mapping[str, Any]) -> None:
        if record["epoch"] > self.epochs:
            self.then.observe(record)


@dataclass(frozen=True)
class Run:
    """What a schedule is built for: the base rate, and the epochs and batches it spans."""

    lr: float
    epochs: int
    steps_per_epoch: int


@dataclass(frozen=True)
class ScheduleEntry:
    """A registry entry.

    name : what ``schedule.name`` says.
    summary : one line for help texts and the docs.
    settings : the keys of the ``schedule`` section it takes, with their defaults
        (:data:`REQUIRED`: the config must give it).
    build : the schedule from the settings (a mapping of every key of ``settings``) and the run.
    needs_validation : it watches the validation loss.
    """

    name: str
    summary: str
    settings: dict[str, Any]
    build: Callable[[Mapping[str, Any], Run], Schedule]
    needs_validation: bool = False


SCHEDULES: dict[str, ScheduleEntry] = {
    entry.name: entry
    for entry in (
        ScheduleEntry("constant", "optimizer.lr throughout", {}, lambda s, r: Constant(r.lr)),
        ScheduleEntry(
            "step",
            "lr times gamma every step_size epochs (StepLR)",
            {"step_size": REQUIRED, "gamma": 0.1},
            lambda s, r: Step(r.lr, s["step_size"], s["gamma"]),
        ),
        ScheduleEntry(
            "multistep",
            "lr times gamma at each of the milestones, in epochs (MultiStepLR)",
            {"milestones": REQUIRED, "gamma": 0.1},
            lambda s, r: MultiStep(r.lr, list(s["milestones"]), s["gamma"]),
        ),
        ScheduleEntry(
            "exponential",
            "lr times gamma after every epoch (ExponentialLR)",
            {"gamma": REQUIRED},
            lambda s, r: Exponential(r.lr, s["gamma"]),
        ),
        ScheduleEntry(
            "cosine",
            "half a cosine from lr to min_lr over the run, per epoch or per step "
            "(CosineAnnealingLR)",
            {"min_lr": 0.0, "per": "epoch"},
            lambda s, r: Cosine(r.lr, s["min_lr"], s["per"] == "step", r.epochs, r.steps_per_epoch),
        ),
        ScheduleEntry(
            "plateau",
            "lr times factor when the validation loss stops improving (ReduceLROnPlateau)",
            {"factor": 0.1, "patience": 10, "min_lr": 0.0},
            lambda s, r: Plateau(r.lr, s["factor"], s["patience"], s["min_lr"]),
            needs_validation=True,
        ),
    )
}


def build_schedule(
    name: str,
    settings: Mapping[str, Any],
    warmup_epochs: int,
    lr: float,
    epochs: int,
    steps_per_epoch: int,
) -> Schedule:
    """The schedule ``name`` with ``settings`` (every key its entry takes), behind a linear
    warmup of ``warmup_epochs`` epochs when that is > 0, for a run of ``epochs`` epochs of
    ``steps_per_epoch`` batches at base rate ``lr``."""
    main_epochs = max(epochs - warmup_epochs, 1)
    schedule = SCHEDULES[name].build(settings, Run(lr, main_epochs, steps_per_epoch))
    return Warmup(lr, warmup_epochs, schedule) if warmup_epochs else schedule
