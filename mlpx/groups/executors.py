"""Where a group's trials run: processes on this machine (a trial each, or a stack of
trials of one shape each), or a Dask cluster.

Every executor follows :class:`Executor`: it takes :class:`TrialTask` s (a trial's name and
resolved config) and reports a :class:`TrialOutcome` for each as it ends, whatever the way it
ends: completed, diverged, failed (raised), killed (its process died) or interrupted. They
are named in :data:`EXECUTORS` and built from one :class:`ExecutorOptions`; the command
line's choices and messages come from that table. Nothing here knows about values, seeds or
results.csv; that is :mod:`mlpx.groups.runner`.

Only the standard library is imported at the top, so that the command line can name the
executors without loading anything.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, ClassVar, Protocol

from mlpx.errors import GroupError, MlpxError
from mlpx.interrupts import interrupts_allowed

# --- one trial, in a worker process or on a Dask worker ----------------------------------


@dataclass
class TrialTask:
    """What a worker needs to run one trial: its name, resolved config and thread limit.

    ``threads`` (set when trials run side by side) caps BLAS and torch threads and replaces
    a config's ``threads: auto``; an explicit ``threads: N`` in the config is kept.
    """

    name: str
    config: dict[str, Any]
    threads: int | None = None
    command: list[str] | None = None


@dataclass
class TrialOutcome:
    """How a trial ended: its status, summary.json's content if written, an error line."""

    status: str
    summary: dict[str, Any] | None
    error: str | None
    seconds: float


@contextlib.contextmanager
def _thread_limit(threads: int | None, backend: str) -> Iterator[None]:
    """Pin BLAS/OpenMP (and torch) to ``threads`` so parallel trials do not oversubscribe."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads):
        if backend == "torch":
            import torch

            torch.set_num_threads(threads)
        yield


def read_summary(run_path: Path) -> dict[str, Any] | None:
    """A run directory's summary.json, or None when it is missing or unreadable."""
    from mlpx.runs import RunDir

    return RunDir(run_path).read_summary()


def run_trial(task: TrialTask, run_path: Path) -> TrialOutcome:
    """Train one trial into ``run_path``; every way it can end becomes an outcome."""
    from mlpx.config import build_config
    from mlpx.train import train

    started = time.perf_counter()
    try:
        # a local trial's process starts ignoring Ctrl-C (see _process_context): here it
        # may stop the trial, which then ends as interrupted
        with interrupts_allowed():
            config = build_config(task.config)
            if task.threads is not None and config.threads == "auto":
                # trials share the cores; the trial's config.yaml records what it ran with
                config.threads = task.threads
            with _thread_limit(task.threads, config.backend):
                result = train(config, run_path=run_path, command=task.command)
        error = result.message if result.status != "completed" else None
        status, summary = result.status, result.summary
    except KeyboardInterrupt:
        status, summary, error = "interrupted", read_summary(run_path), "interrupted"
    except Exception as exc:
        what = str(exc) if isinstance(exc, MlpxError) else f"{type(exc).__name__}: {exc}"
        status, summary, error = "failed", read_summary(run_path), what
    return TrialOutcome(status, summary, error, time.perf_counter() - started)


def run_trial_files(
    tasks: list[TrialTask],
) -> list[tuple[str, TrialOutcome, dict[str, bytes]]]:
    """Run a trial, or trials as a stack, in a temporary directory and return each one's
    name, outcome and files (relative path -> bytes), for executors that share no file
    system with the group."""
    with tempfile.TemporaryDirectory(prefix="mlpx-trial-") as tmp:
        members_dir = Path(tmp)
        if len(tasks) == 1:
            ended = [(tasks[0], run_trial(tasks[0], members_dir / tasks[0].name))]
        else:
            ended = list(run_stacked(tasks, members_dir))
        return [
            (task.name, outcome, _read_files(members_dir / task.name)) for task, outcome in ended
        ]


def _read_files(run_path: Path) -> dict[str, bytes]:
    return {
        path.relative_to(run_path).as_posix(): path.read_bytes()
        for path in sorted(run_path.rglob("*"))
        if path.is_file()
    }


