"""Run a group of runs: create its directory, hold its lock, hand its unfinished trials to an
executor, record each as it ends; resume one whose process died.

Finished trials (see :data:`mlpx.status.FINISHED`) are never touched again; the directory of
an unfinished one is set aside as ``.<name>.attempt-<n>`` and the trial runs afresh with the
same seed. Ctrl-C or SIGTERM stops the trials, keeps what finished and returns the result
with ``interrupted`` set.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from mlpx.errors import GroupError
from mlpx.groups.executors import (
    Executor,
    ExecutorOptions,
    TrialOutcome,
    TrialTask,
    open_executor,
    read_summary,
)
from mlpx.groups.plan import GroupPlan, SweepPlan, Trial
from mlpx.groups.results import (
    GroupResult,
    TrialResult,
    recorded_wall_seconds,
    write_group_files,
)
from mlpx.interrupts import deferred_interrupts, sigterm_as_interrupt
from mlpx.runs import RunDir, pid_alive, run_status
from mlpx.status import FINISHED


class GroupObserver(Protocol):
    """Receives a group's progress; the CLI renders it, tests may pass None."""

    def on_start(
        self, directory: Path, plan: GroupPlan, pending: list[Trial], finished: list[TrialResult]
    ) -> None: ...

    def on_trial_end(self, result: TrialResult) -> None: ...


@contextlib.contextmanager
def _group_lock(directory: Path, name: str) -> Iterator[None]:
    """Hold ``directory/name`` while trials run, so that two processes never run one group."""
    path = directory / name
    taken = False
    try:
        # a Ctrl-C while the lock is taken waits until it is, so that the finally sees it
        with deferred_interrupts():
            _take_lock(directory, name, path)
            taken = True
        yield
    finally:
        if taken:
            path.unlink(missing_ok=True)


def _take_lock(directory: Path, name: str, path: Path) -> None:
    host = socket.gethostname()
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = RunDir(directory).read_json(name) or {}
            pid = holder.get("pid")
            if holder.get("host") not in (None, host):
                raise GroupError(
                    f"{directory}: the group is running on {holder['host']} ({name}); "
                    "delete the lock if that process is gone"
                ) from None
            if isinstance(pid, int) and pid_alive(pid):
                raise GroupError(
                    f"{directory}: the group is running in process {pid} ({name}); "
                    "wait for it or stop it first"
                ) from None
            path.unlink(missing_ok=True)  # left by a group that died
            continue
        with os.fdopen(fd, "w") as handle:
            json.dump({"pid": os.getpid(), "host": host, "started": time.time()}, handle)
        return
    raise GroupError(f"{directory}: cannot take {name}")


def _recorded(directory: Path, plan: GroupPlan, trial: Trial) -> TrialResult | None:
    """The result of a trial that finished, read from its run directory; None otherwise."""
    summary = read_summary(plan.members_dir(directory) / trial.name)
    if summary is None or summary.get("status") not in FINISHED:
        return None
    wall = recorded_wall_seconds(directory, trial)
    return TrialResult.from_summary(trial, summary, wall_seconds=wall)


def _wait_for_orphan(run_path: Path, timeout: float = 10.0) -> None:
    """Wait until no process of this host still writes the trial (one of a killed group)."""
    deadline = time.monotonic() + timeout
    while run_status(read_summary(run_path)) == "running":
        if time.monotonic() > deadline:
            pid = (read_summary(run_path) or {}).get("pid")
            raise GroupError(f"{run_path}: still being written by process {pid}; stop it first")
        time.sleep(0.1)


def _set_aside(run_path: Path) -> None:
    """Rename an unfinished trial's directory to ``.<name>.attempt-<n>`` (kept, never reused)."""
    shutil.rmtree(run_path.with_name(f".{run_path.name}.incoming"), ignore_errors=True)
    if not run_path.exists():
        return
    _wait_for_orphan(run_path)
    for attempt in itertools.count(1):
        target = run_path.with_name(f".{run_path.name}.attempt-{attempt}")
        if not target.exists():
            run_path.rename(target)
            return


def pending_trials(directory: Path, plan: GroupPlan) -> list[Trial]:
    """The trials of a group directory that have not finished."""
    return [trial for trial in plan.trials if _recorded(directory, plan, trial) is None]


