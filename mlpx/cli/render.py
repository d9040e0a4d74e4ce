"""Everything the terminal shows: one status palette, one error line, warnings, the progress
displays of a run and of a group of runs, and every table.

Only the face (``mlpx.cli``) imports rich; rich's submodules are imported where a table or
display is built, so that ``mlpx --help`` stays instant.
"""

from __future__ import annotations

import functools
import math
import os
import time
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from rich.console import Console
from rich.markup import escape

from mlpx.errors import MlpxWarning, UsageError

if TYPE_CHECKING:
    from pathlib import Path

    from rich.table import Table

    from mlpx.compare import Compared
    from mlpx.data.overview import DataOverview
    from mlpx.diagnostics.backprop import BackpropResult
    from mlpx.diagnostics.crossentropy import DemoResult
    from mlpx.diagnostics.gradcheck import GradcheckReport
    from mlpx.groups.plan import GroupPlan, Trial
    from mlpx.groups.results import GroupResult, TrialResult
    from mlpx.listing import RunRow
    from mlpx.runs import RunDir

console = Console()
err_console = Console(stderr=True)

STATUS_COLORS = {
    "completed": "green",
    "running": "cyan",
    "interrupted": "yellow",
    "incomplete": "red",
    "diverged": "red",
    "failed": "red",
    "killed": "red",
    "crashed": "red",
    "unreadable": "red",
}
"""The one palette: every status of mlpx.status, wherever it is shown."""


