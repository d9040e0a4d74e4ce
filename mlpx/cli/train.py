"""``mlpx train``: one run, a resumed run, or a cross-validation (``data.folds: K``)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from mlpx.cli import options
from mlpx.cli.failures import explain
from mlpx.cli.render import (
    GroupProgress,
    console,
    crossval_report,
    fail,
    reports_errors,
    run_progress,
    run_summary,
)
from mlpx.errors import MlpxError

if TYPE_CHECKING:
    from mlpx import launch
    from mlpx.launch import Group


CROSS_VALIDATION = "Cross-validation (data.folds: K)"
"""The --help heading of the options that only a cross-validation's folds take."""


@reports_errors
def train(
    config: Optional[Path] = typer.Argument(  # noqa: UP045 (typer needs Optional)
        None,
        help="YAML config file (see configs/); with --print-config alone, the defaults.",
        show_default=False,
        metavar="CONFIG",
    ),
    overrides: list[str] = options.OVERRIDES,
    runs_dir: Optional[Path] = typer.Option(  # noqa: UP045
        None,
        "--runs-dir",
        help="Where run directories go (default: output.runs_dir).",
        metavar="DIR",
    ),
    resume: Optional[Path] = typer.Option(  # noqa: UP045
        None,
        "--resume",
        help="Continue an interrupted or crashed run directory, or finish a cross-validation "
        "directory (its unfinished folds).",
        metavar="RUN_DIR",
    ),
    print_config: bool = typer.Option(
        False, "--print-config", help="Print the resolved config and exit without training."
    ),
    epochs: Optional[int] = typer.Option(  # noqa: UP045
        None,
        "--epochs",
        help="With --resume: train the run to this many epochs in all (at least as many as "
        "it planned; more than it trained, for a completed run), the one change a resume "
        "accepts; recorded in its summary.json.",
        show_default=False,
    ),
    jobs: Optional[int] = options.under(CROSS_VALIDATION, options.JOBS),  # noqa: UP045
    executor: str = options.under(CROSS_VALIDATION, options.EXECUTOR),
    scheduler: Optional[str] = options.under(CROSS_VALIDATION, options.SCHEDULER),  # noqa: UP045
) -> None:
    """Train one model from a YAML config and write a run directory.

    With data.folds: K it trains one run per fold (k-fold cross-validation), each in a
    process of its own (--jobs at a time, or on Dask), and reports their mean and sample
    standard deviation.

    Example: mlpx train configs/digits.yaml -s optimizer.lr=0.01 -s model.hidden=[64,32]

    Ctrl-C keeps every complete epoch; continue with: mlpx train --resume runs/RUN_DIR
    """
    from mlpx import launch
    from mlpx.config import dump_config
    from mlpx.groups.executors import ExecutorOptions
    from mlpx.interrupts import sigterm_as_interrupt

    request = launch.TrainRequest(
        config,
        overrides,
        runs_dir,
        resume,
        print_config,
        ExecutorOptions(executor, jobs, scheduler),
        epochs,
    )
    if print_config:
        text = dump_config(launch.resolved_config(request))
        console.print(text, end="", highlight=False, markup=False)
        return
    display = run_progress(console)
    try:
        # data and model are built before a live display starts, so that their errors are
        # the only line printed
        with sigterm_as_interrupt():
            target = launch.open_training(request)
    except KeyboardInterrupt:
        fail("interrupted before training started; no run directory was written", 130)
    if isinstance(target, launch.Group):
        return _cross_validation(target)
    try:
        with display:
            result = target.run(display, sys.argv)
    except MlpxError:
        raise
    except Exception as exc:  # a crash inside training: recorded in summary.json, exit 1
        summary = _summary_written(target)
        if summary is None:  # it never got as far as a run directory: the general rule
            raise
        fail(f"training failed: {explain(exc)[0]} (see {summary})", 1)
    run_summary(result.summary, result.history)
    if result.status == "interrupted":
        fail(f"{result.message}; resume with: mlpx train --resume {result.run_dir}", 130)
    if result.status == "diverged":
        fail(result.message, 1)
    if result.message:
        console.print(result.message, highlight=False)


def _summary_written(target: launch.SingleRun) -> Path | None:
    """The summary.json a crashed run recorded its failure in, if it got that far."""
    from mlpx.runs import SUMMARY

    run_dir = getattr(target.trainer, "run_dir", None)
    summary = run_dir.file(SUMMARY) if run_dir is not None else None
    return summary if summary is not None and summary.is_file() else None


def _cross_validation(target: Group) -> None:
    """Run the folds with a group progress display, then the table and the exit code."""
    with GroupProgress(console) as progress:
        result = target.run(progress, sys.argv)
    crossval_report(result)
    folds, done = len(result.plan.trials), len(result.completed)
    if result.interrupted:
        fail(
            f"interrupted after {done} of {folds} folds completed; "
            f"resume with: mlpx train --resume {result.directory}",
            130,
        )
    if result.problems:
        cv_json = result.directory / "cv.json"
        fail(f"{folds - done} of {folds} folds did not complete (see {cv_json})", 1)
