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
    trial takes to train; this draws them when you want them, several runs at once.

    Example: mlpx plot runs/sweep-lr-20261130-120000/trials/0.01-seed0
    """
    from mlpx.replot import draw_run_plots, plots_dir
    from mlpx.side_by_side import side_by_side

    what = str(run_dirs[0]) if len(run_dirs) == 1 else f"{len(run_dirs)} runs"
    with console.status(f"Drawing the plots of {what}..."):
        # a run each on the free cores; the first error is raised once the others are drawn
        side_by_side([lambda run_dir=run_dir: draw_run_plots(run_dir) for run_dir in run_dirs])
    for run_dir in run_dirs:
        console.print(f"plots: {plots_dir(run_dir)}", highlight=False, soft_wrap=True)
