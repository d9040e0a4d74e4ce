"""``mlpx plot``: draw a finished run's plots from its files."""

from __future__ import annotations

from pathlib import Path

import typer

from mlpx.cli.render import console, reports_errors
from mlpx.errors import MlpxError


@reports_errors
def plot(
    run_dirs: list[Path] = typer.Argument(
        ..., help="Run directories (a sweep's trials/NAME among them).", show_default=False
    ),
) -> None:
    """Draw the plots of finished runs into RUN/plots/: loss, accuracy, confusion and, for
    images, misclassified and weights (two input features: the decision boundary); for a
    regression, loss, predicted, residuals and (one or two inputs) fit.

    Stacked sweep trials are written without plots, which take longer to draw than such a
    trial takes to train, and so is a run with output.plots false; this draws them when you
    want them, several runs at once (a run that cannot be drawn stops none of the others).
    A sweep's trials are its trials/ folders; a cross-validation's folds, its fold-*.

    Example: mlpx plot runs/sweep-lr-20261130-120000/trials/*
    """
    from mlpx.replot import draw_run_plots, plots_dir
    from mlpx.side_by_side import run_all

    runs = list(dict.fromkeys(run_dirs))  # each once, as given first
    what = str(runs[0]) if len(runs) == 1 else f"{len(runs)} runs"
    with console.status(f"Drawing the plots of {what}..."):
        # a run each on the free cores; a run that fails stops none of the others
        errors = run_all([lambda run_dir=run_dir: draw_run_plots(run_dir) for run_dir in runs])
    for run_dir, error in zip(runs, errors, strict=True):
        if error is None:
            console.print(f"plots: {plots_dir(run_dir)}", highlight=False, soft_wrap=True)
    failed = [(run_dir, error) for run_dir, error in zip(runs, errors, strict=True) if error]
    if not failed:
        return
    first = failed[0][1]
    others = ", ".join(str(run_dir) for run_dir, _ in failed[1:])
    if others and isinstance(first, MlpxError):  # one line naming every run not drawn
        raise type(first)(f"{first}; not drawn either: {others}") from None
    raise first
