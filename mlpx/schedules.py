"""Learning-rate schedules: the rate of every training step, as a function of epoch and step.

The training loop asks its schedule for the rate of each step and passes it to the backend's
``train_step``, so a schedule that changes the rate within an epoch needs no backend change.
``SCHEDULES`` maps a name to its entry; an entry builds the schedule from the config's
``optimizer`` section. Today a config chooses through ``optimizer.lr_decay`` (1: constant,
else exponential); the rates are those of ``torch.optim.lr_scheduler`` stepped once per epoch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Schedule(Protocol):
    """A learning rate for every step of training."""

    def rate(self, epoch: int, step: int) -> float:
        """The rate of step ``step`` (0-based, within the epoch) of epoch ``epoch`` (1-based)."""
        ...


class ScheduleSettings(Protocol):
    """What a schedule entry reads from the config's ``optimizer`` section."""

    lr: float
    lr_decay: float


@dataclass(frozen=True)
class Constant:
    """The same rate throughout."""

    lr: float

    def rate(self, epoch: int, step: int) -> float:
        return self.lr


@dataclass(frozen=True)
class Exponential:
    """``lr * gamma ** (epoch - 1)``: ``torch.optim.lr_scheduler.ExponentialLR`` stepped after
    every epoch."""

    lr: float
    gamma: float

    def rate(self, epoch: int, step: int) -> float:
        return self.lr * self.gamma ** (epoch - 1)


@dataclass(frozen=True)
class ScheduleEntry:
    """A registry entry: a name, one line of help, and how to build it from the settings."""

    name: str
    summary: str
    build: Callable[[ScheduleSettings], Schedule]


SCHEDULES: dict[str, ScheduleEntry] = {
    entry.name: entry
    for entry in (
        ScheduleEntry("constant", "optimizer.lr throughout", lambda s: Constant(s.lr)),
        ScheduleEntry(
            "exponential",
            "optimizer.lr times optimizer.lr_decay after every epoch",
            lambda s: Exponential(s.lr, s.lr_decay),
        ),
    )
}


def build_schedule(settings: ScheduleSettings) -> Schedule:
    """The schedule an ``optimizer`` section asks for: exponential when ``lr_decay`` < 1."""
    return SCHEDULES["constant" if settings.lr_decay == 1 else "exponential"].build(settings)
