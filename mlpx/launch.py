"""What ``mlpx train`` and ``mlpx sweep`` were asked to do, decided in one place.

The command line hands over what it parsed (:class:`TrainRequest`, :class:`SweepRequest`).
:func:`open_training` checks that the options go together, reads the config or the directory
to resume, builds whatever can fail on bad data before anything is written, and returns a
:class:`SingleRun` or a :class:`Group` (a cross-validation); :func:`open_sweep` returns a
:class:`Group` (a sweep). Each is ready to run with an observer of the face's choosing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlpx.config import Config, load_config
from mlpx.errors import RunDirError, UsageError
from mlpx.groups.executors import ExecutorOptions, TrialTask, check_options, stack_units
from mlpx.groups.plan import (
    CrossValPlan,
    GroupPlan,
    SweepPlan,
    Trial,
    is_cross_validation,
    load_plan,
    plan_crossval,
    plan_sweep,
)
from mlpx.groups.results import GroupResult
from mlpx.groups.runner import GroupObserver, pending_trials, resume_group, run_group
from mlpx.interrupts import sigterm_as_interrupt
from mlpx.runs import CONFIG, RunDir, check_is_dir

if TYPE_CHECKING:
    import numpy as np

    from mlpx.train import Trainer, TrainObserver, TrainResult


@dataclass
class TrainRequest:
    """The options of ``mlpx train`` as given; ``executor`` is for a cross-validation."""

    config: Path | None = None
    overrides: list[str] = field(default_factory=list)
    runs_dir: Path | None = None
    resume: Path | None = None
    print_config: bool = False
    executor: ExecutorOptions = field(default_factory=ExecutorOptions)
    epochs: int | None = None

    def check(self) -> None:
        """Refuse options that do not go together."""
        if self.resume is not None and (self.config or self.overrides or self.print_config):
            raise UsageError(
                "--resume takes the run directory alone: its config.yaml is the config"
            )
        if self.resume is not None and self.runs_dir is not None:
            raise UsageError(
                f"--runs-dir: a resumed run stays where it is ({self.resume}); drop --runs-dir"
            )
        if self.epochs is not None and self.resume is None:
            raise UsageError(
                "--epochs: only with --resume (it adds epochs to a stopped run); for a new "
                "run, -s train.epochs=N"
            )
        if self.epochs is not None and self.epochs < 1:
            raise UsageError(f"--epochs {self.epochs}: must be a number of epochs >= 1")
        if self.resume is None and self.config is None and not self.print_config:
            raise UsageError(
                "give a config file (e.g. mlpx train configs/digits.yaml) or --resume RUN_DIR"
            )
        check_options(self.executor)

    def refuse_executor_options(self) -> None:
        """A single run trains here, in this process: executor options do not apply."""
        given = self.executor.given() + (["executor"] if self.executor.executor != "local" else [])
        if given:
            options = ", ".join(f"--{name}" for name in given)
            raise UsageError(
                f"{options}: only for a cross-validation (data.folds: K); this is a single run"
            )


def resolved_config(request: TrainRequest) -> Config:
    """The validated config ``--print-config`` shows (the defaults, with any ``-s``
    overrides, when no config file is given)."""
    request.check()
    return load_config(request.config, request.overrides)


@dataclass
class SingleRun:
    """One run, new (into a fresh directory under ``runs_dir``) or resumed."""

    trainer: Trainer
    runs_dir: Path | None = None
    resumed: tuple[RunDir, dict[str, np.ndarray]] | None = None

    def run(self, observer: TrainObserver | None, command: list[str] | None) -> TrainResult:
        """Train; Ctrl-C or SIGTERM stops after the epoch in flight (status interrupted)."""
        self.trainer.observer = observer
        with sigterm_as_interrupt():
            if self.resumed is not None:
                return self.trainer.resume(*self.resumed)
            return self.trainer.run(self.runs_dir, command=command)


def check_stacking(plan: GroupPlan, options: ExecutorOptions) -> None:
    """``--executor stacked`` refuses, before anything is written, trials that cannot all
    train as one stack."""
    if options.executor == "stacked":
        tasks = [TrialTask(t.name, plan.trial_config(t).to_dict()) for t in plan.trials]
        stack_units(tasks, "always")


@dataclass
class Group:
    """A sweep or a cross-validation: new (under ``runs_dir``) or resumed (``directory``), run
    by :mod:`mlpx.groups.runner` through the executor ``options`` name."""

    plan: GroupPlan
    options: ExecutorOptions
    runs_dir: Path | None = None
    directory: Path | None = None

    @property
    def resumed(self) -> bool:
        return self.directory is not None

    @property
    def target(self) -> Path:
        """Where it runs: the resumed directory, or the new one's name with TIME for its
        start time (for a dry run)."""
        if self.directory is not None:
            return self.directory
        assert self.runs_dir is not None
        return self.runs_dir / self.plan.dir_name("TIME")

    def pending(self) -> list[Trial]:
        """The trials that would run: all of a new group, the unfinished ones of another."""
        if self.directory is None:
            return self.plan.trials
        return pending_trials(self.directory, self.plan)

    def run(self, observer: GroupObserver | None, command: list[str] | None) -> GroupResult:
        """Run the trials that have not finished; Ctrl-C or SIGTERM stops them (the result
        says interrupted) and keeps what finished."""
        with sigterm_as_interrupt():
            if self.directory is not None:
                return resume_group(self.directory, self.plan, self.options, observer, command)
            assert self.runs_dir is not None
            return run_group(self.plan, self.runs_dir, self.options, observer, command)


def open_training(request: TrainRequest) -> SingleRun | Group:
    """Decide what a ``mlpx train`` request trains, ready to run.

    A config with ``data.folds: K`` (and no ``data.fold``) is a cross-validation; ``--resume``
    of a directory with cv.yaml resumes one, of a run directory that run. Data and model of a
    new run (of a cross-validation's first fold) are built here, so that a config or data
    error stops everything before a directory is written.
    """
    from mlpx.train import Trainer, open_resume

    request.check()
    if request.resume is not None:
        path = Path(request.resume)
        check_is_dir(path, f"--resume {path}")
        if (path / CrossValPlan.plan_file).is_file():
            if request.epochs is not None:
                raise UsageError("--epochs: only for a single run, not a cross-validation")
            return Group(load_plan(path, CrossValPlan), request.executor, directory=path)
        if not (path / CONFIG).is_file():
            raise RunDirError(
                f"--resume {path}: not a run directory (no {CONFIG}) "
                f"nor a cross-validation (no {CrossValPlan.plan_file})"
            )
        request.refuse_executor_options()
        trainer, run, checkpoint = open_resume(path, request.epochs)
        return SingleRun(trainer, resumed=(run, checkpoint))
    config = load_config(request.config, request.overrides).with_absolute_paths()
    if is_cross_validation(config):
        plan = plan_crossval(config)
        Trainer(plan.trial_config(plan.trials[0]))  # every fold would fail the same way
        check_stacking(plan, request.executor)
        runs_dir = request.runs_dir or Path(config.output.runs_dir)
        return Group(plan, request.executor, runs_dir=runs_dir)
    request.refuse_executor_options()
    return SingleRun(Trainer(config), request.runs_dir)


@dataclass
class SweepRequest:
    """The options of ``mlpx sweep`` as given."""

    param: str | None = None
    values: str | None = None
    config: Path | None = None
    seeds: int | None = None
    overrides: list[str] = field(default_factory=list)
    runs_dir: Path | None = None
    resume: Path | None = None
    executor: ExecutorOptions = field(default_factory=ExecutorOptions)


def open_sweep(request: SweepRequest) -> Group:
    """Plan the sweep a ``mlpx sweep`` request asks for (every trial's config validated), or
    read back the one ``--resume`` names; nothing is written."""
    check_options(request.executor)
    resume = request.resume
    if resume is not None:
        shaping = {"--values": request.values, "--config": request.config}
        shaping |= {"--seeds": request.seeds, "--set": request.overrides or None}
        shaping |= {"--runs-dir": request.runs_dir}
        given = [option for option, value in shaping.items() if value is not None]
        if given:
            recorded = Path(resume) / SweepPlan.plan_file
            raise UsageError(
                f"--resume reruns the sweep as {recorded} records it; drop {', '.join(given)}"
            )
        plan = load_plan(resume, SweepPlan)
        if request.param is not None and request.param != plan.param:
            raise UsageError(
                f"--resume {resume}: that sweep is of {plan.param!r}, not {request.param!r}"
            )
        return Group(plan, request.executor, directory=Path(resume))
    if request.param is None:
        raise UsageError(
            "missing PARAM: what to sweep, e.g. mlpx sweep lr (see 'mlpx sweep --help')"
        )
    base = load_config(request.config, request.overrides).with_absolute_paths()
    seeds = 1 if request.seeds is None else request.seeds
    plan = plan_sweep(request.param, request.values, base, seeds)
    check_stacking(plan, request.executor)
    return Group(plan, request.executor, runs_dir=request.runs_dir or Path(base.output.runs_dir))
