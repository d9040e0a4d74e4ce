"""Sweeps: one hyperparameter over a grid of values and seeds, every trial a run of its own.

A sweep is planned first (every trial's config validated, nothing written), then its trials
run in separate processes -- or on a Dask cluster, see :mod:`mlpx.executors` -- so that a
trial that raises, diverges or is killed is recorded and the others go on. The sweep
directory holds ``sweep.yaml`` (the plan), ``trials/<value>-seed<k>/`` (one run directory per
trial), ``results.csv`` (rewritten atomically as trials finish) and ``plots/``. A sweep whose
process died is resumed from its ``sweep.yaml``: finished trials are kept untouched, the
others run again with the same seeds.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import difflib
import io
import itertools
import json
import math
import os
import re
import shutil
import socket
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import yaml

from mlpx.config import Config, apply_override, build_config, parse_yaml
from mlpx.errors import ConfigError, SweepError
from mlpx.executors import (
    DaskExecutor,
    LocalExecutor,
    TrialOutcome,
    TrialTask,
    open_executor,
    read_summary,
)
from mlpx.optimizers import OPTIMIZERS
from mlpx.runs import (
    RunDir,
    ensure_writable_dir,
    make_unique_dir,
    pid_alive,
    run_status,
    write_text_atomic,
)

PLAN = "sweep.yaml"
RESULTS = "results.csv"
TRIALS = "trials"
LOCK = "sweep.lock"

#: Short parameter names and the config path each sets. ``hidden`` sets every hidden
#: layer's width (depth kept); ``depth`` sets the number of hidden layers (width kept).
PARAMETERS: dict[str, str] = {
    "lr": "optimizer.lr",
    "hidden": "model.hidden",
    "optimizer": "optimizer.name",
    "depth": "model.hidden",
    "l1": "regularization.l1",
    "l2": "regularization.l2",
    "dropout": "model.dropout",
    "batch_size": "train.batch_size",
    "epochs": "train.epochs",
}
_PENALTIES = [0.0, 1e-5, 1e-4, 1e-3, 1e-2]
DEFAULT_VALUES: dict[str, list[Any]] = {
    "lr": [1e-1, 1e-2, 1e-3, 1e-4, 1e-5],
    "hidden": [16, 32, 64, 128, 256, 512],
    "optimizer": list(OPTIMIZERS),
    "depth": [1, 2, 3, 4, 5],
    "l1": _PENALTIES,
    "l2": _PENALTIES,
    "dropout": [0.0, 0.1, 0.2, 0.3, 0.5],
    "batch_size": [16, 32, 64, 128, 256],
    "epochs": [10, 25, 50, 100],
}
#: Trial statuses that are final: a resumed sweep keeps these (re-running a diverged trial
#: with the same seed diverges the same way) and runs every other trial again.
FINISHED = ("completed", "diverged")
COLUMNS = (
    "value",
    "seed",
    "status",
    "final_val_acc",
    "best_val_acc",
    "final_val_loss",
    "best_val_loss",
    "seconds",
    "wall_seconds",
    "error",
    "trial",
)


# --- values --------------------------------------------------------------------------------


def split_values(text: str) -> list[str]:
    """Split ``--values`` at commas outside brackets and quotes: ``[64],[64,64]`` is two."""
    items, current, depth, quote = [], [], 0, None
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    if depth or quote:
        raise SweepError(f"--values {text!r}: unbalanced brackets or quotes")
    items.append("".join(current).strip())
    return items


def parse_values(text: str) -> list[Any]:
    """The values of ``--values``: comma-separated, each item parsed as YAML."""
    if not text.strip():
        raise SweepError("--values is empty; give comma-separated values, e.g. --values 0.1,0.01")
    values = []
    for item in split_values(text):
        if not item:
            raise SweepError(f"--values {text!r}: an empty item; separate values by one comma")
        values.append(parse_yaml(item, f"--values item {item!r}"))
    return values


def value_label(value: Any) -> str:
    """A value as YAML would read it back: ``0.1``, ``1e-05``, ``adam``, ``[64, 64]``."""
    if value is None or isinstance(value, (bool, list, dict)):
        return json.dumps(value)
    if isinstance(value, float):
        short = format(value, "g")  # 1e+06 rather than 1000000.0, where it reads back equal
        return short if float(short) == value else repr(value)
    return str(value)


def value_slug(value: Any) -> str:
    """A file-system-safe name for a value: ``[64, 64]`` -> ``64-64``, ``0.1`` -> ``0.1``."""
    if isinstance(value, list):
        text = "-".join(value_slug(item) for item in value) or "empty"
    else:
        text = value_label(value)
    text = re.sub(r"[^A-Za-z0-9._+-]+", "_", text)[-64:].strip("_") or "value"
    return "_" + text if text.startswith(".") else text  # the end of a long path names it best


def _unique_slugs(values: list[Any]) -> list[str]:
    slugs: list[str] = []
    for index, value in enumerate(values, start=1):
        slug = value_slug(value)
        slugs.append(slug if slug not in slugs else f"{slug}-v{index}")
    return slugs


# --- the plan ------------------------------------------------------------------------------


@dataclass
class Trial:
    """One run of a sweep: a value of the parameter with one seed.

    ``overrides`` maps dotted config paths to the values set on the base config (the seed
    among them); ``name`` is the trial's directory under ``trials/``.
    """

    name: str
    value: Any
    seed: int
    overrides: dict[str, Any]

    @property
    def label(self) -> str:
        return value_label(self.value)

    def describe_overrides(self) -> str:
        """The overrides as ``-s`` arguments would spell them: ``optimizer.lr=0.1 seed=0``."""
        return " ".join(f"{key}={value_label(value)}" for key, value in self.overrides.items())


@dataclass
class SweepPlan:
    """What a sweep runs: the parameter, its values, the seeds, the base config, the trials."""

    param: str
    path: str
    values: list[Any]
    seeds: list[int]
    base: dict[str, Any]
    trials: list[Trial]

    def trial_config(self, trial: Trial) -> Config:
        """The validated config of one trial: the base config with the trial's overrides."""
        data = copy.deepcopy(self.base)
        for key, value in trial.overrides.items():
            apply_override(data, key, value)
        try:
            return build_config(data)
        except ConfigError as exc:
            raise ConfigError(f"{self.param} value {trial.label}: {exc}") from None

    def to_yaml(self) -> str:
        """sweep.yaml: the plan, readable by people and by :func:`load_plan`."""
        document = {
            "param": self.param,
            "path": self.path,
            "values": self.values,
            "seeds": self.seeds,
            "trials": [
                {"name": t.name, "value": t.value, "seed": t.seed, "overrides": t.overrides}
                for t in self.trials
            ],
            "base": self.base,
        }
        return yaml.safe_dump(document, sort_keys=False)


