"""A finished run's plots drawn later from its files (``mlpx plot``).

Stacked sweeps leave their trials' plots to be drawn on demand: drawing four plots takes
longer than training a small trial. Everything they show is in the run directory: the
metrics and steps for the curves, and the model, rebuilt as ``mlpx predict`` rebuilds it,
for the predictions on the split the run validated on (its data reloaded with its seed).
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
    if config.task == "regression":
        raise RunDirError(
            f"{run_dir}: a regression run; mlpx plot draws classification runs' plots "
            "(a regression run draws its own as it ends)"
        )
    dataset = load_dataset(config.data, config.seed, config.dtype, config.task)
    split = "val" if dataset.x_val is not None else "train"
    x, _ = dataset.splits()[split]
    plot_run(run, history, dataset, split, trained.backend.predict(x), trained.backend)
    return run.plots


def plots_dir(run_dir: Path) -> Path:
    """Where :func:`draw_run_plots` draws the plots of ``run_dir``."""
    return RunDir(Path(run_dir).expanduser()).plots