def _continue(
    directory: Path,
    plan: GroupPlan,
    executor: Executor,
    observer: GroupObserver | None,
    command: list[str] | None,
) -> GroupResult:
    """Run every unfinished trial of ``directory``, recording each as it ends."""
    with _group_lock(directory, plan.lock_file):
        ended = {t.name: r for t in plan.trials if (r := _recorded(directory, plan, t)) is not None}
        pending = [trial for trial in plan.trials if trial.name not in ended]
        members_dir = plan.members_dir(directory)
        members_dir.mkdir(exist_ok=True)
        for trial in pending:
            _set_aside(members_dir / trial.name)
        by_name = {trial.name: trial for trial in pending}
        tasks = [
            TrialTask(t.name, plan.trial_config(t).to_dict(), executor.threads, command)
            for t in pending
        ]

        def result(running: bool, interrupted: bool = False) -> GroupResult:
            rows = [ended[t.name] for t in plan.trials if t.name in ended]
            return GroupResult(directory, plan, rows, interrupted, running)

        if observer:
            observer.on_start(directory, plan, pending, list(ended.values()))
        write_group_files(result(running=bool(pending)))

        def record(task: TrialTask, outcome: TrialOutcome) -> None:
            ended[task.name] = TrialResult.from_summary(
                by_name[task.name], outcome.summary, outcome.status, outcome.error, outcome.seconds
            )
            write_group_files(result(running=len(ended) < len(plan.trials)))
            if observer:
                observer.on_trial_end(ended[task.name])

        if pending and isinstance(plan, SweepPlan):
            # the sweep draws its plots after the last trial; the imports can come before
            from mlpx.plots import warm_up

            threading.Thread(target=warm_up, name="mlpx-warm-plots", daemon=True).start()
        interrupted = False
        try:
            with sigterm_as_interrupt():
                executor.run(tasks, members_dir, record)
        except KeyboardInterrupt:
            interrupted = True
        final = result(running=False, interrupted=interrupted)
        write_group_files(final, final=True)
        uri = (plan.base.get("output") or {}).get("mlflow")
        if uri:  # the members' MLflow runs become children of the group's
            from mlpx.tracking import link_group

            summaries = [read_summary(members_dir / t.name) or {} for t in plan.trials]
            link_group(uri, directory, plan.kind, summaries)
    return final


def run_group(
    plan: GroupPlan,
    runs_dir: Path,
    options: ExecutorOptions,
    observer: GroupObserver | None = None,
    command: list[str] | None = None,
) -> GroupResult:
    """Run a planned group in a new directory under ``runs_dir``.

    The executor is ready (a Dask scheduler reached) before anything is written. Trials run
    in separate processes or on Dask; one that fails, diverges or is killed is recorded and
    the others go on.
    """
    executor = open_executor(options, plan.base["backend"])
    directory = None
    try:
        with deferred_interrupts():  # the directory and its plan file, or nothing
            directory = plan.create_dir(runs_dir)
        return _continue(directory, plan, executor, observer, command)
    except KeyboardInterrupt:
        if directory is None:
            raise
        return _interrupted(directory, plan)
    finally:
        executor.close()


def resume_group(
    directory: Path,
    plan: GroupPlan,
    options: ExecutorOptions,
    observer: GroupObserver | None = None,
    command: list[str] | None = None,
) -> GroupResult:
    """Finish the group in ``directory`` (whose plan :func:`~mlpx.groups.plan.load_plan`
    read): run again, with the same seeds, every trial that did not finish."""
    executor = open_executor(options, plan.base["backend"])
    try:
        return _continue(Path(directory), plan, executor, observer, command)
    except KeyboardInterrupt:
        return _interrupted(Path(directory), plan)
    finally:
        executor.close()


def _interrupted(directory: Path, plan: GroupPlan) -> GroupResult:
    """A group that Ctrl-C or SIGTERM stopped outside its trials (as it started or wrote its
    files): what finished is on disk, and resuming runs the rest."""
    finished = [r for t in plan.trials if (r := _recorded(directory, plan, t)) is not None]
    return GroupResult(directory, plan, finished, interrupted=True)
