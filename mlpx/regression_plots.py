"""Plots (matplotlib, Agg) of a regression run: loss, predicted against true targets with
the diagonal, residuals, and for one or two input features the fitted function over the
data. Beside :mod:`mlpx.plots` (whose figure helpers and loss plot it uses)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlpx.plots import add_axes, figure, plot_loss, ready_to_draw, save_png
from mlpx.runs import FIT_PLOT, LOSS_PLOT, PREDICTED_PLOT, RESIDUALS_PLOT, RunDir

if TYPE_CHECKING:
    from matplotlib.axes import Axes

OUTPUTS_SHOWN = 4
"""Outputs drawn side by side in the scatter plots; a run with more shows the first ones."""
GRID = 200
"""Points per axis where the fitted function is evaluated."""


@dataclass
class FittedFunction:
    """What the fit plot needs: the inputs x (N, 1 or 2) and targets y (N, K) of the split,
    in their own units, and the model as a function of raw inputs (M, D) -> (M, K)."""

    x: np.ndarray
    y: np.ndarray
    predict: Callable[[np.ndarray], np.ndarray]


def plot_regression_run(
    run: RunDir,
    history: list[dict[str, Any]],
    y_true: np.ndarray,
    y_pred: np.ndarray,
    names: list[str],
    split: str,
    fit: FittedFunction | None = None,
) -> None:
    """Every plot of a regression run into ``run.plots``: y_true and y_pred (N, K) of
    ``split`` in the targets' units; drawn side by side where there are cores (the fit, which
    asks the model, here)."""
    from mlpx.side_by_side import side_by_side

    steps = ready_to_draw(run)
    pieces = [
        lambda: plot_loss(run.plots / LOSS_PLOT, history, steps),
        lambda: plot_predicted(run.plots / PREDICTED_PLOT, y_true, y_pred, names, split),
        lambda: plot_residuals(run.plots / RESIDUALS_PLOT, y_true, y_pred, names, split),
    ]
    if fit is not None:
        pieces.insert(0, lambda: plot_fit(run.plots / FIT_PLOT, fit, names[0], split))
    side_by_side(pieces)


def _panels(n_outputs: int, height: float = 4.2) -> tuple[Any, list[Axes]]:
    shown = min(n_outputs, OUTPUTS_SHOWN)
    fig = figure(0.6 + 4.4 * shown, height)
    axes = [add_axes(fig, 0.85 + 4.4 * k, 0.6, 3.4, height - 1.15) for k in range(shown)]
    return fig, axes


def plot_predicted(
    path, y_true: np.ndarray, y_pred: np.ndarray, names: list[str], split: str
) -> None:
    """Predicted against true value of every sample, one panel per output, with the
    diagonal where a perfect model's points would lie."""
    from mlpx.metrics import regression_metrics

    fig, axes = _panels(y_true.shape[1])
    for k, ax in enumerate(axes):
        t, p = y_true[:, k], y_pred[:, k]
        low, high = min(t.min(), p.min()), max(t.max(), p.max())
        pad = 0.04 * (high - low or 1.0)
        ax.plot([low - pad, high + pad], [low - pad, high + pad], color="0.3", lw=1,
                label="predicted = true")  # fmt: skip
        ax.scatter(t, p, s=9, alpha=0.6, color="tab:blue", edgecolors="none")
        r2 = regression_metrics(t, p)["r2"]
        ax.set(xlim=(low - pad, high + pad), ylim=(low - pad, high + pad), aspect="equal")
        ax.set(xlabel=f"true {names[k]}", ylabel=f"predicted {names[k]}")
        ax.set_title(f"{split}: {len(t)} samples, R² {r2:.3f}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    save_png(fig, path)


def plot_residuals(
    path, y_true: np.ndarray, y_pred: np.ndarray, names: list[str], split: str
) -> None:
    """Residual (predicted - true) against the prediction, one panel per output, with the
    zero line: a good fit scatters evenly around it, with no trend."""
    fig, axes = _panels(y_true.shape[1])
    for k, ax in enumerate(axes):
        p = y_pred[:, k]
        residual = p - y_true[:, k]
        ax.axhline(0.0, color="0.3", lw=1)
        ax.scatter(p, residual, s=9, alpha=0.6, color="tab:orange", edgecolors="none")
        limit = 1.05 * float(np.abs(residual).max() or 1.0)
        ax.set(ylim=(-limit, limit), xlabel=f"predicted {names[k]}",
               ylabel="residual (predicted - true)")  # fmt: skip
        rmse = float(np.sqrt(np.mean(residual**2)))
        ax.set_title(f"{split}: residuals, RMSE {rmse:.4g}", fontsize=10)
        ax.grid(alpha=0.3)
    save_png(fig, path)


def plot_fit(path, fit: FittedFunction, name: str, split: str) -> None:
    """The model's first output over the range of the data: a curve over the points for
    one input feature, a coloured map under the points (same colours) for two."""
    x, y = fit.x, fit.y[:, 0]
    if x.shape[1] == 1:
        fig = figure(7, 4.5)
        ax = add_axes(fig, 0.8, 0.55, 6.05, 3.55)
        pad = 0.02 * (x.max() - x.min() or 1.0)
        grid = np.linspace(x.min() - pad, x.max() + pad, GRID)[:, None]
        ax.scatter(x[:, 0], y, s=9, alpha=0.5, color="tab:blue", edgecolors="none",
                   label=f"{split} data")  # fmt: skip
        ax.plot(grid[:, 0], fit.predict(grid)[:, 0], color="tab:red", lw=2, label="model")
        ax.set(xlabel="x", ylabel=name, title=f"Fitted function ({split} data)")
        ax.grid(alpha=0.3)
        ax.legend()
        save_png(fig, path)
        return
    fig = figure(6.6, 5.4)
    ax = add_axes(fig, 0.75, 0.6, 4.5, 4.3)
    bar = add_axes(fig, 5.45, 0.6, 0.2, 4.3)
    (x1_low, x2_low), (x1_high, x2_high) = x.min(axis=0), x.max(axis=0)
    g1, g2 = np.meshgrid(np.linspace(x1_low, x1_high, GRID), np.linspace(x2_low, x2_high, GRID))
    surface = fit.predict(np.column_stack([g1.ravel(), g2.ravel()]))[:, 0].reshape(g1.shape)
    low, high = min(surface.min(), y.min()), max(surface.max(), y.max())
    image = ax.pcolormesh(g1, g2, surface, cmap="viridis", vmin=low, vmax=high, shading="auto")
    ax.contour(g1, g2, surface, levels=9, colors="white", linewidths=0.5, alpha=0.6)
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap="viridis", vmin=low, vmax=high, s=12,
               edgecolors="black", linewidths=0.3)  # fmt: skip
    ax.set(xlabel="x1", ylabel="x2", title=f"Model (map) and {split} data (points)")
    fig.colorbar(image, cax=bar, label=name)
    save_png(fig, path)