def run_stacked(
    tasks: list[TrialTask], members_dir: Path
) -> Iterator[tuple[TrialTask, TrialOutcome]]:
    """Train ``tasks`` (of one :func:`~mlpx.backends.stack_key`) as stacks, in chunks that
    fit in memory, into ``members_dir/<name>``; yield each trial's outcome as it ends."""
    from mlpx.config import build_config
    from mlpx.data import load_dataset
    from mlpx.groups.stacked import chunk_size, train_stacked

    started = time.perf_counter()
    configs = [build_config(task.config) for task in tasks]
    threads = tasks[0].threads
    for config in configs:
        if threads is not None and config.threads == "auto":
            config.threads = threads
    first = load_dataset(configs[0].data, configs[0].seed, configs[0].dtype, configs[0].task)
    size = chunk_size(configs[0], first.n_features, first.n_classes)
    with _thread_limit(threads, configs[0].backend):
        for begin in range(0, len(tasks), size):
            chunk = tasks[begin : begin + size]
            paths = [members_dir / task.name for task in chunk]
            interrupted = False
            for k, run in train_stacked(configs[begin : begin + size], paths, chunk[0].command):
                seconds = time.perf_counter() - started
                if run.result is not None:
                    result = run.result
                    error = result.message if result.status != "completed" else None
                    interrupted |= result.status == "interrupted"
                    yield chunk[k], TrialOutcome(result.status, result.summary, error, seconds)
                else:
                    exc = run.error
                    what = (
                        str(exc) if isinstance(exc, MlpxError) else f"{type(exc).__name__}: {exc}"
                    )
                    status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                    interrupted |= status == "interrupted"
                    yield chunk[k], TrialOutcome(status, read_summary(paths[k]), what, seconds)
            if interrupted:  # the trials of later chunks have not started
                return


def _exit_with_parent(conn) -> None:
    """Block until the group's end of the pipe closes, then end this trial's process:
    a group killed with SIGKILL leaves no orphaned trials writing into its directory."""
    with contextlib.suppress(EOFError, OSError):
        conn.recv()
    os._exit(70)


def _trial_process(tasks: list[TrialTask], members_dir: Path, conn) -> None:
    """Body of a local process: run its trial, or its trials as a stack, and send each
    outcome back as ``(name, outcome)`` as it ends."""
    threading.Thread(target=_exit_with_parent, args=(conn,), daemon=True).start()
    if len(tasks) == 1:
        conn.send((tasks[0].name, run_trial(tasks[0], members_dir / tasks[0].name)))
        return
    try:
        # started ignoring Ctrl-C, as a trial's process is (see _process_context): here it
        # may stop the stack, whose trials then end as interrupted
        with interrupts_allowed():
            for task, outcome in run_stacked(tasks, members_dir):
                conn.send((task.name, outcome))
    except KeyboardInterrupt:
        pass  # every run has written its files as interrupted; the group reads them


# --- executors ---------------------------------------------------------------------------

OnOutcome = Callable[[TrialTask, TrialOutcome], None]


@dataclass(frozen=True)
class ExecutorOptions:
    """How to run a group's trials, as the command line gives it: the executor's name in
    :data:`EXECUTORS` and the options each executor takes (see ``Executor.takes``)."""

    executor: str = "local"
    jobs: int | None = None
    scheduler: str | None = None

    def given(self) -> list[str]:
        """The options other than ``executor`` that are set."""
        names = (f.name for f in fields(self) if f.name != "executor")
        return [name for name in names if getattr(self, name) is not None]


class Executor(Protocol):
    """Runs trials and reports each one's outcome as it ends."""

    takes: ClassVar[dict[str, str]]
    """The :class:`ExecutorOptions` fields it uses, with what each means (for messages)."""
    needs: ClassVar[tuple[str, ...]]
    """The fields it cannot do without."""
    threads: int | None
    """The thread limit each trial gets (None: the trial's config decides)."""

    @classmethod
    def open(cls, options: ExecutorOptions, backend: str) -> Executor:
        """Ready to run (a cluster reached) before the group writes anything."""
        ...

    def run(self, tasks: list[TrialTask], members_dir: Path, on_outcome: OnOutcome) -> None:
        """Run ``tasks`` into ``members_dir/<name>``, calling ``on_outcome`` as each ends;
        Ctrl-C stops them all (each reported) and is raised again."""
        ...

    def close(self) -> None:
        """Release what :meth:`open` took."""
        ...


