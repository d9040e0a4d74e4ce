"""Plots (matplotlib, Agg) of a run -- loss, accuracy, confusion, misclassified or boundary --
and of a sweep: metrics against the swept value, loss curves per value, and the data they
show (axis scales, seed-averaged curves). The sweep engine calls these; nothing here
imports it."""

from __future__ import annotations

import contextlib
import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from mlpx.runs import (
    ACCURACY_PLOT,
    BOUNDARY_PLOT,
    CONFUSION_PLOT,
    LOSS_PLOT,
    MISCLASSIFIED_PLOT,
    STEPS,
    WEIGHTS_PLOT,
    RunDir,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from mlpx.backends import Backend
    from mlpx.data import Dataset


DPI = 110
SPLIT_NAMES = {"val": "validation", "train": "training", "test": "test"}
MISCLASSIFIED_SHOWN = 32
WEIGHTS_SHOWN = 64
TICK_PT = 10.0
"""matplotlib's default tick label size (rcParams "medium"), for laying out class names."""


def figure(width: float, height: float) -> Figure:
    """A Figure of width x height inches on its own Agg canvas.

    Outside pyplot on purpose: no backend is chosen (a user's interactive session keeps its
    own), and no global registry holds the figure, so nothing needs closing.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path, dpi: int = DPI) -> None:
    """Write ``fig`` as a PNG at ``path`` atomically: a Ctrl-C, a kill or a full disk never
    leaves half an image, and two writers of one path each leave a whole one."""
    from mlpx.atomic import atomic_path

    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")


def warm_up() -> None:
    """Import what drawing takes and load the default font: a second or more on a small
    machine, which a sweep spends in a thread while its trials train (its parent only
    waits then) instead of after the last one."""
    from matplotlib import colormaps  # noqa: F401
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    from matplotlib.figure import Figure  # noqa: F401
    from matplotlib.font_manager import FontProperties, findfont, get_font
    from matplotlib.patches import Patch  # noqa: F401
    from matplotlib.ticker import MaxNLocator  # noqa: F401

    get_font(findfont(FontProperties()))


def add_axes(fig: Figure, left: float, bottom: float, width: float, height: float) -> Axes:
    """Axes at a fixed place on the figure, in inches from its lower left corner.

    Run plots know their labels, so fixed layouts replace ``tight_layout``, which draws the
    whole figure once more only to measure it.
    """
    fig_width, fig_height = fig.get_size_inches()
    return fig.add_axes(
        (left / fig_width, bottom / fig_height, width / fig_width, height / fig_height)
    )


def text_width(texts: list[str], points: float) -> float:
    """The width in inches of the widest of ``texts`` set in the default font at ``points``."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    font = FontProperties(size=points)
    return max(text_to_path.get_text_width_height_descent(t, font, False)[0] for t in texts) / 72


def read_steps(path) -> tuple[np.ndarray, np.ndarray]:
    """(step, loss) arrays of a steps.csv file: its complete, readable rows (a torn last
    line, as a killed run leaves, or a damaged one is skipped, as
    :meth:`~mlpx.runs.RunDir.read_metrics` skips one of metrics.jsonl)."""
    steps, losses = [], []
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        rows = csv.DictReader(handle)
        with contextlib.suppress(csv.Error):  # a line csv cannot read ends the file
            for row in rows:
                try:
                    step, loss = int(row["step"]), float(row["loss"])
                except (KeyError, TypeError, ValueError):
                    continue
                steps.append(step)
                losses.append(loss)
    return np.array(steps, dtype=np.int64), np.array(losses, dtype=np.float64)


def plot_loss(path, history: list[dict[str, Any]], steps: tuple[np.ndarray, np.ndarray]) -> None:
    """Per-batch loss (faint) with per-epoch train and validation loss against epochs, and the
    learning rate on a right-hand axis when the schedule changes it."""
    rates = [r["lr"] for r in history if "lr" in r]
    scheduled = len(set(rates)) > 1 and len(rates) == len(history)
    fig = figure(7, 4.5)
    ax = add_axes(fig, 0.8, 0.55, 5.35 if scheduled else 6.05, 3.55)
    step, loss = steps
    if len(step):
        per_epoch = step.max() / max(len(history), 1)
        ax.plot(step / per_epoch, loss, color="0.75", lw=0.6, label="batch loss")
    epochs = [r["epoch"] for r in history]
    # epoch e's batches lie between e - 1 and e on this axis: their mean sits in the middle;
    # the validation loss is measured at the epoch's end
    middles = [e - 0.5 for e in epochs]
    ax.plot(middles, [r["train_loss"] for r in history], "o-", ms=3, label="train (epoch mean)")
    if history and "val_loss" in history[0]:
        ax.plot(epochs, [r["val_loss"] for r in history], "o-", ms=3, label="validation")
    mark_best_epoch(ax, history)
    ax.set(xlabel="epoch", ylabel="loss", title="Loss")
    if len(loss) and np.all(loss > 0) and loss.max() / max(loss.min(), 1e-12) > 50:
        ax.set_yscale("log")
    whole_epoch_ticks(ax)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if scheduled:  # epoch e trains from e - 1 to e on this axis, at its first step's rate
        lr_axis = ax.twinx()
        edges = [e - 1 for e in epochs] + [epochs[-1]]
        line = lr_axis.step(edges, rates + rates[-1:], where="post", color="tab:green", lw=1)
        lr_axis.set_ylabel("learning rate", color="tab:green")
        lr_axis.tick_params(axis="y", colors="tab:green")
        handles, labels = handles + line, labels + ["learning rate"]
    ax.legend(handles, labels)
    save_png(fig, path)


def accuracy_limits(values: list[float]) -> tuple[float, float]:
    """The accuracy axis zoomed to the data (0.97 and 0.99 far apart, not squashed at the
    top of 0..1), with a margin of 5% of the range (at least 0.005), within [0, 1]."""
    if not values:
        return 0.0, 1.0
    lo, hi = min(values), max(values)
    margin = max(0.05 * (hi - lo), 0.005)
    return max(0.0, lo - margin), min(1.0 + margin, hi + margin)


def mark_best_epoch(ax: Axes, history: list[dict[str, Any]]) -> None:
    """A dotted vertical line at the epoch of lowest validation loss (none without one)."""
    scored = [r for r in history if "val_loss" in r]
    if len(scored) < 2:
        return
    best = min(scored, key=lambda r: r["val_loss"])["epoch"]
    ax.axvline(best, color="0.3", ls=":", lw=1.2, label=f"best epoch ({best})")


def whole_epoch_ticks(ax: Axes) -> None:
    """Ticks of an epoch axis at whole epochs only (a run of two epochs had 1.25, 1.5...)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def plot_accuracy(path, history: list[dict[str, Any]]) -> None:
    """Train and validation accuracy per epoch."""
    fig = figure(7, 4.5)
    ax = add_axes(fig, 0.8, 0.55, 6.05, 3.55)
    epochs = [r["epoch"] for r in history]
    values = [r["train_acc"] for r in history]
    ax.plot(epochs, values, "o-", ms=3, label="train")
    if history and "val_acc" in history[0]:
        values += [r["val_acc"] for r in history]
        ax.plot(epochs, [r["val_acc"] for r in history], "o-", ms=3, label="validation")
    mark_best_epoch(ax, history)
    ax.set(xlabel="epoch", ylabel="accuracy", title="Accuracy", ylim=accuracy_limits(values))
    whole_epoch_ticks(ax)
    ax.grid(alpha=0.3)
    ax.legend()
    save_png(fig, path)


def plot_confusion(path, y_true: np.ndarray, y_pred: np.ndarray, names: list[str], split: str):
    """Confusion matrix with counts in the cells and a colour bar."""
    from mlpx.report import confusion_matrix

    matrix = confusion_matrix(y_true, y_pred, len(names))
    width = min(0.5 * len(names) + 3, 12)
    height = 0.85 * width
    fig = figure(width, height)
    names_width, line = text_width(names, TICK_PT), 1.4 * TICK_PT / 72
    bar_gap, bar_width, right = 0.15, 0.2, 0.25 + text_width([str(matrix.max())], TICK_PT)
    left = 0.45 + names_width
    # margins in inches: axis label and class names left and below, the title above, the
    # colour bar with its labels right; the names below stand upright when they do not fit
    # side by side under their cells
    for slant in (0, 90):
        bottom = 0.5 + line + (names_width if slant else line)
        side = min(width - left - bar_gap - bar_width - right, height - bottom - 0.4)
        if slant or names_width <= 0.9 * side / len(names):
            break
    ax = add_axes(fig, left, bottom, side, side)
    image = ax.imshow(matrix, cmap="Blues")
    # where fig.colorbar(image, ax=ax, shrink=0.8) puts it, without a second layout pass
    bar = add_axes(fig, left + side + bar_gap, bottom + 0.1 * side, bar_width, 0.8 * side)
    fig.colorbar(image, cax=bar)
    ticks = np.arange(len(names))
    ax.set_xticks(ticks, names, rotation=slant)
    ax.set_yticks(ticks, names)
    if len(names) <= 20:
        threshold = matrix.max() / 2
        for (i, j), count in np.ndenumerate(matrix):
            color = "white" if count > threshold else "black"
            ax.text(j, i, str(count), ha="center", va="center", color=color, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title=f"Confusion matrix ({split})")
    save_png(fig, path)


def display_image(image: np.ndarray) -> np.ndarray:
    """One image, any float or integer (H, W), (H, W, C) or (C, H, W) with C 1, 3 or 4, as
    RGB (H, W, 3) in [0, 1]: its own range stretched to [0, 1], gray for one channel, an
    alpha channel composited over white."""
    image = image.astype(np.float64)
    if image.ndim == 3 and image.shape[0] in (1, 3) and image.shape[-1] not in (1, 3):
        image = np.moveaxis(image, 0, -1)
    image = (image - image.min()) / max(np.ptp(image), 1e-12)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        return np.repeat(image[..., None], 3, axis=-1)
    if image.ndim == 3 and image.shape[-1] == 4:
        alpha = image[..., 3:]
        return image[..., :3] * alpha + (1 - alpha)
    if image.ndim == 3 and image.shape[-1] == 3:
        return image
    raise TypeError(f"Invalid shape {image.shape} for image data")


def mosaic(images: list[np.ndarray], cols: int, pad: tuple[int, int, int]) -> np.ndarray:
    """Tile RGB images (H, W, 3) row by row, ``cols`` to a row, on white: each cell has
    ``pad`` = (above, beside, below) pixels of margin, the space above for a title."""
    height, width = images[0].shape[:2]
    above, beside, below = pad
    cell_h, cell_w = above + height + below, width + 2 * beside
    rows = -(-len(images) // cols)
    out = np.ones((rows * cell_h, cols * cell_w, 3))
    for k, image in enumerate(images):
        top, left = (k // cols) * cell_h + above, (k % cols) * cell_w + beside
        out[top : top + height, left : left + width] = image
    return out


def image_grid(shown: list[np.ndarray], cols: int, cell_width: float, title_room: float):
    """Images in a grid ``cols`` cells wide with room above each for a title (``title_room``
    of an image's height), on a figure sized so the pixels stay square. Small images are
    enlarged by whole pixels so the margins can be thin. Returns the figure, its axes, inches
    per pixel and (cell height, cell width, room above, image height) in pixels."""
    zoom = -(-32 // max(shown[0].shape[:2]))
    shown = [image.repeat(zoom, axis=0).repeat(zoom, axis=1) for image in shown]
    height, width = shown[0].shape[:2]
    beside, above = round(0.06 * width), round(title_room * height)
    below = round(0.05 * height)
    tiles = mosaic(shown, cols, (above, beside, below))
    inches_per_pixel = cell_width / (width + 2 * beside)
    tiles_height = tiles.shape[0] * inches_per_pixel
    fig = figure(cols * cell_width, tiles_height + 0.4)
    ax = add_axes(fig, 0, 0, cols * cell_width, tiles_height)
    # ``tiles`` is cols cells wide even with fewer images, so the pixels stay square
    ax.imshow(tiles, interpolation="nearest", aspect="auto")
    ax.axis("off")
    return fig, ax, inches_per_pixel, (above + height + below, width + 2 * beside, above, height)


def plot_misclassified(
    path,
    images: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    names: list[str],
    image_shape: tuple[int, ...],
    total: int | None = None,
) -> None:
    """A grid, eight to a row, of misclassified images (K >= 1, ...) titled 'true ->
    predicted' from their labels (K,); ``total``: how many were misclassified in all
    (default K). With none, a run writes no such image (report.txt says so).

    One image of all of them (a mosaic) in one Axes, not an Axes per image: each Axes costs
    more to build and draw than the picture in it.
    """
    cols = 8
    shown = [display_image(image.reshape(image_shape)) for image in images]
    fig, ax, inches_per_pixel, (cell_h, cell_w, above, height) = image_grid(shown, cols, 1.3, 0.3)
    for k, (true, predicted) in enumerate(zip(y_true, y_pred, strict=True)):
        x = (k % cols) * cell_w + cell_w / 2 - 0.5
        y = (k // cols) * cell_h + 0.8 * above - 0.5
        ax.text(x, y, f"{names[true]} → {names[predicted]}", ha="center", va="bottom", fontsize=8)
    total = len(images) if total is None else total
    fig.suptitle(f"Misclassified ({total} in all, true → predicted)", fontsize=10)
    save_png(fig, path)


def plot_boundary(
    path, backend: Backend, dataset: Dataset, x: np.ndarray, y: np.ndarray, split: str = "val"
):
    """Decision regions of a 2-D classifier over its (normalised) points of ``split``, up to
    3,000 shown, with a legend of the classes' colours."""
    lo, hi = x.min(axis=0) - 0.5, x.max(axis=0) + 0.5
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 300), np.linspace(lo[1], hi[1], 300))
    grid = np.column_stack([gx.ravel(), gy.ravel()]).astype(x.dtype)
    regions = backend.predict(grid).reshape(gx.shape)
    fig = figure(6, 5.5)
    ax = add_axes(fig, 0.8, 0.55, 5.05, 4.55)
    n = dataset.n_classes
    # one band per class, coloured as its points and its legend entry
    ax.contourf(gx, gy, regions, alpha=0.3, cmap="coolwarm", levels=np.arange(n + 1) - 0.5,
                vmin=0, vmax=max(n - 1, 1))  # fmt: skip
    shown = np.random.default_rng(0).permutation(len(x))[:3000]
    ax.scatter(x[shown, 0], x[shown, 1], c=y[shown], s=4, cmap="coolwarm", edgecolors="none",
               vmin=0, vmax=max(n - 1, 1))  # fmt: skip
    from matplotlib import colormaps
    from matplotlib.lines import Line2D

    colors = colormaps["coolwarm"](np.linspace(0, 1, max(n, 2)))[:n]
    handles = [
        Line2D([], [], marker="o", ls="", color=color, label=name)
        for color, name in zip(colors, dataset.class_names, strict=True)
    ]
    ax.legend(handles=handles, title="class", fontsize=8, loc="best", framealpha=0.8)
    ax.set(
        xlabel="x1 (normalised)",
        ylabel="x2 (normalised)",
        title=f"Decision boundary and {SPLIT_NAMES.get(split, split)} points",
    )
    save_png(fig, path)


