"""``mlpx plot``: draw a finished run's plots from its files."""

from __future__ import annotations

from pathlib import Path

import typer

from mlpx.cli.render import console, reports_errors


@reports_errors
def plot(
    run_dirs: list[Path] = typer.Argument(
        ..., help="Run directories (a sweep's trials/NAME among them).", show_default=False
    ),
) -> None:
    """Draw the plots of finished runs: loss, accuracy, confusion and misclassified (or the
    decision boundary) into RUN/plots/.

    Stacked sweep trials are written without plots, which take longer to draw than such a
    trial takes to train; this draws them when you want them.

    Example: mlpx plot runs/sweep-lr-20261130-120000/trials/0.01-seed0
    """
    from mlpx.replot import draw_run_plots

    for run_dir in run_dirs:
        with console.status(f"Drawing the plots of {run_dir}..."):
            plots = draw_run_plots(run_dir)
        console.print(f"plots: {plots}", highlight=False, soft_wrap=True)