@dataclass
class _Job:
    """A trial, or a stack of trials, running in a local process."""

    tasks: list[TrialTask]
    process: Any
    conn: Any
    members_dir: Path
    started: float
    outcomes: dict[str, TrialOutcome] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)
    listening: bool = True

    def receive(self) -> None:
        """Take the outcomes that have arrived from the pipe (or note that none will)."""
        while self.listening and self.conn.poll():
            try:
                name, outcome = self.conn.recv()
            except (EOFError, OSError):
                self.listening = False
            else:
                self.outcomes[name] = outcome
                self.listening = len(self.outcomes) < len(self.tasks)

    def arrived(self) -> list[tuple[TrialTask, TrialOutcome]]:
        """The outcomes received and not yet taken (a stack's trials end one by one)."""
        self.receive()
        new = [t for t in self.tasks if t.name in self.outcomes and t.name not in self.taken]
        self.taken |= {task.name for task in new}
        return [(task, self.outcomes[task.name]) for task in new]

    def finish(self) -> list[tuple[TrialTask, TrialOutcome]]:
        """The outcome of each trial of the exited process not taken yet; a trial the
        process died without reporting was killed with it."""
        self.process.join()
        self.receive()
        self.conn.close()
        return [(task, self._outcome(task)) for task in self.tasks if task.name not in self.taken]

    def _outcome(self, task: TrialTask) -> TrialOutcome:
        if task.name in self.outcomes:
            return self.outcomes[task.name]
        code = self.process.exitcode
        seconds = time.perf_counter() - self.started
        summary = read_summary(self.members_dir / task.name)
        if code is not None and code < 0:
            name = signal.Signals(-code).name
            return TrialOutcome("killed", summary, f"trial process killed by {name}", seconds)
        error = f"trial process exited with code {code} before reporting"
        return TrialOutcome("failed", summary, error, seconds)


QUIET_PYTHON = """#!/bin/sh
# mlpx: start Python ignoring Ctrl-C and SIGTERM (trial processes; see _process_context)
trap '' INT TERM
exec {python} "$@"
"""


def _quiet_python() -> str | None:
    """A script that runs this Python with SIGINT and SIGTERM ignored (as a shell's ``trap ''``
    leaves them across exec), written once into the temporary folder; None where there is
    no POSIX shell."""
    import hashlib
    import shlex
    import sys

    if os.name != "posix" or not os.path.exists("/bin/sh"):
        return None
    text = QUIET_PYTHON.format(python=shlex.quote(sys.executable))
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"mlpx-{os.getuid()}-quiet-python-{digest}.sh"
    if not path.is_file():
        from mlpx.atomic import write_text_atomic

        write_text_atomic(path, text)
        path.chmod(0o755)
    return str(path)


@contextlib.contextmanager
def _quiet_executable() -> Iterator[None]:
    """Within the block, processes that multiprocessing starts (the forkserver on the first
    trial, every trial with spawn) run :func:`_quiet_python`, so they start ignoring SIGINT
    and SIGTERM, and so does every trial the forkserver forks: a terminal's Ctrl-C goes to
    every process of the group, and one that came while a trial or the forkserver is
    starting (importing torch for seconds) would end it with a traceback. The group stops
    its trials itself; :func:`run_trial` takes the signals back once the trial runs. Other
    users of multiprocessing in the process (Dask) are left as they were."""
    from multiprocessing import spawn

    quiet, previous = _quiet_python(), spawn.get_executable()
    if quiet is None:
        yield
        return
    spawn.set_executable(quiet)
    try:
        yield
    finally:
        spawn.set_executable(previous)


def _draws_plots(task: TrialTask) -> bool:
    """Whether a trial run alone draws its plots (``output.plots``, true by default)."""
    return bool((task.config.get("output") or {}).get("plots", True))


def _process_context(backend: str, plots: bool = True):
    """A multiprocessing context that is safe with torch (no fork of a threaded process).

    ``plots``: the trials draw their plots (a stack leaves them to ``mlpx plot``), so the
    processes start with matplotlib imported.
    """
    import multiprocessing

    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if method == "spawn":
        return context
    # Trial processes fork from a server that imported these once, so each trial starts in
    # milliseconds instead of importing torch and matplotlib again. The server imports them
    # before the first trial can start: nothing it will not use (matplotlib: 0.4 s here).
    preload = ["mlpx.groups.executors", "mlpx.train", "mlpx.report"]
    if plots:
        preload += ["mlpx.plots", "matplotlib.figure", "matplotlib.backends.backend_agg"]
    if backend == "torch":  # torch: 3-4 s here (the backend never imports torch._dynamo)
        preload += ["mlpx.backends.torch"]
    context.set_forkserver_preload(preload)
    return context