def _leaf_paths(data: dict[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in data.items():
        if isinstance(value, dict):
            paths += _leaf_paths(value, f"{prefix}{key}.")
        else:
            paths.append(prefix + key)
    return paths


def config_path(param: str, base: Config) -> str:
    """The config path a sweep parameter sets (a short name or any dotted path)."""
    if param in PARAMETERS:
        return PARAMETERS[param]
    if param == "seed":
        raise SweepError("seed: repeat trials over seeds with --seeds N, not as the parameter")
    leaves = _leaf_paths(base.to_dict())
    if param in leaves:
        return param
    sections = {path.rsplit(".", 1)[0] for path in leaves if "." in path}
    if param in sections:
        keys = ", ".join(p for p in leaves if p.startswith(param + "."))
        raise SweepError(f"{param} is a config section; sweep one of its keys: {keys}")
    near = difflib.get_close_matches(param, list(PARAMETERS) + leaves, n=1, cutoff=0.6)
    hint = f"did you mean {near[0]!r}? " if near else ""
    raise SweepError(
        f"unknown sweep parameter {param!r}; {hint}use one of {', '.join(PARAMETERS)} "
        "or a dotted config path such as optimizer.momentum"
    )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _setting(param: str, path: str, value: Any, base: Config) -> dict[str, Any]:
    """The config override one value of ``param`` stands for."""
    hidden = base.model.hidden
    if param == "hidden":
        if _is_count(value):
            return {path: [value] * len(hidden)}
        if isinstance(value, list):
            return {path: value}
        raise SweepError(
            f"hidden value {value_label(value)}: expected a width such as 64 (set on all "
            f"{len(hidden)} hidden layer(s)) or a list of widths such as [64, 32]"
        )
    if param == "depth":
        if _is_count(value):
            return {path: [hidden[0]] * value}
        raise SweepError(
            f"depth value {value_label(value)}: expected a number of hidden layers >= 1 "
            f"(each {hidden[0]} wide, the base config's first hidden layer)"
        )
    return {path: value}


def plan_sweep(param: str, values: str | None, base: Config, seeds: int = 1) -> SweepPlan:
    """Plan a sweep of ``param`` over ``values`` (``--values`` text; None: the default grid)
    with ``seeds`` seeds per value, validating every trial's config before anything runs."""
    path = config_path(param, base)
    if values is None:
        if param not in DEFAULT_VALUES:
            raise SweepError(
                f"{param}: give the values to sweep with --values, e.g. --values 0.1,0.5 "
                f"(default grids exist for {', '.join(DEFAULT_VALUES)})"
            )
        grid = list(DEFAULT_VALUES[param])
    else:
        grid = parse_values(values)
    if not _is_count(seeds):
        raise SweepError(f"--seeds {seeds}: expected a number of seeds >= 1, e.g. --seeds 3")
    labels = [value_label(value) for value in grid]
    for label in labels:
        if labels.count(label) > 1:
            raise SweepError(f"--values: {label} appears twice; use --seeds N to repeat a value")
    seed_list = [base.seed + k for k in range(seeds)]
    trials = [
        Trial(
            f"{slug}-seed{seed}", value, seed, {**_setting(param, path, value, base), "seed": seed}
        )
        for value, slug in zip(grid, _unique_slugs(grid), strict=True)
        for seed in seed_list
    ]
    plan = SweepPlan(param, path, grid, seed_list, base.to_dict(), trials)
    for trial in trials:
        plan.trial_config(trial)
    return plan


def load_plan(directory: Path) -> SweepPlan:
    """Read a sweep directory's sweep.yaml back into its plan."""
    directory = Path(directory)
    path = directory / PLAN
    if not path.is_file():
        raise SweepError(f"--resume {directory}: no {PLAN} there; is it a sweep directory?")
    data = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    try:
        trials = [
            Trial(str(t["name"]), t["value"], int(t["seed"]), dict(t["overrides"]))
            for t in data["trials"]
        ]
        plan = SweepPlan(
            str(data["param"]), str(data["path"]), list(data["values"]),
            [int(seed) for seed in data["seeds"]], dict(data["base"]), trials,
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise SweepError(f"{path}: not a sweep plan written by mlpx ({exc!r})") from None
    build_config(plan.base)
    return plan


# --- results -----------------------------------------------------------------------------


@dataclass
class TrialResult:
    """One row of results.csv: a trial, its status and its validation metrics.

    ``seconds`` is the run's training time from summary.json; ``wall_seconds`` the whole
    trial's (process start to end: data loading, training, report and plots).
    """

    trial: Trial
    status: str
    final_val_acc: float | None = None
    best_val_acc: float | None = None
    final_val_loss: float | None = None
    best_val_loss: float | None = None
    seconds: float | None = None
    wall_seconds: float | None = None
    error: str | None = None

    @classmethod
    def from_summary(
        cls,
        trial: Trial,
        summary: dict[str, Any] | None,
        status: str | None = None,
        error: str | None = None,
        wall_seconds: float | None = None,
    ) -> TrialResult:
        """A row from a trial's summary.json; ``status``, ``error``, ``wall_seconds`` when
        known from the trial's outcome."""
        summary = summary or {}
        final = summary.get("final") or {}
        status = status or summary.get("status") or "failed"
        if error is None and status != "completed":
            error = summary.get("message")
        return cls(
            trial,
            status,
            final.get("val_acc"),
            summary.get("best_val_acc"),
            final.get("val_loss"),
            summary.get("best_val_loss"),
            summary.get("seconds"),
            wall_seconds,
            error,
        )

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    def row(self) -> list[str]:
        """The CSV cells, numbers as exact as summary.json's."""
        cells = [
            self.final_val_acc,
            self.best_val_acc,
            self.final_val_loss,
            self.best_val_loss,
            self.seconds,
            self.wall_seconds,
        ]
        numbers = ["" if cell is None else repr(float(cell)) for cell in cells]
        head = [self.trial.label, str(self.trial.seed), self.status]
        return head + numbers + [self.error or "", self.trial.name]


def _mean_std(numbers: list[float]) -> tuple[float | None, float | None]:
    if not numbers:
        return None, None
    spread = statistics.stdev(numbers) if len(numbers) > 1 else 0.0
    return statistics.fmean(numbers), spread


@dataclass
class ValueSummary:
    """The trials of one value; means and standard deviations over its completed seeds."""

    value: Any
    label: str
    results: list[TrialResult]

    def _metric(self, name: str) -> list[float]:
        values = (getattr(r, name) for r in self.results if r.ok)
        return [v for v in values if v is not None and math.isfinite(v)]

    @property
    def val_accs(self) -> list[float]:
        return self._metric("final_val_acc")

    @property
    def val_losses(self) -> list[float]:
        return self._metric("final_val_loss")

    @property
    def acc(self) -> tuple[float | None, float | None]:
        """Mean and standard deviation of the final validation accuracy over seeds."""
        return _mean_std(self.val_accs)

    @property
    def loss(self) -> tuple[float | None, float | None]:
        """Mean and standard deviation of the final validation loss over seeds."""
        return _mean_std(self.val_losses)

    @property
    def best_acc(self) -> float | None:
        return _mean_std(self._metric("best_val_acc"))[0]

    @property
    def wall_seconds(self) -> float | None:
        times = [r.wall_seconds for r in self.results if r.wall_seconds is not None]
        return statistics.fmean(times) if times else None

    @property
    def completed(self) -> int:
        return sum(r.ok for r in self.results)

    @property
    def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for result in self.results:
            counts[result.status] = counts.get(result.status, 0) + 1
        return counts


@dataclass
class SweepResult:
    """A sweep's directory, plan and the results of every trial that has ended."""

    directory: Path
    plan: SweepPlan
    results: list[TrialResult]
    interrupted: bool = False

    @property
    def problems(self) -> list[TrialResult]:
        """Trials that ended without completing (failed, diverged, killed, interrupted)."""
        return [r for r in self.results if not r.ok]

    def by_value(self) -> list[ValueSummary]:
        """One summary per value, in the plan's order."""
        return [
            ValueSummary(value, label, [r for r in self.results if r.trial.label == label])
            for value, label in ((value, value_label(value)) for value in self.plan.values)
        ]

    def ranking(self) -> list[ValueSummary]:
        """Values by mean final validation accuracy, best first; values with none last."""
        summaries = [s for s in self.by_value() if s.results]
        return sorted(summaries, key=lambda s: -s.acc[0] if s.acc[0] is not None else math.inf)


def write_results(directory: Path, plan: SweepPlan, results: dict[str, TrialResult]) -> None:
    """Rewrite results.csv atomically: one row per ended trial, in the plan's order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for trial in plan.trials:
        if trial.name in results:
            writer.writerow(results[trial.name].row())
    write_text_atomic(directory / RESULTS, buffer.getvalue())


# --- the sweep directory -----------------------------------------------------------------


def create_sweep_dir(runs_dir: Path, param: str) -> Path:
    """Create ``runs_dir/sweep-<param>-YYYYmmdd-HHMMSS`` (``-2``, ``-3``... if it exists)."""
    runs_dir = Path(runs_dir).expanduser()
    ensure_writable_dir(runs_dir, "runs directory")
    return make_unique_dir(runs_dir, f"sweep-{value_slug(param)}-{datetime.now():%Y%m%d-%H%M%S}")


@contextlib.contextmanager
def _sweep_lock(directory: Path) -> Iterator[None]:
    """Hold sweep.lock while trials run, so that two processes never run one sweep."""
    path = directory / LOCK
    host = socket.gethostname()
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = RunDir(directory).read_json(LOCK) or {}
            pid = holder.get("pid")
            if holder.get("host") not in (None, host):
                raise SweepError(
                    f"{directory}: the sweep is running on {holder['host']} ({LOCK}); "
                    "delete the lock if that process is gone"
                ) from None
            if isinstance(pid, int) and pid_alive(pid):
                raise SweepError(
                    f"{directory}: the sweep is running in process {pid} ({LOCK}); "
                    "wait for it or stop it first"
                ) from None
            path.unlink(missing_ok=True)  # left by a sweep that died
            continue
        with os.fdopen(fd, "w") as handle:
            json.dump({"pid": os.getpid(), "host": host, "started": time.time()}, handle)
        break
    else:
        raise SweepError(f"{directory}: cannot take {LOCK}")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _recorded(directory: Path, trial: Trial) -> TrialResult | None:
    """The result of a trial that finished, read from its run directory; None otherwise."""
    summary = read_summary(directory / TRIALS / trial.name)
    if summary is None or summary.get("status") not in FINISHED:
        return None
    return TrialResult.from_summary(trial, summary, wall_seconds=_wall_seconds(directory, trial))


def _wall_seconds(directory: Path, trial: Trial) -> float | None:
    """A finished trial's wall time as results.csv recorded it (not in its run directory)."""
    path = directory / RESULTS
    with contextlib.suppress(OSError, ValueError, csv.Error), open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("trial") == trial.name and row.get("wall_seconds"):
                return float(row["wall_seconds"])
    return None


def _wait_for_orphan(run_path: Path, timeout: float = 10.0) -> None:
    """Wait until no process of this host still writes the trial (one of a killed sweep)."""
    deadline = time.monotonic() + timeout
    while run_status(read_summary(run_path)) == "running":
        if time.monotonic() > deadline:
            pid = (read_summary(run_path) or {}).get("pid")
            raise SweepError(f"{run_path}: still being written by process {pid}; stop it first")
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


def pending_trials(directory: Path, plan: SweepPlan) -> list[Trial]:
    """The trials of a sweep directory that have not finished (see :data:`FINISHED`)."""
    return [trial for trial in plan.trials if _recorded(directory, trial) is None]


class SweepObserver(Protocol):
    """Receives a sweep's progress; the CLI renders it, tests may pass None."""

    def on_start(
        self, directory: Path, plan: SweepPlan, pending: list[Trial], finished: list[TrialResult]
    ) -> None: ...

    def on_trial_end(self, result: TrialResult) -> None: ...


def _continue(
    directory: Path,
    plan: SweepPlan,
    runner: LocalExecutor | DaskExecutor,
    observer: SweepObserver | None,
    command: list[str] | None,
) -> SweepResult:
    """Run every unfinished trial of ``directory``, then write results.csv and the plots."""
    with _sweep_lock(directory):
        results = {t.name: r for t in plan.trials if (r := _recorded(directory, t)) is not None}
        pending = [trial for trial in plan.trials if trial.name not in results]
        trials_dir = directory / TRIALS
        trials_dir.mkdir(exist_ok=True)
        for trial in pending:
            _set_aside(trials_dir / trial.name)
        by_name = {trial.name: trial for trial in pending}
        tasks = [
            TrialTask(t.name, plan.trial_config(t).to_dict(), runner.threads, command)
            for t in pending
        ]
        if observer:
            observer.on_start(directory, plan, pending, list(results.values()))
        write_results(directory, plan, results)

        def record(task: TrialTask, outcome: TrialOutcome) -> None:
            trial = by_name[task.name]
            results[task.name] = TrialResult.from_summary(
                trial, outcome.summary, outcome.status, outcome.error, outcome.seconds
            )
            write_results(directory, plan, results)
            if observer:
                observer.on_trial_end(results[task.name])

        interrupted = False
        try:
            runner.run(tasks, trials_dir, record)
        except KeyboardInterrupt:
            interrupted = True
    ended = [results[t.name] for t in plan.trials if t.name in results]
    result = SweepResult(directory, plan, ended, interrupted)
    write_plots(result)
    return result


def run_sweep(
    plan: SweepPlan,
    runs_dir: Path,
    executor: str = "local",
    scheduler: str | None = None,
    jobs: int | None = None,
    observer: SweepObserver | None = None,
    command: list[str] | None = None,
) -> SweepResult:
    """Run a planned sweep in a new directory under ``runs_dir``.

    The executor is ready (a Dask scheduler reached) before anything is written. Trials run
    in separate processes or on Dask; one that fails, diverges or is killed is recorded and
    the others go on. Ctrl-C stops the trials and returns with ``interrupted`` set.
    """
    runner = open_executor(executor, scheduler, jobs, plan.base["backend"])
    try:
        directory = create_sweep_dir(runs_dir, plan.param)
        write_text_atomic(directory / PLAN, plan.to_yaml())
        return _continue(directory, plan, runner, observer, command)
    finally:
        runner.close()


def resume_sweep(
    directory: Path,
    executor: str = "local",
    scheduler: str | None = None,
    jobs: int | None = None,
    observer: SweepObserver | None = None,
    command: list[str] | None = None,
) -> SweepResult:
    """Finish a sweep: run again, with the same seeds, every trial that did not finish.

    Finished trials (completed or diverged) are kept untouched; the directory of an
    unfinished one is renamed ``trials/.<name>.attempt-<n>`` and the trial runs afresh.
    """
    directory = Path(directory)
    plan = load_plan(directory)
    runner = open_executor(executor, scheduler, jobs, plan.base["backend"])
    try:
        return _continue(directory, plan, runner, observer, command)
    finally:
        runner.close()


# --- plots -------------------------------------------------------------------------------


def axis_scale(param: str, values: list[Any]) -> str:
    """How to lay values out on the x axis: log, symlog, log2, linear or category."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if not numeric or len(values) < 2 or not all(math.isfinite(v) for v in values):
        return "category"
    if min(values) < 0:
        return "linear"
    positive = [v for v in values if v > 0]
    spread = max(positive) / min(positive) if positive else 1.0
    if param in ("lr", "l1", "l2") or spread >= 100:
        return "log" if len(positive) == len(values) else "symlog"
    if all(isinstance(v, int) for v in values) and spread >= 8 and len(positive) == len(values):
        return "log2"
    return "linear"


@dataclass
class Curve:
    """Seed-averaged loss per epoch of one value (epochs: (E,), losses: (E,))."""

    label: str
    epochs: list[int]
    train_loss: list[float]
    val_loss: list[float] | None


def seed_curves(result: SweepResult) -> list[Curve]:
    """Per value, train and validation loss per epoch averaged over its completed seeds."""
    curves = []
    for summary in result.by_value():
        histories = [
            RunDir(result.directory / TRIALS / r.trial.name).read_metrics()
            for r in summary.results
            if r.ok
        ]
        histories = [h for h in histories if h]
        if not histories:
            continue
        epochs = sorted({record["epoch"] for history in histories for record in history})

        def mean(key: str, epoch: int, histories=histories) -> float:
            found = [r[key] for h in histories for r in h if r["epoch"] == epoch and key in r]
            return statistics.fmean(found) if found else math.nan

        val = [mean("val_loss", e) for e in epochs] if "val_loss" in histories[0][0] else None
        curves.append(Curve(summary.label, epochs, [mean("train_loss", e) for e in epochs], val))
    return curves


def write_plots(result: SweepResult) -> None:
    """plots/sweep.png and plots/curves.png, when at least one trial completed."""
    from mlpx import plots

    summaries = [s for s in result.by_value() if s.results]
    if not any(s.completed for s in summaries):
        return
    directory = result.directory / "plots"
    directory.mkdir(exist_ok=True)
    plan = result.plan
    scale = axis_scale(plan.param, [s.value for s in summaries])
    plots.plot_sweep(directory / "sweep.png", plan.param, summaries, scale, len(plan.seeds))
    plots.plot_curves(directory / "curves.png", plan.param, seed_curves(result))