def ready_to_draw(run: RunDir) -> tuple[np.ndarray, np.ndarray]:
    """Before a run's plots are drawn side by side: its steps.csv read (a missing one stops
    it before plots/ is made), matplotlib loaded once for every child to share, plots/ made."""
    steps = read_steps(run.file(STEPS))
    warm_up()
    run.plots.mkdir(exist_ok=True)
    return steps


def plot_run(
    run: RunDir,
    history: list[dict[str, Any]],
    dataset: Dataset,
    split: str,
    predictions: np.ndarray,
    backend: Backend,
) -> None:
    """Every plot of a run into ``run.plots``, drawn side by side where there are cores
    (:func:`~mlpx.side_by_side.side_by_side`; the model is used here, before any child)."""
    from mlpx.side_by_side import side_by_side

    steps = ready_to_draw(run)
    x, y = dataset.splits()[split]
    names = dataset.class_names
    pieces = [
        lambda: plot_loss(run.plots / LOSS_PLOT, history, steps),
        lambda: plot_accuracy(run.plots / ACCURACY_PLOT, history),
        lambda: plot_confusion(run.plots / CONFUSION_PLOT, y, predictions, names, split),
    ]
    wrong = np.flatnonzero(y != predictions)
    if dataset.image_shape is not None and len(wrong):  # none wrong: report.txt says so
        shown = wrong[:MISCLASSIFIED_SHOWN]  # only these are mapped back to pixel values
        norm = dataset.normalization
        images = x[shown] * norm.scale + norm.shift
        w1 = backend.params()["W1"]
        pieces.append(
            lambda: plot_misclassified(
                run.plots / MISCLASSIFIED_PLOT,
                images,
                y[shown],
                predictions[shown],
                names,
                dataset.image_shape,
                total=len(wrong),
            )
        )
        pieces.append(lambda: plot_weights(run.plots / WEIGHTS_PLOT, w1, dataset.image_shape))
    elif dataset.n_features == 2:  # it asks the model: drawn here
        pieces.insert(
            0, lambda: plot_boundary(run.plots / BOUNDARY_PLOT, backend, dataset, x, y, split)
        )
    side_by_side(pieces)