def _differing(keys: list[tuple[tuple[str, object], ...]]) -> list[str]:
    """The names of the :func:`~mlpx.backends.stack_key` parts that differ among ``keys``."""
    return [name for i, (name, _) in enumerate(keys[0]) if len({k[i][1] for k in keys}) > 1]


def stack_units(tasks: list[TrialTask], stacking: str) -> list[list[TrialTask]]:
    """The trials grouped as they run: each list one process, a stack when it has more than
    one trial. ``stacking``: ``never`` (a trial each), ``auto`` (trials of one
    :func:`~mlpx.backends.stack_key` together, the rest alone) or ``always`` (like auto,
    refusing with a GroupError when some trial cannot join a stack)."""
    if stacking == "never" or len(tasks) < 2:
        return [[task] for task in tasks]
    from mlpx.backends import stack_key, stacks
    from mlpx.config import build_config

    backend = tasks[0].config["backend"]
    if not stacks(backend):
        if stacking == "always":
            raise GroupError(
                f"--executor stacked: the {backend} backend cannot stack trials; "
                "use --executor local"
            )
        return [[task] for task in tasks]
    configs = [build_config(task.config) for task in tasks]
    if any(config.task == "regression" for config in configs):
        if stacking == "always":
            raise GroupError(
                "--executor stacked: regression trials cannot stack yet; use --executor local"
            )
        return [[task] for task in tasks]
    keys = [stack_key(config) for config in configs]
    groups: dict[tuple, list[TrialTask]] = {}
    for key, task in zip(keys, tasks, strict=True):
        groups.setdefault(key, []).append(task)
    if stacking == "always" and len(groups) > 1:
        raise GroupError(
            f"--executor stacked: the trials cannot train as one stack, they differ in "
            f"{', '.join(_differing(keys))}; use --executor local, which stacks the trials "
            "that share a shape and runs the others alone"
        )
    return list(groups.values())


STOP_GRACE = ((2.0, True), (10.0, False))
"""After Ctrl-C, the seconds a local executor's trials get to write their files as
interrupted; then (True) a SIGINT to each still going, as a terminal's Ctrl-C reaches the
trials but a signal sent to the group alone does not; then seconds more before SIGKILL."""