def status_markup(status: str, width: int = 0) -> str:
    """A status in its colour (right-aligned to ``width``)."""
    return f"[{STATUS_COLORS.get(status, 'red')}]{status:>{width}}[/]"


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` as one red line on stderr and exit with ``code`` (2: a usage
    or config error; 1: a failed or diverged run; 130: interrupted)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise SystemExit(code)


F = TypeVar("F", bound=Callable)


def reports_errors(command: F) -> F:
    """Turn every exception a command lets through into one red line and an exit code (the
    rule of :mod:`mlpx.cli.failures`), and show mlpx's warnings as yellow lines. Click's own
    exits and usage errors pass on to Click."""
    import click

    from mlpx.cli.failures import explain

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            with warnings.catch_warnings():
                show_warnings_in_yellow()
                return command(*args, **kwargs)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as exc:
            fail(*explain(exc))

    return wrapper  # type: ignore[return-value]


def show_warnings_in_yellow() -> None:
    """Show every MlpxWarning (each time, not once per place) as one yellow line on stderr;
    other warnings keep Python's format. Call inside ``warnings.catch_warnings()``."""
    python_format = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, MlpxWarning):
            return python_format(message, category, filename, lineno, file, line)
        warn(str(message))

    warnings.simplefilter("always", MlpxWarning)
    warnings.showwarning = show


LARGE, TINY = 1e5, 1e-3
"""Beyond these magnitudes a number is shown in scientific notation: a loss of 2.5e22 as
``2.5103e+22``, not 23 digits, and 3e-7 as ``3.0000e-07``, not ``0.0000``."""


def number(value: float | None, spec: str = ".4f") -> str:
    """A number for a table cell or a log line; a dash for none. Large and tiny magnitudes
    (see LARGE, TINY) are in scientific notation with as many digits as ``spec`` asks for."""
    if value is None:
        return "—"
    magnitude = abs(value)
    if (
        spec.endswith("f")
        and math.isfinite(magnitude)
        and (magnitude >= LARGE or 0 < magnitude < TINY)
    ):
        return format(value, spec[:-1] + "e")
    return format(value, spec)


def mean_std(mean: float | None, std: float | None) -> str:
    """``mean ± std`` for a table cell; a dash when there is no mean."""
    return "—" if mean is None or std is None else f"{number(mean)} ± {number(std)}"


def print_wide(table: Table, width: int) -> None:
    """Print a table at least ``width`` columns wide: a narrow terminal wraps long lines
    rather than squeezing or eliding the values people came for."""
    Console(width=max(console.width, width)).print(table)


# --- progress: one run, one group -----------------------------------------------------------


class ProgressDisplay:
    """Live progress of one run (``mlpx train``): an epoch bar, a batch bar, the last metrics.

    The batch bar is updated at most ten times a second so that the display never costs the
    training loop more than a few microseconds per step.
    """

    def __init__(self, console: Console):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description:>6}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[metrics]}"),
            console=console,
            refresh_per_second=5,
            transient=False,
        )
        self._last = 0.0

    def __enter__(self) -> ProgressDisplay:
        return self  # the display starts with the run: an error before it prints alone

    def __exit__(self, *exc) -> None:
        if not self.progress.live.is_started:
            return
        if hasattr(self, "steps"):  # the batch bar only matters while an epoch runs
            self.progress.remove_task(self.steps)
        self.progress.stop()

    def on_start(self, run: RunDir, epochs: int, steps_per_epoch: int, info: dict) -> None:
        self.progress.console.print(
            f"[bold]{info['model']}[/] on [bold]{info['dataset']}[/] with {info['backend']} "
            f"({info['device']}), {info['n_params']:,} parameters -> {run.path}",
            highlight=False,
        )
        self.progress.start()
        self.epochs = self.progress.add_task("epoch", total=epochs, metrics="")
        self.steps = self.progress.add_task("batch", total=steps_per_epoch, metrics="")

    def on_step(self, epoch: int, step: int) -> None:
        now = time.monotonic()
        if now - self._last > 0.1:
            self._last = now
            self.progress.update(self.steps, completed=step)

    def on_epoch(self, record: dict) -> None:
        if "train_acc" not in record:
            text = regression_epoch_text(record)
        else:
            text = f"train loss {record['train_loss']:.4f} acc {record['train_acc']:.3f}"
            if "val_loss" in record:
                text += f" | val loss {record['val_loss']:.4f} acc {record['val_acc']:.3f}"
        self.progress.update(self.epochs, completed=record["epoch"], metrics=text)
        self.progress.update(self.steps, completed=0)


LOG_INTERVAL = "MLPX_LOG_INTERVAL"
"""Environment variable: the least seconds between two epoch lines off a terminal (default
1; 0 prints every epoch)."""


def log_interval() -> float:
    """Seconds between epoch lines off a terminal, from ``MLPX_LOG_INTERVAL`` (default 1)."""
    text = os.environ.get(LOG_INTERVAL, "1")
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not seconds >= 0:
        raise UsageError(f"{LOG_INTERVAL}={text!r}: expected seconds >= 0, e.g. 1 or 0")
    return seconds


def epoch_line(record: dict[str, Any], epochs: int) -> str:
    """One epoch as a plain ``key=value`` line for logs: epoch/N, losses, accuracies, lr,
    seconds (missing keys left out)."""
    fields = [f"epoch={record['epoch']}/{epochs}"]
    for key, spec in METRIC_FORMATS:
        if record.get(key) is not None:
            fields.append(f"{key}={number(record[key], spec)}")
    return " ".join(fields)


METRIC_FORMATS = (
    ("train_loss", ".4f"),
    ("train_acc", ".4f"),
    ("val_loss", ".4f"),
    ("val_acc", ".4f"),
    ("val_r2", ".4f"),
    ("val_rmse", ".4g"),
    ("lr", ".4g"),
    ("seconds", ".3f"),
)


class PlainProgress:
    """Progress of one run off a terminal (a file, a pipe, a job log): one plain line per
    epoch, at most one per ``interval`` seconds, and always the last epoch; no bars and no
    control characters. Same observer protocol as :class:`ProgressDisplay`."""

    def __init__(self, console: Console, interval: float = 1.0):
        self.console = console
        self.interval = interval
        self._printed = -math.inf
        self._pending: dict[str, Any] | None = None
        self.epochs = 0

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc) -> None:
        if self._pending is not None:  # the run stopped early: its last epoch still shows
            self._print(self._pending)

    def _print(self, record: dict[str, Any]) -> None:
        self.console.print(
            epoch_line(record, self.epochs), soft_wrap=True, highlight=False, markup=False
        )
        self._printed = time.monotonic()
        self._pending = None

    def on_start(self, run: RunDir, epochs: int, steps_per_epoch: int, info: dict) -> None:
        self.epochs = epochs
        self.console.print(
            f"{info['model']} on {info['dataset']} with {info['backend']} ({info['device']}), "
            f"{info['n_params']:,} parameters -> {run.path}",
            soft_wrap=True,
            highlight=False,
            markup=False,
        )

    def on_step(self, epoch: int, step: int) -> None:
        pass

    def on_epoch(self, record: dict[str, Any]) -> None:
        last = record["epoch"] >= self.epochs
        if last or time.monotonic() - self._printed >= self.interval:
            self._print(record)
        else:
            self._pending = record


def run_progress(console: Console) -> ProgressDisplay | PlainProgress:
    """The progress of one run: live bars in a terminal, plain epoch lines elsewhere."""
    if console.is_terminal:
        return ProgressDisplay(console)
    return PlainProgress(console, log_interval())


def regression_epoch_text(record: dict) -> str:
    """A regression epoch's progress text: losses, and the validation R² and RMSE."""
    text = f"train loss {record['train_loss']:.4f}"
    if "val_loss" in record:
        text += (
            f" | val loss {record['val_loss']:.4f} R² {record['val_r2']:.3f} "
            f"RMSE {record['val_rmse']:.4g}"
        )
    return text


def trial_title(plan: GroupPlan, trial: Trial) -> str:
    """How a line names a trial: ``lr=0.1        seed 0`` in a sweep, ``fold 2`` in a CV."""
    if plan.kind == "cv":
        return f"fold {trial.value}"
    return f"{escape(plan.param)}={escape(trial.label):<10} seed {trial.seed:<3}"


class GroupProgress:
    """Live progress of a group of runs (a sweep, a cross-validation): a line per finished
    trial and, in a terminal, an overall bar (off a terminal the lines alone, with no
    control characters)."""

    def __init__(self, console: Console):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.live = console.is_terminal
        self.progress = Progress(
            TextColumn("trials"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not self.live,
        )

    def __enter__(self) -> GroupProgress:
        return self  # the display starts with the group: an error before it prints alone

    def __exit__(self, *exc) -> None:
        if self.progress.live.is_started:
            self.progress.stop()

    def on_start(
        self, directory: Path, plan: GroupPlan, pending: list[Trial], finished: list[TrialResult]
    ) -> None:
        self.progress.start()
        self.plan = plan
        if plan.kind == "cv":
            what = (
                f"{len(plan.trials)}-fold cross-validation of [bold]{escape(plan.base['name'])}[/]"
            )
        else:
            shape = f"{len(plan.values)} value(s) x {len(plan.seeds)} seed(s)"
            where = f"{plan.param} ({plan.path})" if plan.param != plan.path else plan.param
            what = f"sweep of [bold]{escape(where)}[/]: {shape}"
        self.progress.console.print(
            f"{what} -> {escape(str(directory))}", highlight=False, soft_wrap=True
        )
        if finished:
            member = "fold" if plan.kind == "cv" else "trial"
            self.progress.console.print(
                f"resuming: {len(finished)} {member}(s) finished and kept, {len(pending)} to run",
                highlight=False,
            )
        self.task = self.progress.add_task("trials", total=len(pending))

    def on_trial_end(self, result: TrialResult) -> None:
        wall = "" if result.wall_seconds is None else f"{result.wall_seconds:6.1f} s"
        score = f"val acc {number(result.final_val_acc)}"
        if result.final_val_r2 is not None:
            score = f"val R² {number(result.final_val_r2)}"
        line = (
            f"{status_markup(result.status, 11)} {trial_title(self.plan, result.trial)} "
            f"{score} val loss {number(result.final_val_loss)} {wall}"
        )
        if result.error and result.status != "completed":
            line += f"  [dim]{escape(result.error)}[/]"
        self.progress.console.print(line, highlight=False, soft_wrap=True)
        self.progress.advance(self.task)


# --- tables ----------------------------------------------------------------------------------


DIVERGING_FACTOR = 3.0
"""A run whose last epoch's training loss is this many times its first epoch's is diverging
(without NaN, which stops it as ``diverged``): the summary warns."""


def diverging_warning(history: list[dict[str, Any]]) -> str | None:
    """Why the training loss of a history looks like divergence, or None."""
    if len(history) < 2:
        return None
    first, last = history[0]["train_loss"], history[-1]["train_loss"]
    if not (last > DIVERGING_FACTOR * first):
        return None
    return (
        f"the training loss grew from {number(first)} (epoch 1) to {number(last)} "
        f"(epoch {history[-1]['epoch']}): the run is diverging; try a smaller optimizer.lr"
    )


def warn(message: str) -> None:
    """One yellow ``warning:`` line on stderr."""
    from rich.text import Text

    text = Text.assemble(("warning: ", "bold yellow"), (message, "yellow"))
    err_console.print(text, soft_wrap=True)


def run_summary(summary: dict[str, Any], history: list[dict[str, Any]] | None = None) -> None:
    """The final table of one run, how long it took, and a warning when its training loss
    grew far above where it started (see DIVERGING_FACTOR)."""
    from rich.table import Table

    # the run's path on a line of its own: a table's title wraps it mid-name when narrow
    console.print(f"run: {summary['run_dir']}", highlight=False, soft_wrap=True)
    if summary.get("task") == "regression":
        console.print(regression_summary_table(summary))
        return _run_time(summary, history)
    table = Table(title=status_markup(summary["status"]))
    table.add_column("", style="bold")
    table.add_column("loss", justify="right")
    table.add_column("accuracy", justify="right")
    final = summary.get("final") or {}
    table.add_row("final train", number(final.get("train_loss")), number(final.get("train_acc")))
    if "val_loss" in final:
        table.add_row("final validation", number(final["val_loss"]), number(final["val_acc"]))
        best = f"best validation (epoch {summary['best_epoch']}, lowest loss)"
        table.add_row(best, number(summary["best_val_loss"]), number(summary["best_val_acc"]))
    if summary.get("test"):
        table.add_row("test", number(summary["test"]["loss"]), number(summary["test"]["acc"]))
    console.print(table)
    _run_time(summary, history)


def regression_summary_table(summary: dict[str, Any]) -> Table:
    """A regression run's final table: loss, MAE, RMSE and R² per split (MAE and RMSE in
    the targets' units, the loss in standardised ones)."""
    from rich.table import Table

    table = Table(
        title=status_markup(summary["status"]),
        caption="loss: of the standardised targets; MAE, RMSE: in the targets' units",
    )
    table.add_column("", style="bold")
    for column in ("loss", "MAE", "RMSE", "R²"):
        table.add_column(column, justify="right")
    final = summary.get("final") or {}
    table.add_row("final train", number(final.get("train_loss")), "", "", "")
    if "val_loss" in final:
        cells = (final.get(f"val_{key}") for key in ("loss", "mae", "rmse", "r2"))
        table.add_row("final validation", *(number(cell) for cell in cells))
        best = f"best validation (epoch {summary['best_epoch']}, lowest loss)"
        table.add_row(
            best, number(summary["best_val_loss"]), "", "", number(summary.get("best_val_r2"))
        )
    test = summary.get("test")
    if test:
        table.add_row("test", *(number(test.get(key)) for key in ("loss", "mae", "rmse", "r2")))
    return table


def _run_time(summary: dict[str, Any], history: list[dict[str, Any]] | None) -> None:
    """How long the run took, and the warning of a run whose training loss grew."""
    done = f"{summary['epochs_completed']}/{summary['epochs_planned']} epochs"
    model_epoch = summary.get("model_epoch")
    kept = ""
    if model_epoch is not None and model_epoch != summary["epochs_completed"]:
        kept = f"; the model is epoch {model_epoch}'s (train.restore_best)"
    console.print(f"{done} in {summary['seconds']:.1f} s{kept}", highlight=False)
    message = diverging_warning(history or [])
    if message:
        warn(message)


def duration(seconds: float | None) -> str:
    """A time for a table cell: ``4.2s``, ``73s``, ``1h02m``; a dash for none."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds:.0f}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def _runs_cells(row: RunRow) -> dict[str, str]:
    """The text of each column of ``mlpx runs`` for one row; ``*`` where a sweep varies the
    value."""
    model, optimizer = row.model, row.optimizer
    lr = "*" if row.swept == "optimizer.lr" else number(row.lr, "g") if row.lr else "?"
    if row.swept == "optimizer.name":
        optimizer = "*"
    if row.swept.startswith("model."):
        model = f"{model.split()[0]} *" if model else "*"
    return {
        "run": row.name,
        "data": row.data,
        "backend": row.backend,
        "model": model,
        "optimizer": f"{optimizer} {lr}" if row.optimizer else "",
        "progress": row.progress,
        "best val": _score(row.best_val_acc, row.best_val_r2),
        "test": _score(row.test_acc, row.test_r2),
        "status": row.status,
        "time": duration(row.seconds),
    }


RUNS_COLUMNS = (
    "run", "data", "backend", "model", "optimizer", "progress", "best val", "test", "status",
    "time",
)  # fmt: skip
RUNS_KEPT_FIRST = ("progress", "optimizer", "data", "time", "model", "test", "backend")
"""Beside run, best val and status (always shown), the columns in the order a narrow terminal
keeps them: each that still fits is shown."""


def runs_table(rows: list[RunRow], title: str, width: int) -> Table:
    """``mlpx runs``: one row per run, sweep or cross-validation, in at most ``width``
    columns (see RUNS_KEPT_FIRST; a run name too long even so is cut with an ellipsis)."""
    from rich import box
    from rich.table import Table

    cells = [_runs_cells(row) for row in rows]
    caption = "best val: the accuracy at the epoch of lowest validation loss (a group: its "
    caption += "member with the lowest)"
    if any(row.swept for row in rows):
        caption += "; *: the value a sweep varies"

    def build(columns: list[str], titled: bool = True) -> Table:
        table = Table(box=box.SIMPLE_HEAD, show_edge=False)
        if titled:
            table.title, table.caption = escape(title), caption
        for column in columns:
            right = column in ("best val", "test", "time")
            table.add_column(
                column, justify="right" if right else "left", no_wrap=True, overflow="ellipsis"
            )
        for row, cell in zip(rows, cells, strict=True):
            values = [escape(cell[c]) for c in columns]
            values[columns.index("status")] = status_markup(row.status)
            table.add_row(*values)
        return table

    columns = ["run", "best val", "status"]
    for column in RUNS_KEPT_FIRST:
        wider = [c for c in RUNS_COLUMNS if c in columns or c == column]
        if table_width(build(wider, titled=False)) <= width:
            columns = wider
    return build([c for c in RUNS_COLUMNS if c in columns])


def table_width(table: Table) -> int:
    """The columns ``table`` takes when nothing limits its width."""
    from rich.measure import Measurement

    wide = Console(width=10_000)
    return Measurement.get(wide, wide.options, table).maximum


COMPARE_COLUMNS = 6
"""Up to this many runs, ``mlpx compare`` shows one column per run (a row per key and
metric); more runs get a row each."""


def compare_table(runs: list[Compared], keys: list[str]) -> Table:
    """``mlpx compare``: the config keys in which the runs differ, then their metrics; a
    column per run (a row per run when there are more than COMPARE_COLUMNS)."""
    from rich.table import Table

    from mlpx.compare import METRICS
    from mlpx.runs import run_status

    shown = [
        (name, path) for name, path in METRICS if any(r.metric(path) is not None for r in runs)
    ]

    def metric(run: Compared, name: str, path: tuple[str, ...]) -> str:
        value = run.metric(path)
        return str(int(value)) if name == "best epoch" and value is not None else number(value)

    def setting(run: Compared, key: str) -> str:  # as config.yaml writes it: null, true
        value = run.config.get(key, "—")
        if value is None or isinstance(value, bool):
            value = "null" if value is None else str(value).lower()
        return escape(str(value))

    def status(run: Compared) -> str:
        return status_markup(run_status(run.summary or None))

    caption = "config: the keys that differ" if keys else "the configs are the same"
    caption += "; best: the epoch of lowest validation loss"
    table = Table(title=f"{len(runs)} runs", caption=caption)
    if len(runs) <= COMPARE_COLUMNS:
        table.add_column("", style="bold", no_wrap=True)
        for run in runs:
            table.add_column(escape(run.label), justify="right", overflow="fold")
        for key in keys:
            table.add_row(escape(key), *(setting(r, key) for r in runs))
        table.add_section()
        table.add_row("status", *(status(r) for r in runs))
        for name, path in shown:
            table.add_row(name, *(metric(r, name, path) for r in runs))
        return table
    table.add_column("run", no_wrap=True)
    for key in keys:
        table.add_column(escape(key))
    table.add_column("status")
    for name, _ in shown:
        table.add_column(name, justify="right")
    for run in runs:
        values = [setting(run, key) for key in keys]
        cells = (metric(run, n, p) for n, p in shown)
        table.add_row(escape(run.label), *values, status(run), *cells)
    return table


def _score(acc: float | None, r2: float | None) -> str:
    """A run's accuracy, or a regression's R² (marked as such) for a table cell."""
    return f"R² {r2:.4f}" if r2 is not None else number(acc)


def sweep_table(result: GroupResult) -> Table:
    """The values ranked by mean validation accuracy over seeds (ties: the lower validation
    loss); final and best-epoch train and validation metrics side by side, test metrics when
    there is a test split; the best value highlighted."""
    from rich.table import Table

    if result.regression:
        return regression_sweep_table(result)
    plan = result.plan
    seeds = len(plan.seeds)
    spread = " ± sample std (ddof 1)" if seeds > 1 else ""
    table = Table(
        title=escape(f"{plan.param} sweep · {result.directory}"),
        caption=f"acc / loss: final epoch, mean{spread} over the completed seeds; @best: the "
        "epoch of lowest validation loss, train / val, mean over seeds; ★: highest mean val "
        "acc (equal ones: lowest mean val loss)",
    )
    columns = ["value", "completed", "train acc", "val acc", "train loss", "val loss"]
    columns += ["acc @best", "loss @best"]
    test = result.has_test()
    if test:
        columns += ["test acc", "test loss"]
    for column in (*columns, "time", "status"):
        table.add_column(column, justify="left" if column in ("value", "status") else "right")

    def cell(summary, metric: str) -> str:
        mean, std = summary.stat(metric)
        return mean_std(mean, std) if seeds > 1 else number(mean)

    def pair(summary, train: str, val: str) -> str:
        return f"{number(summary.stat(train)[0])} / {number(summary.stat(val)[0])}"

    for rank, summary in enumerate(result.ranking()):
        problems = ", ".join(
            f"{count} {status}"
            for status, count in summary.statuses.items()
            if status != "completed"
        )
        best = rank == 0 and summary.acc[0] is not None
        cells = [cell(summary, m) for m in ("train_acc", "val_acc", "train_loss", "val_loss")]
        cells += [
            pair(summary, "best_train_acc", "best_val_acc"),
            pair(summary, "best_train_loss", "best_val_loss"),
        ]
        if test:
            cells += [cell(summary, "test_acc"), cell(summary, "test_loss")]
        table.add_row(
            escape(summary.label) + (" ★" if best else ""),
            f"{summary.completed}/{seeds}",
            *cells,
            "—" if summary.wall_seconds is None else f"{summary.wall_seconds:.1f} s",
            f"[red]{problems}[/]" if problems else "[green]ok[/]",
            style="bold green" if best else None,
        )
    return table


def regression_sweep_table(result: GroupResult) -> Table:
    """A sweep of regressions: values ranked by mean final validation loss (lowest ★)."""
    from rich.table import Table

    plan = result.plan
    table = Table(
        title=escape(f"{plan.param} sweep · {result.directory}"),
        caption="val loss / R²: final epoch, mean ± sample std (ddof 1) over the completed "
        "seeds; val R² @best: the epoch of lowest validation loss, mean over seeds",
    )
    for column in ("value", "completed", "val loss", "val R²", "val R² @best", "time", "status"):
        table.add_column(column, justify="left" if column in ("value", "status") else "right")
    for rank, summary in enumerate(result.ranking()):
        loss = summary.loss
        problems = ", ".join(
            f"{count} {status}"
            for status, count in summary.statuses.items()
            if status != "completed"
        )
        best = rank == 0 and loss[0] is not None
        table.add_row(
            escape(summary.label) + (" ★" if best else ""),
            f"{summary.completed}/{len(plan.seeds)}",
            mean_std(*loss),
            mean_std(*summary.r2),
            number(summary.best_r2),
            "—" if summary.wall_seconds is None else f"{summary.wall_seconds:.1f} s",
            f"[red]{problems}[/]" if problems else "[green]ok[/]",
            style="bold green" if best else None,
        )
    return table


def crossval_table(result: GroupResult) -> Table:
    """One row per fold and a mean ± sample std row over the completed folds."""
    from rich.table import Table

    stats = result.metric_stats()
    folds = len(result.plan.trials)
    table = Table(
        title=f"{folds}-fold cross-validation: {status_markup(result.status)}",
        caption="mean ± sample std (ddof 1) over the completed folds; val loss / acc: final "
        "epoch; val acc @best: the epoch of lowest validation loss",
    )
    columns = [("val_loss", "val loss"), ("val_acc", "val acc"), ("best_val_acc", "val acc @best")]
    if "test_acc" in stats:
        columns.append(("test_acc", "test acc"))
    if result.regression:
        columns = [("val_loss", "val loss"), ("val_r2", "val R²"), ("val_rmse", "val RMSE")]
        columns += [("best_val_r2", "val R² @best")]
        columns += [("test_r2", "test R²")] if "test_r2" in stats else []
        table.caption = (
            "mean ± sample std (ddof 1) over the completed folds; val loss / R² / RMSE: final "
            "epoch; val R² @best: the epoch of lowest validation loss"
        )
    table.add_column("fold", justify="right")
    table.add_column("status")
    for _, title in columns:
        table.add_column(title, justify="right")
    for r in result.results:
        cells = (number(r.metrics.get(key)) for key, _ in columns)
        table.add_row(str(r.trial.value), status_markup(r.status), *cells)
    table.add_section()
    cells = (mean_std(*stats[key]) if key in stats else "—" for key, _ in columns)
    completed = len(result.completed)
    table.add_row("mean", f"{completed} fold{'' if completed == 1 else 's'}", *cells, style="bold")
    return table


def crossval_report(result: GroupResult) -> None:
    """The cross-validation's table, where its files are, and why folds did not complete."""
    print_wide(crossval_table(result), 100)
    folds = [r.trial.name for r in result.results]  # those written (an interrupt stops some)
    which = f"{folds[0]}..{folds[-1]}" if len(folds) > 1 else "".join(folds) or "no fold"
    console.print(f"cv.json and {which} in {result.directory}", highlight=False, soft_wrap=True)
    for r in result.problems:
        if r.error:
            console.print(f"fold {r.trial.value}: {escape(r.error)}", highlight=False)


def trials_table(trials: list[Trial], param: str) -> Table:
    """A dry run's trials with the overrides each sets."""
    from rich.table import Table

    table = Table(title=f"{len(trials)} trial(s)")
    for column in ("trial", param, "seed", "overrides"):
        table.add_column(column)
    for trial in trials:
        cells = (trial.name, trial.label, str(trial.seed), trial.describe_overrides())
        table.add_row(*map(escape, cells))
    return table


def gradcheck_report(report: GradcheckReport, tol: float) -> int:
    """One table per model checked and the initial-loss line; returns the failed checks."""
    from rich.table import Table

    console.print(f"Gradient check in float64, tolerance {tol:g}", highlight=False)
    for model in dict.fromkeys(row.model for row in report.rows):
        table = Table(title=model, title_justify="left")
        for column in ("parameter", "shape", "vs", "checked"):
            table.add_column(column)
        table.add_column("max rel. error", justify="right")
        table.add_column("result")
        for row in report.rows:
            if row.model == model:
                table.add_row(
                    row.parameter,
                    "x".join(map(str, row.shape)),
                    row.oracle,
                    str(row.checked),
                    f"{row.max_rel_error:.2e}",
                    "[green]PASS[/]" if row.passed else "[bold red]FAIL[/]",
                )
        console.print(table)
    if report.initial_loss is not None:
        # the classic check's loss is at the reference's penalty, whatever the config's
        whose = "the reference's " if report.reference_loss is not None else ""
        line = f"initial loss with {whose}l2 = {report.initial_loss_l2:g}: "
        line += f"{report.initial_loss:.11f}"
        if report.reference_loss is not None:
            verdict = "[green]PASS[/]" if report.loss_passed else "[bold red]FAIL[/]"
            line += (
                f" (reference {report.reference_loss:.11f},"
                f" |diff| {abs(report.initial_loss - report.reference_loss):.1e}): {verdict}"
            )
        console.print(line, highlight=False)
    if report.scores is not None:
        console.print(f"scores before the loss:\n{array_text(report.scores)}", highlight=False)
    if report.scores_difference is not None:
        from mlpx.diagnostics.gradcheck import TOY_SCORES_TOLERANCE

        verdict = "[green]PASS[/]" if report.scores_passed else "[bold red]FAIL[/]"
        console.print(
            f"max |scores - reference scores| {report.scores_difference:.1e}"
            f" (passes below {TOY_SCORES_TOLERANCE:g}): {verdict}",
            highlight=False,
        )
    failed = (
        sum(not row.passed for row in report.rows)
        + (not report.loss_passed)
        + (not report.scores_passed)
    )
    if failed:
        console.print(f"[bold red]{failed} check(s) failed[/]")
    else:
        console.print(f"[green]all {len(report.rows)} gradient checks passed[/]")
    return failed


def crossentropy_table(result: DemoResult) -> Table:
    """One row per range and way: agreement %, NaN/inf count, largest finite difference."""
    from rich.table import Table

    from mlpx.diagnostics.crossentropy import REFERENCE, TOLERANCE, WAYS

    s = result.settings
    table = Table(
        title=f"Cross-entropy vs {REFERENCE.label}, {s.dtype}, "
        f"{s.iterations} batches of {s.batch_size}x{s.classes} per range",
        caption=f"agree: abs(loss - reference) < {TOLERANCE:g}; NaN and inf never agree",
    )
    for column in ("range", "way", "agree %", "NaN/inf", "max |diff|"):
        table.add_column(column, justify="left" if column in ("range", "way") else "right")
    for r in result.ranges:
        for k, way in enumerate(WAYS):
            stats = r.ways[way.key]
            table.add_row(
                r.name if k == 0 else "",
                way.label,
                f"{stats.agreement_percent:.1f}",
                str(stats.nan_inf),
                "-" if stats.max_abs_diff is None else f"{stats.max_abs_diff:.3g}",
                style="red" if stats.agreement_percent < 100 else None,
            )
        table.add_section()
    return table


def illustration_table(result: DemoResult) -> Table:
    """Equal scores through every way, one column per illustration: each should give log(C)."""
    from rich.table import Table

    from mlpx.diagnostics.crossentropy import WAYS

    expected = {case.expected for case in result.illustrations}
    table = Table(title=f"Equal scores: every class's loss should be log(3) = {min(expected):.4f}")
    table.add_column("way")
    for case in result.illustrations:
        table.add_column("scores " + ", ".join(f"{v:g}" for v in case.scores), justify="right")
    for way in WAYS:
        values = [case.values[way.key] for case in result.illustrations]
        table.add_row(
            way.label, *(f"{v:.4f}" if math.isfinite(v) else f"[red]{v}[/]" for v in values)
        )
    return table


# --- mlpx backprop --------------------------------------------------------------------------


def array_text(value: Any) -> str:
    """An array as NumPy prints it, 10 significant decimals (rows on lines of their own)."""
    import numpy as np

    return np.array2string(np.asarray(value), precision=10, max_line_width=72)


def backprop_report(result: BackpropResult) -> None:
    """The network, then one table per pass: every number and its largest difference from
    torch autograd (and, for parameters, from finite differences)."""
    from rich.table import Table

    from mlpx.diagnostics.backprop import FD_TOLERANCE, TORCH_TOLERANCE

    net = result.network
    console.print(
        f"x = {array_text(net.x)}, y = {net.y.tolist()}, hidden activation {net.activation}, "
        "softmax and mean cross-entropy; float64",
        highlight=False,
    )
    sections = (
        ("Forward pass", result.forward),
        ("Loss", (result.loss,)),
        ("Backward pass", result.backward),
        ("Parameter gradients", result.gradients),
    )
    for title, quantities in sections:
        table = Table(title=title, title_justify="left")
        table.add_column("name")
        table.add_column("what")
        table.add_column("value", no_wrap=True)
        table.add_column("vs torch", justify="right")
        if quantities is result.gradients:
            table.add_column("vs finite diff.", justify="right")
        for q in quantities:
            cells = [
                f"{c.error:.1e} " + ("[green]PASS[/]" if c.passed else "[bold red]FAIL[/]")
                for c in q.checks
            ]
            table.add_row(q.name, q.meaning, array_text(q.value), *cells)
        console.print(table)
    checks = sum(len(q.checks) for q in result.quantities)
    if result.failed:
        console.print(f"[bold red]{result.failed} of {checks} check(s) failed[/]")
    else:
        console.print(
            f"[green]all {checks} checks passed[/]: max |ours - oracle| / max(1, |oracle|) at "
            f"most {TORCH_TOLERANCE:g} (torch), {FD_TOLERANCE:g} (finite differences)",
            highlight=False,
        )


# --- mlpx data ------------------------------------------------------------------------------


def data_tables(summary: DataOverview) -> list[Table]:
    """The splits (size, values before and after normalisation) and the class counts."""
    from rich.table import Table

    shape = "x".join(map(str, summary.feature_shape))
    regression = any(s.targets is not None for s in summary.splits)
    outputs = f"{len(summary.class_names)} " + ("output(s)" if regression else "classes")
    splits = Table(
        title=f"{summary.name}: {shape} features ({summary.n_features} inputs), {outputs}",
        title_justify="left",
    )
    splits.add_column("split")
    splits.add_column("samples", justify="right")
    splits.add_column("values as loaded", justify="right")
    splits.add_column(f"normalised ({summary.normalization})", justify="right")
    splits.caption = "min .. max, then mean ± std over every value"
    for s in summary.splits:
        cells = [
            f"{v.min:.4g} .. {v.max:.4g}\n{v.mean:.4g} ± {v.std:.4g}" for v in (s.raw, s.normalized)
        ]
        splits.add_row(s.name, str(s.n), *cells)
    if any(s.targets is not None for s in summary.splits):
        targets = Table(title="Targets as loaded (regression)", title_justify="left")
        for column in ("split", "min .. max", "mean ± std"):
            targets.add_column(column, justify="left" if column == "split" else "right")
        for s in summary.splits:
            if s.targets is not None:
                t = s.targets
                targets.add_row(
                    s.name, f"{t.min:.4g} .. {t.max:.4g}", f"{t.mean:.4g} ± {t.std:.4g}"
                )
        return [splits, targets]
    counts = Table(title="Samples per class", title_justify="left")
    counts.add_column("class")
    labelled = [s for s in summary.splits if s.counts is not None]
    for s in labelled:
        counts.add_column(s.name, justify="right")
    for c, name in enumerate(summary.class_names):
        counts.add_row(
            name, *(f"{s.counts[c]} ({s.counts[c] / max(s.n, 1):.1%})" for s in labelled)
        )
    unlabeled = [s.name for s in summary.splits if s.counts is None]
    if unlabeled:
        counts.caption = f"{', '.join(unlabeled)}: unlabeled"
    return [splits, counts]
