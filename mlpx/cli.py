"""The command line: each command parses, calls one library function and renders its result.

Heavy libraries (torch, matplotlib, scikit-learn) are imported inside the commands that use
them, so that ``mlpx --help`` answers at once.
"""

from __future__ import annotations

import functools
import sys
import warnings
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Optional, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from mlpx.errors import MlpxError, MlpxWarning

app = typer.Typer(
    name="mlpx",
    help="Train, sweep and check multi-layer perceptrons from a YAML config.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print one red line to stderr and exit with ``code`` (2: usage or config error)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


F = TypeVar("F", bound=Callable)


def reports_errors(command: F) -> F:
    """Turn project errors raised by a command into one red line and their exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            with warnings.catch_warnings():
                show_warnings_in_yellow()
                return command(*args, **kwargs)
        except MlpxError as exc:
            fail(str(exc), exc.exit_code)

    return wrapper  # type: ignore[return-value]


def show_warnings_in_yellow() -> None:
    """Show every MlpxWarning (each time, not once per place) as one yellow line on stderr;
    other warnings keep Python's format. Call inside ``warnings.catch_warnings()``."""
    from rich.text import Text

    python_format = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, MlpxWarning):
            return python_format(message, category, filename, lineno, file, line)
        text = Text.assemble(("warning: ", "bold yellow"), (str(message), "yellow"))
        err_console.print(text, soft_wrap=True)

    warnings.simplefilter("always", MlpxWarning)
    warnings.showwarning = show