class LocalExecutor:
    """Runs trials in processes of their own, at most ``jobs`` processes at a time; trials of
    one shape (see :func:`stack_units`) share a process and train as one stacked model.

    A process per trial (or stack) isolates crashes: a process killed by a signal or a
    segfault has its trials recorded as killed and the others go on. With more than one
    job, each process's BLAS and torch threads are pinned to 1 so that ``jobs`` processes use
    ``jobs`` cores; a stack is then split into ``jobs`` stacks when it has the trials.
    """

    takes: ClassVar[dict[str, str]] = {"jobs": "a number of parallel trials >= 1"}
    needs: ClassVar[tuple[str, ...]] = ()
    stacking: ClassVar[str] = "auto"

    def __init__(self, jobs: int, backend: str):
        self.jobs = jobs
        self.threads = 1 if jobs > 1 else None
        self.backend = backend

    @classmethod
    def open(cls, options: ExecutorOptions, backend: str) -> LocalExecutor:
        """``options.jobs`` processes at a time (default: the number of cores)."""
        return cls(options.jobs or os.cpu_count() or 1, backend)

    def units(self, tasks: list[TrialTask]) -> list[list[TrialTask]]:
        """The trials of each process: :func:`stack_units`, a big stack split across jobs."""
        units = []
        for unit in stack_units(tasks, self.stacking):
            parts = max(1, min(self.jobs, len(unit) // 2))
            units += [unit[i::parts] for i in range(parts)]
        return units

    def run(self, tasks: list[TrialTask], members_dir: Path, on_outcome: OnOutcome) -> None:
        """Run ``tasks``, calling ``on_outcome`` as each ends; Ctrl-C stops them all."""
        from multiprocessing.connection import wait

        queue, running = self.units(tasks), []
        plots = any(len(unit) == 1 and _draws_plots(unit[0]) for unit in queue)
        self.context = _process_context(self.backend, plots)
        try:
            while queue or running:
                while queue and len(running) < self.jobs:
                    running.append(self._start(queue.pop(0), members_dir))
                handles = [job.process.sentinel for job in running]
                wait(handles + [job.conn for job in running if job.listening])
                for job in list(running):
                    for task, outcome in job.arrived():
                        on_outcome(task, outcome)
                    if job.process.exitcode is not None:
                        running.remove(job)
                        for task, outcome in job.finish():
                            on_outcome(task, outcome)
        except KeyboardInterrupt:
            self._stop(running, on_outcome)
            raise

    def _start(self, tasks: list[TrialTask], members_dir: Path) -> _Job:
        parent_end, child_end = self.context.Pipe()
        name = tasks[0].name if len(tasks) == 1 else f"stack-{tasks[0].name}+{len(tasks) - 1}"
        process = self.context.Process(
            target=_trial_process,
            args=(tasks, members_dir, child_end),
            name=f"mlpx-trial-{name}",
            daemon=True,
        )
        with _quiet_executable():
            process.start()
        child_end.close()
        return _Job(tasks, process, parent_end, members_dir, time.perf_counter())

    @staticmethod
    def _stop(running: list[_Job], on_outcome: OnOutcome) -> None:
        """After Ctrl-C: let trials write their files as interrupted, then kill stragglers."""
        from multiprocessing.connection import wait

        for grace, nudge in STOP_GRACE:
            deadline = time.monotonic() + grace
            while any(job.process.is_alive() for job in running) and time.monotonic() < deadline:
                wait([job.process.sentinel for job in running], deadline - time.monotonic())
            for job in running:
                if nudge and job.process.is_alive():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(job.process.pid, signal.SIGINT)
        for job in running:
            if job.process.is_alive():
                job.process.kill()
            for task, outcome in job.finish():
                if outcome.status in ("killed", "failed"):
                    outcome = replace(outcome, status="interrupted", error="stopped by Ctrl-C")
                on_outcome(task, outcome)

    def close(self) -> None:
        """Nothing to release: every trial's process has ended when :meth:`run` returns."""


class ProcessExecutor(LocalExecutor):
    """:class:`LocalExecutor` with a process per trial, never a stack."""

    stacking: ClassVar[str] = "never"


class StackedExecutor(LocalExecutor):
    """:class:`LocalExecutor` that refuses trials which cannot all train as one stack."""

    stacking: ClassVar[str] = "always"


class DaskExecutor:
    """Sends trials (or stacks of them) to an existing Dask cluster and gathers their files
    back.

    Workers share no file system with the group: each trains into a temporary directory and
    returns its files, which are written into the group's directory here.
    """

    takes: ClassVar[dict[str, str]] = {"scheduler": "a Dask scheduler address"}
    needs: ClassVar[tuple[str, ...]] = ("scheduler",)
    threads = 1

    def __init__(self, client):
        self.client = client

    @classmethod
    def open(cls, options: ExecutorOptions, backend: str) -> DaskExecutor:
        """Connected to ``options.scheduler``."""
        assert options.scheduler is not None  # check_options has said so
        return cls.connect(options.scheduler)

    @classmethod
    def connect(cls, address: str, timeout: float = 3.0) -> DaskExecutor:
        """Connect to the scheduler at ``address`` or fail within ``timeout`` seconds."""
        try:
            from distributed import Client
        except ImportError:
            raise GroupError(
                "--executor dask needs dask.distributed; install it with: pip install 'mlpx[dask]'"
            ) from None
        try:
            client = Client(address, timeout=f"{timeout}s", set_as_default=False)
        except Exception as exc:  # OSError, TimeoutError, ValueError: all mean "not there"
            reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise GroupError(
                f"--scheduler {address}: cannot reach a Dask scheduler within {timeout:g} s "
                f"({reason})"
            ) from None
        return cls(client)

    def run(self, tasks: list[TrialTask], members_dir: Path, on_outcome: OnOutcome) -> None:
        """Run ``tasks`` on the cluster, a Dask task per trial or per stack of trials of
        one shape (see :func:`stack_units`), calling ``on_outcome`` as each ends."""
        from distributed import as_completed

        token = f"{os.getpid()}-{time.time_ns()}"
        futures = {
            self.client.submit(
                run_trial_files, unit, key=f"mlpx-trial-{unit[0].name}-{token}", pure=False
            ): unit
            for unit in stack_units(tasks, "auto")
        }
        try:
            for future in as_completed(futures, loop=self.client.loop):
                unit = futures[future]
                try:
                    ended = {name: (outcome, files) for name, outcome, files in future.result()}
                except Exception as exc:  # KilledWorker when its worker died, or a lost task
                    status = "killed" if type(exc).__name__ == "KilledWorker" else "failed"
                    lost = TrialOutcome(status, None, f"{type(exc).__name__}: {exc}", 0.0)
                    ended = {task.name: (lost, {}) for task in unit}
                future.release()
                for task in unit:
                    outcome, files = ended.get(task.name, (_UNREPORTED, {}))
                    outcome, files = _kept_at(members_dir / task.name, outcome, files)
                    _write_files(members_dir / task.name, files)
                    on_outcome(task, outcome)
        except KeyboardInterrupt:
            self.client.cancel(list(futures))
            raise

    def close(self) -> None:
        """Disconnect from the scheduler (the cluster keeps running)."""
        self.client.close()


_UNREPORTED = TrialOutcome("failed", None, "its stack ended before the trial did", 0.0)


def _kept_at(
    run_path: Path, outcome: TrialOutcome, files: dict[str, bytes]
) -> tuple[TrialOutcome, dict[str, bytes]]:
    """A gathered trial's outcome and files with its summary's ``run_dir`` naming where the
    group keeps it, not the worker's temporary directory (gone once its files were read)."""
    import json

    from mlpx.atomic import json_text
    from mlpx.runs import SUMMARY

    if SUMMARY not in files:
        return outcome, files
    try:
        summary = json.loads(files[SUMMARY]) | {"run_dir": str(run_path)}
    except (ValueError, TypeError):  # not a summary mlpx wrote: the group reads it as damaged
        return outcome, files
    if outcome.summary is not None:
        outcome = replace(outcome, summary=summary)
    return outcome, files | {SUMMARY: json_text(summary).encode()}


def _write_files(run_path: Path, files: dict[str, bytes]) -> None:
    """Write a trial's gathered files under a hidden name, then rename them into place."""
    if not files:
        return
    incoming = run_path.with_name(f".{run_path.name}.incoming")
    shutil.rmtree(incoming, ignore_errors=True)
    for name, data in files.items():
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts:
            raise GroupError(f"trial {run_path.name}: a worker returned a bad file name {name!r}")
        target = incoming / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    incoming.rename(run_path)


EXECUTORS: dict[str, type[Executor]] = {
    "local": LocalExecutor,
    "process": ProcessExecutor,
    "stacked": StackedExecutor,
    "dask": DaskExecutor,
}
"""Every executor by the name ``--executor`` takes; adding one is one entry here."""

_EXAMPLES = {"scheduler": "ADDRESS, e.g. tcp://host:8786", "jobs": "N"}


def executor_names() -> str:
    """The names of :data:`EXECUTORS` as a message lists them: ``local, ... or dask``."""
    return _either(list(EXECUTORS))


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def check_options(options: ExecutorOptions) -> None:
    """Check executor options against :data:`EXECUTORS` without connecting anywhere."""
    kind = EXECUTORS.get(options.executor)
    if kind is None:
        raise GroupError(f"--executor {options.executor}: expected {executor_names()}")
    for name in kind.needs:
        if not getattr(options, name):
            example = _EXAMPLES.get(name, name.upper())
            raise GroupError(f"--executor {options.executor} needs --{name} {example}")
    for name in options.given():
        if name not in kind.takes:
            users = [key for key, other in EXECUTORS.items() if name in other.takes]
            raise GroupError(f"--{name} is for --executor {_either(users)}, not {options.executor}")
    jobs = options.jobs
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise GroupError(f"--jobs {jobs}: expected {LocalExecutor.takes['jobs']}")


def open_executor(options: ExecutorOptions, backend: str) -> Executor:
    """The executor ``options`` name, ready (Dask: connected) before any file is written."""
    check_options(options)
    return EXECUTORS[options.executor].open(options, backend)