def weight_images(w: np.ndarray, image_shape: tuple[int, ...], limit: int) -> list[np.ndarray]:
    """The incoming weights of the first ``limit`` units of a first layer w (D, H), each
    reshaped to ``image_shape`` and shown as RGB in [0, 1], its own range stretched (as the
    classic two-layer net's "visualize the weights" does)."""
    return [display_image(w[:, k].reshape(image_shape)) for k in range(min(limit, w.shape[1]))]


def plot_weights(path, w: np.ndarray, image_shape: tuple[int, ...]) -> None:
    """The first layer's weights w (D, H) as images, one per hidden unit (up to
    :data:`WEIGHTS_SHOWN`), eight to a row, titled with the unit's number."""
    cols = 8
    shown = weight_images(w, image_shape, WEIGHTS_SHOWN)
    fig, ax, inches_per_pixel, (cell_h, cell_w, above, height) = image_grid(shown, cols, 1.0, 0.25)
    for k in range(len(shown)):
        x = (k % cols) * cell_w + cell_w / 2 - 0.5
        y = (k // cols) * cell_h + 0.85 * above - 0.5
        ax.text(x, y, str(k + 1), ha="center", va="bottom", fontsize=7)
    units = w.shape[1]
    which = f"the first {len(shown)} of {units}" if units > len(shown) else f"all {units}"
    fig.suptitle(
        f"First-layer weights of {which} hidden units (each its own range, dark = low)",
        fontsize=10,
    )
    save_png(fig, path)


# --- sweeps: the data the plots show, then the plots --------------------------------------


class ValueStats(Protocol):
    """What a sweep plot needs of one value: its label, the final validation accuracy and
    loss of each completed seed, and their (mean, std) (see mlpx.groups.results)."""

    value: Any
    label: str

    @property
    def val_accs(self) -> list[float]: ...

    @property
    def val_losses(self) -> list[float]: ...

    @property
    def acc(self) -> tuple[float | None, float | None]: ...

    @property
    def loss(self) -> tuple[float | None, float | None]: ...


def axis_scale(param: str, values: list[Any]) -> str:
    """How to lay values out on the x axis: log, symlog, log2, linear or category."""
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    if not numeric or len(values) < 2 or not all(math.isfinite(v) for v in values):
        return "category"
    if min(values) < 0:
        return "linear"
    positive = [v for v in values if v > 0]
    spread = max(positive) / min(positive) if positive else 1.0
    if param in ("lr", "l1", "l2") or spread >= 100:
        return "log" if len(positive) == len(values) else "symlog"
    if all(isinstance(v, int) for v in values) and spread >= 8 and len(positive) == len(values):
        return "log2"
    return "linear"


@dataclass
class Curve:
    """One value's losses over its seeds: mean and sample standard deviation (ddof 1; NaN
    where fewer than two seeds have the point) per epoch (E,) of the training and validation
    loss, and per step (S,) of the training loss (the loss of each batch, steps.csv)."""

    label: str
    seeds: int
    epochs: np.ndarray
    train_loss: np.ndarray
    train_std: np.ndarray
    val_loss: np.ndarray | None
    val_std: np.ndarray | None
    steps: np.ndarray
    step_loss: np.ndarray
    step_std: np.ndarray


SeedRun = tuple[list[dict[str, Any]], tuple[np.ndarray, np.ndarray]]
"""One completed seed: its metrics.jsonl records and its steps.csv (step, loss) arrays."""


def mean_and_spread(xs: list[np.ndarray], ys: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Over series (x_k (n_k,), y_k (n_k,)): the union of the x (X,) and, at each, the mean
    and sample standard deviation (ddof 1) of the series that have it (NaN std below two)."""
    grid = np.unique(np.concatenate(xs)) if xs else np.zeros(0)
    table = np.full((len(xs), len(grid)), np.nan)
    for row, x, y in zip(table, xs, ys, strict=True):
        row[np.searchsorted(grid, x)] = y
    present = np.isfinite(table).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(np.where(np.isfinite(table), table, 0), axis=0) / present
        squares = np.nansum(np.where(np.isfinite(table), (table - mean) ** 2, 0), axis=0)
        std = np.where(present > 1, np.sqrt(squares / np.maximum(present - 1, 1)), np.nan)
    return grid, mean, std


def seed_curves(histories: list[tuple[str, list[SeedRun]]]) -> list[Curve]:
    """Per value, train and validation loss per epoch and training loss per step, as mean
    and sample standard deviation over its completed seeds.

    ``histories``: (value label, the completed seeds' records and steps) per value; a value
    without any record gets no curve.
    """
    curves = []
    for label, runs in histories:
        runs = [(history, steps) for history, steps in runs if history]
        if not runs:
            continue

        def series(key: str, runs=runs) -> tuple[np.ndarray, ...]:
            found = [[r for r in history if key in r] for history, _ in runs]
            xs = [np.array([r["epoch"] for r in records]) for records in found]
            ys = [np.array([r[key] for r in records], dtype=float) for records in found]
            return mean_and_spread(xs, ys)

        epochs, train, train_std = series("train_loss")
        val = val_std = None
        if "val_loss" in runs[0][0][0]:
            _, val, val_std = series("val_loss")
        steps, step_loss, step_std = mean_and_spread(
            [s for _, (s, _) in runs], [loss for _, (_, loss) in runs]
        )
        curves.append(
            Curve(
                label, len(runs), epochs, train, train_std, val, val_std, steps, step_loss,
                step_std,
            )
        )  # fmt: skip
    return curves


VALUE_TICKS = 12
"""Up to this many swept values are each a labelled tick; more, and a log axis labels its
own round numbers."""


def _value_axis(ax, scale: str, xs: np.ndarray, labels: list[str]) -> None:
    """Lay out a sweep's x axis: log for rates, symlog when 0 is among them, categories; a
    tick at every swept value, labelled as the table labels it."""
    if scale == "log":
        ax.set_xscale("log")
        if len(xs) > VALUE_TICKS:
            plain_log_ticks(ax.xaxis, float(xs.min()), float(xs.max()))
            return
    elif scale == "symlog":
        ax.set_xscale("symlog", linthresh=float(np.min(xs[xs > 0])), linscale=0.5)
    elif scale == "log2":
        ax.set_xscale("log", base=2)
    elif scale == "linear":
        return
    rotation = 30 if max(map(len, labels)) > 6 else 0
    if _crowded(ax, scale, xs, labels):  # upright labels a tick apart would overlap
        rotation = 90
    ax.set_xticks(xs, labels, rotation=rotation)
    ax.minorticks_off()


def _crowded(ax, scale: str, xs: np.ndarray, labels: list[str]) -> bool:
    """Whether two neighbouring value labels, set upright, would overlap on ``ax``: the
    values' gap on the axis against half of each label's width, and a little space."""
    if scale == "category" or len(xs) < 2:
        return False
    if scale == "symlog":
        span = np.sign(xs) * np.log10(1 + np.abs(xs) / float(np.min(np.abs(xs[xs != 0]))))
    else:
        span = np.log(xs)  # log, log2: the same places up to a scale
    order = np.argsort(span)
    span = span[order]
    width = ax.get_position().width * ax.figure.get_figwidth()  # inches
    gaps = np.diff(span) / max(float(span[-1] - span[0]), 1e-12) * width
    widths = np.array([text_width([labels[k]], TICK_PT) for k in order])
    room = (widths[:-1] + widths[1:]) / 2 + 0.05  # each label centred on its tick, a gap
    return bool(np.any(gaps < room))


def plain_log_ticks(axis, low: float, high: float) -> None:
    """Ticks of a log axis showing ``low`` to ``high``, labelled as plain numbers (0.02, not
    2 x 10^-2), without minor ticks: at 1, 2 and 5 times the powers of ten over up to two
    decades, at powers of ten (every few, over many) beyond. matplotlib's default typesets
    every label as math and makes a tick object per minor tick, which took most of a sweep
    plot's second."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    decades = np.log10(high / low) if 0 < low < high else 0.0
    subs = (1.0, 2.0, 5.0) if decades <= 2 else (1.0,)
    axis.set_major_locator(LogLocator(subs=subs, numticks=9))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_locator(NullLocator())


SWEEP_PANELS = (
    ("validation accuracy", "val_accs", "acc"),
    ("validation loss", "val_losses", "loss"),
)
"""The panels of a sweep plot: title, then the names of a value's per-seed points and of its
(mean, std) (see :class:`ValueStats`)."""
REGRESSION_PANELS = (("validation R²", "val_r2s", "r2"), SWEEP_PANELS[1])
"""A sweep of regressions shows R² in place of accuracy."""


def plot_sweep(
    path,
    param: str,
    summaries: list[ValueStats],
    scale: str,
    seeds: int,
    panels: tuple[tuple[str, str, str], ...] = SWEEP_PANELS,
) -> None:
    """Final validation accuracy and loss (``panels``) against the swept value.

    Each value's completed seeds are dots, their mean a line (error bars for categories) with
    a band of +-1 standard deviation; a value with no completed trial is a red dotted line;
    a star marks the best value (highest mean accuracy; a regression: lowest loss) on both
    panels.
    ``scale`` is one of log, symlog, log2, linear, category (see :func:`axis_scale`).
    """
    labels = [s.label for s in summaries]
    category = scale == "category"
    xs = np.arange(len(summaries), dtype=float)
    if not category:
        xs = np.array([float(s.value) for s in summaries])
    fig = figure(11, 4.3)
    # fixed places (tight_layout draws the figure once more to measure it): room for the
    # y tick labels and label on the left of each panel, rotated value labels below
    axes = [add_axes(fig, left, 0.95, 4.35, 2.6) for left in (0.8, 6.15)]
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
        if ok.any():  # the best value: highest mean accuracy (a regression: lowest loss)
            accs = np.array([np.nan if s.acc[0] is None else s.acc[0] for s in summaries])
            losses = np.array([np.nan if s.loss[0] is None else s.loss[0] for s in summaries])
            best = int(np.nanargmin(losses)) if not np.isfinite(accs).any() else 0
            if np.isfinite(accs).any():  # equal accuracies: the lower loss, as the table ranks
                top = np.flatnonzero(accs == np.nanmax(accs))
                tied = losses[top]
                best = int(top[np.nanargmin(tied)] if np.isfinite(tied).any() else top[0])
            ax.plot(xs[best], mean[best], "*", ms=16, color="tab:orange", mec="black", zorder=5,
                    label=f"best: {labels[best]}")  # fmt: skip
        _value_axis(ax, scale, xs, labels)
        ax.set(xlabel=param, ylabel=f"final {title}", title=title[:1].upper() + title[1:])
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Sweep of {param}: last-epoch metrics over {seeds} seed(s) per value")
    save_png(fig, path)


def plot_curves(path, param: str, curves: list[Curve]) -> None:
    """Training loss per step, training and validation loss per epoch: one line per value,
    the mean over its seeds, in a band of +-1 sample standard deviation when it has more than
    one seed."""
    from matplotlib import colormaps
    from matplotlib.patches import Patch

    fig = figure(15, 4.5)
    axes = [add_axes(fig, left, 0.6, 3.85, 3.5) for left in (0.95, 5.75, 10.55)]
    axes[2].sharey(axes[1])
    colors = colormaps["viridis"](np.linspace(0, 0.9, max(len(curves), 1)))
    for curve, color in zip(curves, colors, strict=False):
        label = f"{param}={curve.label}"
        panels = (
            (axes[0], curve.steps, curve.step_loss, curve.step_std, 0.6),
            (axes[1], curve.epochs, curve.train_loss, curve.train_std, 1.5),
            (axes[2], curve.epochs, curve.val_loss, curve.val_std, 1.5),
        )
        for ax, x, mean, std, width in panels:
            if mean is None:
                continue
            ax.plot(x, mean, color=color, lw=width, label=label)
            if curve.seeds > 1:
                ax.fill_between(x, mean - std, mean + std, color=color, alpha=0.2, lw=0)
    epoch_means = [c.train_loss for c in curves] + [
        c.val_loss for c in curves if c.val_loss is not None
    ]
    step_means = [c.step_loss for c in curves]
    log = _log_scale(epoch_means)
    titles = ("Training loss per step", "Training loss per epoch", "Validation loss per epoch")
    for ax, title, xlabel in zip(axes, titles, ("step", "epoch", "epoch"), strict=True):
        if log:
            ax.set_yscale("log")
        ax.set(xlabel=xlabel, title=title)
        whole_epoch_ticks(ax)
        ax.grid(alpha=0.3)
    # the view follows the means: a band's lower edge below 0 cannot show on a log scale
    _fit_view(axes[0], step_means, log)
    _fit_view(axes[1], epoch_means, log)
    for ax in axes[:2] if log else ():  # the third panel shares the second's y axis
        plain_log_ticks(ax.yaxis, *ax.get_ylim())
    seeds = max((c.seeds for c in curves), default=1)
    axes[0].set_ylabel("loss, mean over seeds" if seeds > 1 else "loss")
    handles, labels = axes[1].get_legend_handles_labels()
    if seeds > 1:
        handles.append(Patch(color="0.6", alpha=0.4))
        labels.append(f"± 1 sample std over {seeds} seeds")
    axes[2].legend(handles, labels, fontsize=8)
    save_png(fig, path)


def _finite_positive(series: list[np.ndarray]) -> np.ndarray:
    values = np.concatenate([np.asarray(v, dtype=float) for v in series] or [np.zeros(0)])
    return values[np.isfinite(values) & (values > 0)]


def _log_scale(series: list[np.ndarray]) -> bool:
    """Losses that span more than a factor 50 read better on a log scale."""
    values = _finite_positive(series)
    return bool(len(values)) and values.max() / values.min() > 50


def _fit_view(ax, series: list[np.ndarray], log: bool) -> None:
    """Limit the y axis to the range of ``series`` (the mean lines) with a margin."""
    values = _finite_positive(series)
    if not len(values):
        return
    low, high = values.min(), values.max()
    if log:
        ax.set_ylim(low / 1.5, high * 1.5)
    else:
        margin = 0.05 * (high - low) or 0.05 * high
        ax.set_ylim(max(low - margin, 0), high + margin)


# --- the data: samples per class (mlpx data) -----------------------------------------------


SAMPLES_PER_CLASS = 8


def class_samples(y: np.ndarray, n_classes: int, per_class: int) -> list[np.ndarray]:
    """Indices of the first ``per_class`` samples of every class, in dataset order."""
    return [np.flatnonzero(y == c)[:per_class] for c in range(n_classes)]


def plot_samples(path, dataset: Dataset, per_class: int = SAMPLES_PER_CLASS) -> None:
    """Training samples as loaded (before normalisation): the first ones, then the first
    ``per_class`` of every class. Images as a grid (a row per class), 2-D points as a
    scatter, anything else (1-D signals) as line plots, a panel per class."""
    norm = dataset.normalization
    x = dataset.x_train * norm.scale + norm.shift
    y = dataset.y_train
    if dataset.regression:
        _target_histograms(path, dataset)
    elif dataset.image_shape is not None:
        _sample_images(path, dataset, x, y, per_class)
    elif dataset.n_features == 2:
        _sample_scatter(path, dataset, x, y)
    else:
        _sample_lines(path, dataset, x, y, per_class)


def _target_histograms(path, dataset: Dataset) -> None:
    """A regression's training targets as loaded: a histogram per output."""
    targets = dataset.raw_targets["train"]
    outputs = targets.shape[1]
    fig = figure(4.5 * outputs, 3.8)
    axes = fig.subplots(1, outputs, squeeze=False)[0]
    for ax, name, column in zip(axes, dataset.class_names, targets.T, strict=True):
        ax.hist(column, bins=40, color="tab:blue", alpha=0.8)
        ax.set(xlabel=name, ylabel="training samples", title=f"Target {name}")
        ax.grid(alpha=0.3)
    fig.suptitle(f"{dataset.name}: {len(targets)} training targets", fontsize=10)
    fig.tight_layout()
    save_png(fig, path)


def _sample_images(path, dataset: Dataset, x, y, per_class: int) -> None:
    names, shape = dataset.class_names, dataset.image_shape
    rows = [np.arange(min(per_class, len(x)))]
    rows += class_samples(y, dataset.n_classes, per_class)
    shown = [display_image(x[0].reshape(shape))]
    zoom = -(-32 // max(shown[0].shape[:2]))
    blank = np.ones_like(shown[0])
    tiles = []
    for row in rows:
        cells = [display_image(x[i].reshape(shape)) for i in row]
        tiles += cells + [blank] * (per_class - len(cells))
    tiles = [t.repeat(zoom, axis=0).repeat(zoom, axis=1) for t in tiles]
    height, width = tiles[0].shape[:2]
    beside, above, below = round(0.06 * width), round(0.25 * height), round(0.05 * height)
    grid = mosaic(tiles, per_class, (above, beside, below))
    first = f"first {per_class}"
    label_width = max(1.0, text_width([first, *names], 9) + 0.2)
    cell_width, title_height = 0.9, 0.45
    inches_per_pixel = cell_width / (width + 2 * beside)
    grid_height = grid.shape[0] * inches_per_pixel
    fig = figure(label_width + per_class * cell_width, grid_height + title_height)
    ax = add_axes(fig, label_width, 0, per_class * cell_width, grid_height)
    ax.imshow(grid, interpolation="nearest", aspect="auto")
    ax.axis("off")
    cell_h, cell_w = above + height + below, width + 2 * beside
    for r, label in enumerate([first, *names]):
        ax.text(
            -beside, r * cell_h + above + height / 2, label, ha="right", va="center", fontsize=9
        )
    for k, i in enumerate(rows[0]):
        ax.text(
            k * cell_w + cell_w / 2, 0.9 * above, names[y[i]], ha="center", va="bottom", fontsize=8
        )
    fig.suptitle(
        f"{dataset.name}: training samples, first row in order, then {per_class} per class",
        fontsize=10,
    )
    save_png(fig, path)


def _sample_scatter(path, dataset: Dataset, x, y) -> None:
    fig = figure(6.5, 5.5)
    ax = add_axes(fig, 0.8, 0.55, 4.3, 4.55)
    shown = np.random.default_rng(0).permutation(len(x))[:3000]
    for c, name in enumerate(dataset.class_names):
        mine = shown[y[shown] == c]
        ax.scatter(x[mine, 0], x[mine, 1], s=6, edgecolors="none", label=name)
    ax.scatter(x[0, 0], x[0, 1], s=120, marker="*", color="black", label="first sample")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8, frameon=False)
    ax.set(
        xlabel="x1",
        ylabel="x2",
        title=f"{dataset.name}: {len(shown)} of {len(x)} training samples by class",
    )
    save_png(fig, path)


def _sample_lines(path, dataset: Dataset, x, y, per_class: int) -> None:
    names = dataset.class_names
    panels = [("first sample: class " + names[y[0]], np.array([0]))]
    panels += [
        (f"class {name}", idx)
        for name, idx in zip(names, class_samples(y, dataset.n_classes, per_class), strict=True)
    ]
    cols = 4
    rows = -(-len(panels) // cols)
    fig = figure(3.2 * cols, 2.2 * rows + 0.5)
    fig.subplots_adjust(left=0.05, right=0.98, bottom=0.06, top=1 - 0.5 / (2.2 * rows + 0.5))
    fig.subplots_adjust(hspace=0.45, wspace=0.25)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    features = np.arange(x.shape[1])
    for ax, (title, idx) in zip(axes.flat, panels, strict=False):
        for i in idx:
            ax.plot(features, x[i], linewidth=0.8)
        ax.set_title(title, fontsize=9)
    for ax in axes.flat[len(panels) :]:
        ax.axis("off")
    fig.suptitle(
        f"{dataset.name}: training samples ({per_class} per class) against the feature index",
        fontsize=10,
    )
    save_png(fig, path)
