"""A finished run's plots drawn later from its files (``mlpx plot``).

Stacked sweeps leave their trials' plots to be drawn on demand: drawing them takes longer
than training a small trial; a run trained with ``output.plots: false`` gets them too.
Everything they show is in the run directory: the metrics and steps for the curves, and the
model, rebuilt as ``mlpx predict`` rebuilds it, for the predictions on the split the run
validated on (its data reloaded with its seed); a regression's fit over one or two inputs
asks the rebuilt model as the run asked its own.
"""

from __future__ import annotations

from pathlib import Path

from mlpx.data import load_dataset
from mlpx.errors import RunDirError
from mlpx.predict import load_trained
from mlpx.runs import METRICS, RunDir


def draw_run_plots(run_dir: Path) -> Path:
    """Draw the plots ``mlpx train`` draws for the run in ``run_dir`` into its plots/
    directory (replacing those there) and return that directory."""
    from mlpx.plots import plot_run

    trained = load_trained(run_dir)
    run = RunDir(Path(run_dir).expanduser())
    history = run.read_metrics()
    if not history:
        raise RunDirError(f"{run_dir}: no complete epoch in {METRICS}; nothing to plot")
    config = trained.config
    dataset = load_dataset(config.data, config.seed, config.dtype, config.task)
    split = "val" if dataset.x_val is not None else "train"
    x, _ = dataset.splits()[split]
    if config.task == "regression":
        from mlpx.regression_plots import FittedFunction, plot_regression_run

        raw_x, y_true = dataset.normalization.invert(x), dataset.raw_targets[split]
        y_pred = dataset.targets.invert(trained.backend.predict(x))
        fit = FittedFunction(raw_x, y_true, trained.predict) if dataset.n_features <= 2 else None
        plot_regression_run(run, history, y_true, y_pred, dataset.class_names, split, fit)
        return run.plots
    plot_run(run, history, dataset, split, trained.backend.predict(x), trained.backend)
    return run.plots


def plots_dir(run_dir: Path) -> Path:
    """Where :func:`draw_run_plots` draws the plots of ``run_dir``."""
    return RunDir(Path(run_dir).expanduser()).plots
