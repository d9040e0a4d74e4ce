"""The command line: each command parses, calls one library function and renders its result.

Heavy libraries (torch, matplotlib, scikit-learn) are imported inside the commands that use
them, so that ``mlpx --help`` answers at once.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Optional, TypeVar

import typer
from rich.console import Console

from mlpx.errors import MlpxError

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
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


F = TypeVar("F", bound=Callable)


def reports_errors(command: F) -> F:
    """Turn project errors raised by a command into one red line and their exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except MlpxError as exc:
            fail(str(exc), exc.exit_code)

    return wrapper  # type: ignore[return-value]


def main() -> None:
    """Entry point of the ``mlpx`` console script: project errors become one line, exit 2."""
    try:
        app()
    except MlpxError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)


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
    config: Path = typer.Argument(..., help="YAML config file (see configs/).", show_default=False),
    overrides: list[str] = typer.Option(
        [], "--set", "-s", help="Override a config field: -s optimizer.lr=0.01 (repeatable)."
    ),
    runs_dir: Optional[Path] = typer.Option(  # noqa: UP045 (typer needs Optional)
        None, "--runs-dir", help="Where run directories go (default: output.runs_dir)."
    ),
) -> None:
    """Train one model from a YAML config and write a run directory.

    Example: mlpx train configs/digits.yaml -s optimizer.lr=0.01 -s model.hidden=[64,32]
    """
    from mlpx.config import load_config
    from mlpx.train import Trainer

    cfg = load_config(config, overrides)
    trainer = None
    try:
        trainer = Trainer(cfg)
        with ProgressDisplay(console) as display:
            trainer.observer = display
            result = trainer.run(runs_dir, command=sys.argv)
    except KeyboardInterrupt:
        fail("interrupted before training started; nothing was written", 130)
    except MlpxError:
        raise
    except Exception as exc:  # a crash inside training: recorded in summary.json, exit 1
        where = getattr(trainer, "run_dir", None) if trainer else None
        kept = f"; details in {where.path / 'summary.json'}" if where else ""
        fail(f"training failed: {type(exc).__name__}: {exc}{kept}", 1)
    render_summary(result.summary)
    if result.status == "interrupted":
        fail(f"{result.message}; the run so far is kept in {result.run_dir}", 130)
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
    for column in ("data", "backend", "model", "optimizer", "epochs", "best val", "test"):
        table.add_column(column, justify="right" if column in ("best val", "test") else "left")
    table.add_column("status")
    table.add_column("time", justify="right")
    colors = {"completed": "green", "interrupted": "yellow", "running": "cyan"}
    for info in found:
        cfg, summary = info.config, info.summary
        opt, model = cfg.get("optimizer") or {}, cfg.get("model") or {}
        hidden = "-".join(map(str, model.get("hidden") or []))
        epochs = f"{summary.get('epochs_completed', '?')}/{(cfg.get('train') or {}).get('epochs')}"
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
            "—" if seconds is None else f"{seconds:.0f}s",
        )
    # a narrow terminal wraps long lines rather than eliding the values people came for
    Console(width=max(console.width, 125)).print(table)