def main() -> None:
    """Entry point of the ``mlpx`` console script.

    Project errors and command-line usage errors both become one red line (exit 2), not a
    traceback or a boxed panel; Ctrl-C outside training exits 130.
    """
    if len(sys.argv) == 1:  # bare `mlpx`: the help screen, as no_args_is_help promises
        app()
    try:
        code = app(standalone_mode=False)
    except MlpxError as exc:
        fail_line(str(exc), exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        fail_line("interrupted", 130)
    except Exception as exc:
        if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
            raise
        # a usage error from Typer/Click: bad option, missing argument, wrong type
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        fail_line(f"{exc.format_message()}{hint}", exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def fail_line(message: str, code: int) -> None:
    """Outside a command: print one red line and exit."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)


class ProgressDisplay:
    """Live rich progress for ``mlpx train``: an epoch bar, a batch bar and the last metrics.

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
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        if hasattr(self, "steps"):  # the batch bar only matters while an epoch runs
            self.progress.remove_task(self.steps)
        self.progress.stop()

    def on_start(self, run, epochs: int, steps_per_epoch: int, info: dict) -> None:
        self.progress.console.print(
            f"[bold]{info['model']}[/] on [bold]{info['dataset']}[/] with {info['backend']} "
            f"({info['device']}), {info['n_params']:,} parameters -> {run.path}",
            highlight=False,
        )
        self.epochs = self.progress.add_task("epoch", total=epochs, metrics="")
        self.steps = self.progress.add_task("batch", total=steps_per_epoch, metrics="")

    def on_step(self, epoch: int, step: int) -> None:
        import time

        now = time.monotonic()
        if now - self._last > 0.1:
            self._last = now
            self.progress.update(self.steps, completed=step)

    def on_epoch(self, record: dict) -> None:
        text = f"train loss {record['train_loss']:.4f} acc {record['train_acc']:.3f}"
        if "val_loss" in record:
            text += f" | val loss {record['val_loss']:.4f} acc {record['val_acc']:.3f}"
        self.progress.update(self.epochs, completed=record["epoch"], metrics=text)
        self.progress.update(self.steps, completed=0)


def _fmt(value, spec: str = ".4f") -> str:
    return "—" if value is None else format(value, spec)


def render_summary(summary: dict) -> None:
    """The final table of one run."""
    from rich.table import Table

    colors = {"completed": "green", "interrupted": "yellow", "diverged": "red", "failed": "red"}
    status = summary["status"]
    table = Table(title=f"[{colors.get(status, 'white')}]{status}[/] · {summary['run_dir']}")
    table.add_column("", style="bold")
    table.add_column("loss", justify="right")
    table.add_column("accuracy", justify="right")
    final = summary.get("final") or {}
    table.add_row("final train", _fmt(final.get("train_loss")), _fmt(final.get("train_acc")))
    if "val_loss" in final:
        table.add_row("final validation", _fmt(final["val_loss"]), _fmt(final["val_acc"]))
        best = f"best validation (epoch {summary['best_epoch']})"
        table.add_row(best, _fmt(summary["best_val_loss"]), _fmt(summary["best_val_acc"]))
    if summary.get("test"):
        table.add_row("test", _fmt(summary["test"]["loss"]), _fmt(summary["test"]["acc"]))
    console.print(table)
    done = f"{summary['epochs_completed']}/{summary['epochs_planned']} epochs"
    console.print(f"{done} in {summary['seconds']:.1f} s", highlight=False)


@app.command()
@reports_errors
def train(
    config: Optional[Path] = typer.Argument(  # noqa: UP045 (typer needs Optional)
        None, help="YAML config file (see configs/).", show_default=False
    ),
    overrides: list[str] = typer.Option(
        [], "--set", "-s", help="Override a config field: -s optimizer.lr=0.01 (repeatable)."
    ),
    runs_dir: Optional[Path] = typer.Option(  # noqa: UP045
        None, "--runs-dir", help="Where run directories go (default: output.runs_dir)."
    ),
    resume: Optional[Path] = typer.Option(  # noqa: UP045
        None, "--resume", help="Continue an interrupted or crashed run directory."
    ),
    print_config: bool = typer.Option(
        False, "--print-config", help="Print the resolved config and exit without training."
    ),
) -> None:
    """Train one model from a YAML config and write a run directory.

    With data.folds: K it trains one run per fold (k-fold cross-validation) and reports
    their mean and standard deviation.

    Example: mlpx train configs/digits.yaml -s optimizer.lr=0.01 -s model.hidden=[64,32]

    Ctrl-C keeps every complete epoch; continue with: mlpx train --resume runs/RUN_DIR
    """
    from mlpx import train as training
    from mlpx.config import dump_config, load_config
    from mlpx.interrupts import sigterm_as_interrupt
    from mlpx.runs import RunDir

    if resume is not None and (config is not None or overrides or print_config):
        fail("--resume takes the run directory alone: its config.yaml is the config")
    if resume is None and config is None:
        fail("give a config file (e.g. mlpx train configs/digits.yaml) or --resume RUN_DIR")
    if resume is None:
        cfg = load_config(config, overrides)
        if print_config:
            console.print(dump_config(cfg), end="", highlight=False, markup=False)
            return
        if cfg.data.folds is not None and cfg.data.fold is None:
            return train_folds(cfg, runs_dir)
    # a polite kill (SIGTERM) stops like Ctrl-C: the run is kept and can be resumed
    try:
        with sigterm_as_interrupt():
            # data and model are built before the live display starts, so that their errors
            # are the only line printed
            if resume is not None:
                trainer, checkpoint = training.open_resume(resume)
            else:
                trainer = training.Trainer(cfg)
            with ProgressDisplay(console) as display:
                trainer.observer = display
                if resume is not None:
                    result = trainer.resume(RunDir(resume), checkpoint)
                else:
                    result = trainer.run(runs_dir, command=sys.argv)
    except KeyboardInterrupt:
        fail("interrupted before training started; no run directory was written", 130)
    except MlpxError:
        raise
    except Exception as exc:  # a crash inside training: recorded in summary.json, exit 1
        fail(f"training failed: {type(exc).__name__}: {exc} (see summary.json of the run)", 1)
    render_summary(result.summary)
    if result.status == "interrupted":
        fail(f"{result.message}; resume with: mlpx train --resume {result.run_dir}", 130)
    if result.status == "diverged":
        fail(result.message, 1)
    if result.message:
        console.print(result.message, highlight=False)


@app.command()
@reports_errors
def runs(
    runs_dir: Path = typer.Argument(Path("runs"), help="Directory holding run directories."),
) -> None:
    """List past runs, newest first.

    Example: mlpx runs runs/
    """
    from rich import box
    from rich.table import Table

    from mlpx.runs import list_runs

    found = list_runs(runs_dir)
    if not found:
        console.print(f"no runs in {runs_dir}")
        return
    table = Table(title=f"{len(found)} run(s) in {runs_dir}", box=box.SIMPLE_HEAD)
    table.add_column("run", no_wrap=True, min_width=max(len(info.path.name) for info in found))
    for column in ("data", "backend", "model", "optimizer", "progress", "best val", "test"):
        table.add_column(column, justify="right" if column in ("best val", "test") else "left")
    table.add_column("status")
    table.add_column("time", justify="right")
    colors = {"completed": "green", "interrupted": "yellow", "running": "cyan"}
    for info in found:
        cfg, summary = info.config, info.summary
        opt, model = cfg.get("optimizer") or {}, cfg.get("model") or {}
        hidden = "-".join(map(str, model.get("hidden") or []))
        epochs = f"{summary.get('epochs_completed', '?')}/{(cfg.get('train') or {}).get('epochs')}"
        if info.group:
            epochs = info.group
        seconds = summary.get("seconds")
        table.add_row(
            info.path.name,
            str((cfg.get("data") or {}).get("name", "?")),
            str(cfg.get("backend", "?")),
            f"{model.get('kind', '?')} {hidden}",
            f"{opt.get('name', '?')} {_fmt(opt.get('lr'), 'g')}",
            epochs,
            _fmt(summary.get("best_val_acc")),
            _fmt((summary.get("test") or {}).get("acc")),
            f"[{colors.get(info.status, 'red')}]{info.status}[/]",
            "—" if seconds is None else f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s",
        )
    # a narrow terminal wraps long lines rather than eliding the values people came for
    Console(width=max(console.width, 140)).print(table)


@app.command(
    "crossentropy-demo",
    help=(
        "Why cross-entropy must be computed with log-sum-exp: five ways, measured.\n\n"
        "For each range, draws batches of scores uniform in (lo, hi) and random labels, "
        "computes the mean cross-entropy (a) with torch's F.cross_entropy, the reference, "
        "(b) as softmax then -log, (c) with a naive log(sum exp), (d) with torch.logsumexp "
        "and (e) with the max-shift trick, and counts how often each equals the reference to "
        "3 decimals, meaning abs(loss - reference) < 0.5e-3 (NaN and inf never do). "
        "Needs no dataset.\n\n"
        "Example: mlpx crossentropy-demo --range 0,1 --range 0,10 --range 0,100 --plot ce.png"
    ),
)
@reports_errors
def crossentropy_demo(
    ranges: list[str] = typer.Option(
        None,
        "--range",
        metavar="LO,HI",
        help="Score range, lo < hi; repeat for several.  (default: 0,1 and 0,100)",
        show_default=False,
    ),
    batch_size: int = typer.Option(64, "--batch-size", help="Samples per batch."),
    classes: int = typer.Option(10, "--classes", help="Number of classes."),
    iterations: int = typer.Option(1000, "--iterations", help="Batches drawn per range."),
    seed: int = typer.Option(0, "--seed", help="Seed of NumPy's default_rng, for each range."),
    dtype: str = typer.Option("float32", "--dtype", help="float32 or float64."),
    json_file: str = typer.Option(
        None, "--json", metavar="FILE", help="Write every number to this JSON file."
    ),
    plot_file: str = typer.Option(
        None,
        "--plot",
        metavar="FILE.png",
        help="Draw agreement % against each range's upper end.",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite existing --json/--plot files."),
) -> None:
    """Run the cross-entropy demo: validate, measure, render (help text in the decorator)."""
    from pathlib import Path

    from mlpx import crossentropy

    settings = crossentropy.demo_settings(ranges, batch_size, classes, iterations, seed, dtype)
    json_path = Path(json_file) if json_file is not None else None
    plot_path = Path(plot_file) if plot_file is not None else None
    if json_path is not None:
        crossentropy.check_output_path(json_path, "--json", force)
    if plot_path is not None:
        crossentropy.check_output_path(plot_path, "--plot", force, suffix=".png")
    with console.status("Computing cross-entropy five ways..."):
        result = crossentropy.run_demo(settings)
    console.print(_crossentropy_table(result))
    console.print(_illustration_table(result))
    for line in crossentropy.conclusion(result):
        console.print(f"- {line}", highlight=False)
    if json_path is not None:
        crossentropy.write_json(result, json_path)
        console.print(f"wrote {json_path}", highlight=False)
    if plot_path is not None:
        crossentropy.plot_agreement(result, plot_path)
        console.print(f"wrote {plot_path}", highlight=False)


def _crossentropy_table(result):
    """One row per range and way: agreement %, NaN/inf count, largest finite difference."""
    from rich.table import Table

    from mlpx.crossentropy import REFERENCE, TOLERANCE, WAYS

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


def _illustration_table(result):
    """Equal scores through every way, one column per illustration: each should give log(C)."""
    import math

    from rich.table import Table

    from mlpx.crossentropy import WAYS

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


class GradcheckOracle(str, Enum):
    """Oracles ``mlpx gradcheck --against`` accepts besides finite differences."""

    torch = "torch"


@app.command("gradcheck")
@reports_errors
def gradcheck_command(
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Check this config's architecture (toy data: the toy set)."
    ),
    tol: float = typer.Option(
        1e-7, "--tol", min=0.0, help="Largest max relative error that passes."
    ),
    against: GradcheckOracle | None = typer.Option(
        None, "--against", help="Also compare with PyTorch autograd on the same arrays."
    ),
) -> None:
    """Check the numpy backend's backprop against finite differences (and torch autograd).

    Without --config, simple and complex MLPs with each activation, batch norm, dropout and
    L1/L2 are checked. Exit code 0 when every gradient passes, 1 otherwise.

    Example: mlpx gradcheck --config configs/toy.yaml --against torch
    """
    from rich.table import Table

    from mlpx.config import load_config
    from mlpx.gradcheck import run_gradcheck

    cfg = load_config(config) if config is not None else None
    report = run_gradcheck(cfg, tol, against_torch=against is GradcheckOracle.torch)
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
        line = f"initial loss with l2 = {report.initial_loss_l2:g}: {report.initial_loss:.11f}"
        if report.reference_loss is not None:
            verdict = "[green]PASS[/]" if report.loss_passed else "[bold red]FAIL[/]"
            line += (
                f" (reference {report.reference_loss:.11f},"
                f" |diff| {abs(report.initial_loss - report.reference_loss):.1e}): {verdict}"
            )
        console.print(line, highlight=False)
    failed = sum(not row.passed for row in report.rows) + (not report.loss_passed)
    if failed:
        console.print(f"[bold red]{failed} check(s) failed[/]")
        raise typer.Exit(1)
    console.print(f"[green]all {len(report.rows)} gradient checks passed[/]")


def train_folds(cfg, runs_dir: Path | None) -> None:
    """``mlpx train`` with ``data.folds``: every fold's run with its progress, then the table."""
    from mlpx.crossval import cross_validate

    k = cfg.data.folds

    def display(fold: int) -> ProgressDisplay:
        console.print(f"[bold]fold {fold}/{k}[/]", highlight=False)
        return ProgressDisplay(console)

    try:
        result = cross_validate(cfg, runs_dir, sys.argv, display)
    except KeyboardInterrupt:
        fail("interrupted before training started; nothing was written", 130)
    render_crossval(result)
    done = len(result.completed)
    if result.status == "interrupted":
        fail(f"interrupted after {done} of {k} folds; the runs so far are in {result.path}", 130)
    if result.status != "completed":
        fail(f"{k - done} of {k} folds did not complete (see {result.path / 'cv.json'})", 1)


def render_crossval(result) -> None:
    """One row per fold and a mean ± std row (over the completed folds)."""
    from rich.table import Table

    colors = {"completed": "green", "interrupted": "yellow"}
    color = colors.get(result.status, "red")
    table = Table(title=f"{result.folds}-fold cross-validation: [{color}]{result.status}[/]")
    columns = [("val_loss", "val loss"), ("val_acc", "val acc"), ("best_val_acc", "best val acc")]
    if "test_acc" in result.mean:
        columns.append(("test_acc", "test acc"))
    table.add_column("fold", justify="right")
    table.add_column("status")
    for _, title in columns:
        table.add_column(title, justify="right")
    for o in result.outcomes:
        status = f"[{colors.get(o.status, 'red')}]{o.status}[/]"
        table.add_row(str(o.fold), status, *(_fmt(o.metrics.get(key)) for key, _ in columns))
    table.add_section()
    stats = [
        "—" if key not in result.mean else f"{result.mean[key]:.4f} ± {result.std[key]:.4f}"
        for key, _ in columns
    ]
    table.add_row("mean", f"{len(result.completed)} folds", *stats, style="bold")
    console.print(table)
    console.print(f"cv.json and fold-1..{result.folds} in {result.path}", highlight=False)
    for o in result.outcomes:
        if o.message:
            console.print(f"fold {o.fold}: {o.message}", highlight=False)


@app.command()
@reports_errors
def predict(
    run_dir: Path = typer.Argument(
        ..., help="A run directory written by mlpx train.", show_default=False
    ),
    data: Path = typer.Option(
        ...,
        "--data",
        help="An .npz file: test_x is predicted; without test_x, data_x (and with data_y the "
        "accuracy is shown).",
        show_default=False,
    ),
    out: Optional[Path] = typer.Option(  # noqa: UP045 (typer needs Optional)
        None,
        "--out",
        help="Where to write the labels: .csv (one per line) or .npy "
        "(default: RUN_DIR/predictions-<data file name>.csv).",
        show_default=False,
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
) -> None:
    """Predict the labels of an .npz file with a trained run (either backend).

    Example: mlpx predict runs/20261123-141503-challenge --data challenge.npz --out labels.csv
    """
    from mlpx.predict import check_output, default_output, predict_file, write_predictions

    path = out if out is not None else default_output(run_dir, data)
    check_output(path, force)
    with console.status(f"Predicting {data} with {run_dir}..."):
        result = predict_file(run_dir, data)
        write_predictions(result.labels, path)
    console.print(
        f"wrote {len(result.labels)} predictions of {result.inputs} to {path}",
        highlight=False,
        soft_wrap=True,
    )
    if result.accuracy is not None:
        correct = int(round(result.accuracy * len(result.labels)))
        console.print(
            f"accuracy against data_y: {result.accuracy:.4f} ({correct}/{len(result.labels)})",
            highlight=False,
        )


class SweepProgress:
    """Live rich progress for ``mlpx sweep``: a line per finished trial and an overall bar."""

    colors = {"completed": "green", "interrupted": "yellow", "diverged": "red", "killed": "red"}

    def __init__(self, console: Console):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("trials"),
            BarColumn(bar_width=30),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )

    def __enter__(self) -> SweepProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.stop()

    def on_start(self, directory, plan, pending, finished) -> None:
        shape = f"{len(plan.values)} value(s) x {len(plan.seeds)} seed(s)"
        where = f"{plan.param} ({plan.path})" if plan.param != plan.path else plan.param
        self.param = plan.param
        self.progress.console.print(
            f"sweep of [bold]{escape(where)}[/]: {shape} -> {escape(str(directory))}",
            highlight=False,
            soft_wrap=True,
        )
        if finished:
            self.progress.console.print(
                f"resuming: {len(finished)} trial(s) finished and kept, {len(pending)} to run",
                highlight=False,
            )
        self.task = self.progress.add_task("trials", total=len(pending))

    def on_trial_end(self, result) -> None:
        color = self.colors.get(result.status, "red")
        wall = "" if result.wall_seconds is None else f"{result.wall_seconds:6.1f} s"
        line = (
            f"[{color}]{result.status:>11}[/] {escape(self.param)}="
            f"{escape(result.trial.label):<10} "
            f"seed {result.trial.seed:<3} val acc {_fmt(result.final_val_acc)} "
            f"val loss {_fmt(result.final_val_loss)} {wall}"
        )
        if result.error and result.status != "completed":
            line += f"  [dim]{escape(result.error)}[/]"
        self.progress.console.print(line, highlight=False, soft_wrap=True)
        self.progress.advance(self.task)


def _sweep_table(result):
    """The values ranked by mean validation accuracy over seeds; the best one highlighted."""
    from rich.table import Table

    plan = result.plan
    table = Table(
        title=escape(f"{plan.param} sweep · {result.directory}"),
        caption="val acc / loss: final epoch, mean ± std over the completed seeds",
    )
    for column in ("value", "completed", "val acc", "val loss", "best val acc", "time", "status"):
        table.add_column(column, justify="left" if column in ("value", "status") else "right")
    ranking = result.ranking()
    for rank, summary in enumerate(ranking):
        acc, acc_std = summary.acc
        loss, loss_std = summary.loss
        statuses = ", ".join(
            f"{count} {status}"
            for status, count in summary.statuses.items()
            if status != "completed"
        )
        best = rank == 0 and acc is not None
        table.add_row(
            escape(summary.label) + (" ★" if best else ""),
            f"{summary.completed}/{len(plan.seeds)}",
            "—" if acc is None else f"{acc:.4f} ± {acc_std:.4f}",
            "—" if loss is None else f"{loss:.4f} ± {loss_std:.4f}",
            _fmt(summary.best_acc),
            "—" if summary.wall_seconds is None else f"{summary.wall_seconds:.1f} s",
            f"[red]{statuses}[/]" if statuses else "[green]ok[/]",
            style="bold green" if best else None,
        )
    return table


def _dry_run_table(trials, param: str):
    from rich.table import Table

    table = Table(title=f"{len(trials)} trial(s)")
    for column in ("trial", param, "seed", "overrides"):
        table.add_column(column)
    for trial in trials:
        cells = (trial.name, trial.label, str(trial.seed), trial.describe_overrides())
        table.add_row(*map(escape, cells))
    return table


@app.command()
@reports_errors
def sweep(
    param: str | None = typer.Argument(
        None,
        help="What to sweep: lr, hidden, optimizer, depth, l1, l2, dropout, batch_size, epochs "
        "or a dotted config path (with --values).",
        show_default=False,
    ),
    values: str | None = typer.Option(
        None,
        "--values",
        help='Comma-separated values, each read as YAML: 0.1,0.01 or "[64],[64,64]".',
        show_default=False,
    ),
    config: Path | None = typer.Option(
        None, "--config", help="Base YAML config (default: the built-in digits config)."
    ),
    seeds: int | None = typer.Option(
        None,
        "--seeds",
        help="Seeds per value: the base seed, +1, ... (default 1).",
        show_default=False,
    ),
    jobs: int | None = typer.Option(
        None,
        "--jobs",
        "-j",
        help="Trials run in parallel (default: the number of cores).",
        show_default=False,
    ),
    executor: str = typer.Option("local", "--executor", help="local or dask."),
    scheduler: str | None = typer.Option(
        None, "--scheduler", help="Dask scheduler address, e.g. tcp://host:8786."
    ),
    overrides: list[str] = typer.Option(
        [], "--set", "-s", help="Override a base config field: -s train.epochs=5 (repeatable)."
    ),
    runs_dir: Path | None = typer.Option(
        None, "--runs-dir", help="Where the sweep directory goes (default: output.runs_dir)."
    ),
    resume: Path | None = typer.Option(
        None,
        "--resume",
        help="Finish an interrupted sweep: run only its unfinished trials.",
        show_default=False,
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the trials that would run and exit; writes nothing."
    ),
) -> None:
    """Train one config over a grid of values of a hyperparameter, several seeds each.

    Trials run in separate processes (or on a Dask cluster); one that fails, diverges or is
    killed is recorded and the others go on. Writes runs/sweep-PARAM-TIME/ with sweep.yaml,
    trials/, results.csv and plots/sweep.png and plots/curves.png.

    Example: mlpx sweep lr --seeds 3 -s train.epochs=20
    """
    from mlpx.config import load_config
    from mlpx.groups import plan as planning
    from mlpx.groups import runner
    from mlpx.groups.executors import ExecutorOptions, check_options
    from mlpx.interrupts import sigterm_as_interrupt

    options = ExecutorOptions(executor, jobs, scheduler)
    check_options(options)
    if resume is not None:
        shaping = {"--values": values, "--config": config, "--seeds": seeds}
        shaping |= {"--set": overrides or None, "--runs-dir": runs_dir}
        given = [option for option, value in shaping.items() if value is not None]
        if given:
            recorded = resume / "sweep.yaml"
            fail(f"--resume reruns the sweep as {recorded} records it; drop {', '.join(given)}")
        plan = planning.load_plan(resume, planning.SweepPlan)
        if param is not None and param != plan.param:
            fail(f"--resume {resume}: that sweep is of {plan.param!r}, not {param!r}")
        if dry_run:
            pending = runner.pending_trials(resume, plan)
            console.print(_dry_run_table(pending, plan.param))
            again = f"{len(pending)} of {len(plan.trials)} trial(s) would run again in {resume}"
            console.print(f"dry run: {again}; nothing was written", highlight=False)
            return
        run = functools.partial(runner.resume_group, resume, plan, options)
    else:
        if param is None:
            fail("missing PARAM: what to sweep, e.g. mlpx sweep lr (see 'mlpx sweep --help')")
        base = load_config(config, overrides)
        plan = planning.plan_sweep(param, values, base, 1 if seeds is None else seeds)
        where = runs_dir or Path(base.output.runs_dir)
        if dry_run:
            console.print(_dry_run_table(plan.trials, plan.param))
            shape = f"{len(plan.values)} value(s) x {len(plan.seeds)} seed(s)"
            target = where / plan.dir_name("TIME")
            console.print(
                f"dry run: {len(plan.trials)} trial(s) ({shape}) would run in {target}; "
                "nothing was written",
                highlight=False,
            )
            return
        run = functools.partial(runner.run_group, plan, where, options)
    with sigterm_as_interrupt(), SweepProgress(console) as progress:
        result = run(progress, sys.argv)
    # a narrow terminal wraps long lines rather than squeezing the mean ± std columns
    Console(width=max(console.width, 120)).print(_sweep_table(result))
    if result.interrupted:
        fail(f"interrupted; resume with: mlpx sweep --resume {result.directory}", 130)
    if result.problems:
        names = ", ".join(f"{r.trial.name} ({r.status})" for r in result.problems)
        counts = f"{len(result.problems)} of {len(result.results)} trial(s)"
        fail(f"{counts} did not complete: {names}; see {result.directory / 'results.csv'}", 1)
    done = result.directory
    console.print(f"results: {done / 'results.csv'}, plots: {done / 'plots'}", highlight=False)
