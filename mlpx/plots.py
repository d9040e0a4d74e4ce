"""Plots (matplotlib, Agg) of a run -- loss, accuracy, confusion, misclassified or boundary --
and of a sweep: metrics against the swept value, loss curves per value."""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mlpx.backends import Backend
    from mlpx.data import Dataset
    from mlpx.runs import RunDir
    from mlpx.sweep import Curve, ValueSummary


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def read_steps(path) -> tuple[np.ndarray, np.ndarray]:
    """(step, loss) arrays of a steps.csv file."""
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return np.array([int(r["step"]) for r in rows]), np.array([float(r["loss"]) for r in rows])


def plot_loss(path, history: list[dict[str, Any]], steps: tuple[np.ndarray, np.ndarray]) -> None:
    """Per-batch loss (faint) with per-epoch train and validation loss against epochs."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    step, loss = steps
    if len(step):
        per_epoch = step.max() / max(len(history), 1)
        ax.plot(step / per_epoch, loss, color="0.75", lw=0.6, label="batch loss")
    epochs = [r["epoch"] for r in history]
    ax.plot(epochs, [r["train_loss"] for r in history], "o-", ms=3, label="train (epoch mean)")
    if history and "val_loss" in history[0]:
        ax.plot(epochs, [r["val_loss"] for r in history], "o-", ms=3, label="validation")
    ax.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    if len(loss) and np.all(loss > 0) and loss.max() / max(loss.min(), 1e-12) > 50:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_accuracy(path, history: list[dict[str, Any]]) -> None:
    """Train and validation accuracy per epoch."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    epochs = [r["epoch"] for r in history]
    ax.plot(epochs, [r["train_acc"] for r in history], "o-", ms=3, label="train")
    if history and "val_acc" in history[0]:
        ax.plot(epochs, [r["val_acc"] for r in history], "o-", ms=3, label="validation")
    ax.set(xlabel="epoch", ylabel="accuracy", title="Accuracy", ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusion(path, y_true: np.ndarray, y_pred: np.ndarray, names: list[str], split: str):
    """Confusion matrix with counts in the cells."""
    from sklearn.metrics import confusion_matrix

    plt = pyplot()
    matrix = confusion_matrix(y_true, y_pred, labels=list(range(len(names))))
    size = min(0.5 * len(names) + 3, 12)
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    image = ax.imshow(matrix, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ticks = np.arange(len(names))
    ax.set_xticks(ticks, names, rotation=45 if len(names) > 10 else 0)
    ax.set_yticks(ticks, names)
    if len(names) <= 20:
        threshold = matrix.max() / 2
        for (i, j), count in np.ndenumerate(matrix):
            color = "white" if count > threshold else "black"
            ax.text(j, i, str(count), ha="center", va="center", color=color, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=f"Confusion matrix ({split})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_misclassified(
    path, images: np.ndarray, y_true, y_pred, names: list[str], image_shape, limit: int = 32
):
    """A grid of up to ``limit`` misclassified images titled 'true -> predicted'."""
    plt = pyplot()
    wrong = np.flatnonzero(y_true != y_pred)[:limit]
    cols = 8
    rows = max(1, -(-len(wrong) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.3, rows * 1.5 + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, index in zip(axes.flat, wrong, strict=False):
        image = images[index].reshape(image_shape).astype(np.float64)
        if image.ndim == 3 and image.shape[0] in (1, 3) and image.shape[-1] not in (1, 3):
            image = np.moveaxis(image, 0, -1)
        image = (image - image.min()) / max(np.ptp(image), 1e-12)
        ax.imshow(image.squeeze(), cmap="gray" if image.ndim == 2 or image.shape[-1] == 1 else None)
        ax.set_title(f"{names[y_true[index]]} → {names[y_pred[index]]}", fontsize=8)
    title = f"Misclassified ({len(np.flatnonzero(y_true != y_pred))} in all, true → predicted)"
    fig.suptitle(title if len(wrong) else "No misclassified samples", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_boundary(path, backend: Backend, dataset: Dataset, x: np.ndarray, y: np.ndarray):
    """Decision regions of a 2-D classifier over its (normalised) points, up to 3,000 shown."""
    plt = pyplot()
    lo, hi = x.min(axis=0) - 0.5, x.max(axis=0) + 0.5
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300))
    grid = np.column_stack([gx.ravel(), gy.ravel()]).astype(x.dtype)
    regions = backend.predict(grid).reshape(gx.shape)
    fig, ax = plt.subplots(figsize=(6, 5.5))
    ax.contourf(gx, gy, regions, alpha=0.3, cmap="coolwarm", levels=dataset.n_classes - 1 or 1)
    shown = np.random.default_rng(0).permutation(len(x))[:3000]
    ax.scatter(x[shown, 0], x[shown, 1], c=y[shown], s=4, cmap="coolwarm", edgecolors="none")
    ax.set(xlabel="x1 (normalised)", ylabel="x2 (normalised)", title="Decision boundary")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_run(
    run: RunDir,
    history: list[dict[str, Any]],
    dataset: Dataset,
    split: str,
    predictions: np.ndarray,
    backend: Backend,
) -> None:
    """Every plot of a run into ``run.plots``."""
    run.plots.mkdir(exist_ok=True)
    plot_loss(run.plots / "loss.png", history, read_steps(run.file("steps.csv")))
    plot_accuracy(run.plots / "accuracy.png", history)
    x, y = dataset.splits()[split]
    plot_confusion(run.plots / "confusion.png", y, predictions, dataset.class_names, split)
    if dataset.image_shape is not None:
        norm = dataset.normalization
        plot_misclassified(
            run.plots / "misclassified.png",
            x * norm.scale + norm.shift,
            y,
            predictions,
            dataset.class_names,
            dataset.image_shape,
        )
    elif dataset.n_features == 2:
        plot_boundary(run.plots / "boundary.png", backend, dataset, x, y)


def _value_axis(ax, scale: str, xs: np.ndarray, labels: list[str]) -> None:
    """Lay out a sweep's x axis: log for rates, symlog when 0 is among them, categories."""
    if scale == "log":
        ax.set_xscale("log")
        return
    if scale == "symlog":
        ax.set_xscale("symlog", linthresh=float(np.min(xs[xs > 0])), linscale=0.5)
    elif scale == "log2":
        ax.set_xscale("log", base=2)
    elif scale == "linear":
        return
    ax.set_xticks(xs, labels, rotation=30 if max(map(len, labels)) > 6 else 0)
    ax.minorticks_off()


def plot_sweep(path, param: str, summaries: list[ValueSummary], scale: str, seeds: int) -> None:
    """Final validation accuracy and loss against the swept value.

    Each value's completed seeds are dots, their mean a line (error bars for categories) with
    a band of +-1 standard deviation; a value with no completed trial is a red dotted line.
    ``scale`` is one of log, symlog, log2, linear, category (see ``sweep.axis_scale``).
    """
    plt = pyplot()
    labels = [s.label for s in summaries]
    category = scale == "category"
    xs = np.arange(len(summaries), dtype=float)
    if not category:
        xs = np.array([float(s.value) for s in summaries])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    panels = (("validation accuracy", "val_accs", "acc"), ("validation loss", "val_losses", "loss"))
    for ax, (title, points, stat) in zip(axes, panels, strict=True):
        mean = np.array(
            [np.nan if getattr(s, stat)[0] is None else getattr(s, stat)[0] for s in summaries]
        )
        std = np.array(
            [np.nan if getattr(s, stat)[1] is None else getattr(s, stat)[1] for s in summaries]
        )
        for k, summary in enumerate(summaries):
            ys = getattr(summary, points)
            ax.plot(
                [xs[k]] * len(ys), ys, ".", color="0.55", ms=5, label="one seed" if k == 0 else None
            )
        ok = np.isfinite(mean)
        if category:
            ax.errorbar(
                xs[ok], mean[ok], yerr=std[ok], fmt="o", ms=6, capsize=5, label="mean ± 1 std"
            )
        else:
            ax.plot(xs[ok], mean[ok], "o-", ms=5, label="mean")
            ax.fill_between(xs[ok], (mean - std)[ok], (mean + std)[ok], alpha=0.25, label="± 1 std")
        for k, x in enumerate(xs[~ok]):
            ax.axvline(
                x, color="tab:red", ls=":", lw=1.5, label="no completed trial" if k == 0 else None
            )
        _value_axis(ax, scale, xs, labels)
        ax.set(xlabel=param, ylabel=f"final {title}", title=title.capitalize())
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Sweep of {param}: last-epoch metrics over {seeds} seed(s) per value")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_curves(path, param: str, curves: list[Curve]) -> None:
    """Train and validation loss per epoch, one seed-averaged line per value."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3), sharey=True)
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, max(len(curves), 1)))
    for curve, color in zip(curves, colors, strict=False):
        axes[0].plot(curve.epochs, curve.train_loss, color=color, label=f"{param}={curve.label}")
        if curve.val_loss is not None:
            axes[1].plot(curve.epochs, curve.val_loss, color=color, label=f"{param}={curve.label}")
    losses = np.array([v for c in curves for v in c.train_loss + (c.val_loss or [])], dtype=float)
    losses = losses[np.isfinite(losses) & (losses > 0)]
    for ax, title in zip(axes, ("Training loss", "Validation loss"), strict=True):
        if len(losses) and losses.max() / losses.min() > 50:
            ax.set_yscale("log")
        ax.set(xlabel="epoch", title=title)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("cross-entropy loss (mean over seeds)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
