"""Run plots: every file written, readable, of a sensible size, showing what it should."""

from __future__ import annotations

import matplotlib.image as mpimg
import numpy as np
import pytest
from conftest import mlpx_imports

from mlpx import plots, side_by_side

NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def read_png(path) -> np.ndarray:
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    return mpimg.imread(path)


def test_loss_and_accuracy_plots(tmp_path):
    history = [
        {
            "epoch": e,
            "train_loss": 2 / e,
            "val_loss": 2.2 / e,
            "train_acc": 1 - 1 / e,
            "val_acc": 0.9,
        }
        for e in range(1, 11)
    ]
    steps = (np.arange(1, 101), np.geomspace(3, 0.01, 100))  # spans decades: a log axis
    plots.plot_loss(tmp_path / "loss.png", history, steps)
    plots.plot_accuracy(tmp_path / "accuracy.png", history)
    for name in ("loss", "accuracy"):
        assert read_png(tmp_path / f"{name}.png").shape[:2] == (495, 770)  # 7 x 4.5 in at 110 dpi


@pytest.mark.parametrize("classes", [3, 10, 12])
def test_confusion_plot_of_any_number_of_classes(tmp_path, classes):
    rng = np.random.default_rng(0)
    names = (NAMES + ["T-shirt/top", "Ankle boot"])[:classes]
    y_true = rng.integers(0, classes, 400)
    y_pred = np.where(rng.random(400) < 0.7, y_true, rng.integers(0, classes, 400))
    plots.plot_confusion(tmp_path / "confusion.png", y_true, y_pred, names, "val")
    image = read_png(tmp_path / "confusion.png")
    width = 110 * min(0.5 * classes + 3, 12)
    assert image.shape[1] == round(width) and abs(image.shape[0] - 0.85 * width) < 1
    # the darkest cell of the Blues colour map is there: the matrix was drawn
    assert (image[..., 2] < 0.5).sum() > 100


@pytest.mark.parametrize("shape", [(32, 32, 3), (3, 32, 32)])
def test_misclassified_mosaic_shows_each_wrong_image(tmp_path, shape):
    rng = np.random.default_rng(0)
    n = 20
    images = rng.random((n, *shape)) * 0.05
    # every image carries a pure red square, which nothing else in the plot has
    if shape[-1] == 3:
        images[:, 4:12, 4:12, 0] = 1
    else:
        images[:, 0, 4:12, 4:12] = 1
    y_true = np.arange(n) % 10
    y_pred = (y_true + 1) % 10
    # 11 shown of 20 wrong: a row of 8, then 3
    args = (images[:11], y_true[:11], y_pred[:11], NAMES, shape)
    plots.plot_misclassified(tmp_path / "wrong.png", *args, total=n)
    image = read_png(tmp_path / "wrong.png")
    assert image.shape[1] == round(110 * 8 * 1.3)
    red = (image[..., 0] > 0.9) & (image[..., 1] < 0.1) & (image[..., 2] < 0.1)

    def runs(mask: np.ndarray) -> int:
        """How many separate runs of True a 1-D mask has."""
        return int(np.count_nonzero(np.diff(mask.astype(int)) == 1) + mask[0])

    assert runs(red.any(axis=0)) == 8 and runs(red.any(axis=1)) == 2
    assert runs(red[:, red.any(axis=0)].any(axis=0)) == 1
    first_row_end = np.flatnonzero(red.any(axis=1))[0] + 50
    assert runs(red[first_row_end:].any(axis=0)) == 3


def test_gray_images_are_stretched_to_their_own_range():
    image = np.array([[2.0, 4.0], [6.0, 10.0]])
    shown = plots.display_image(image)
    assert shown.shape == (2, 2, 3)
    np.testing.assert_array_equal(shown[..., 0], [[0, 0.25], [0.5, 1]])
    assert np.array_equal(shown[..., 0], shown[..., 2])
    np.testing.assert_array_equal(plots.display_image(image[None]), shown)  # (1, H, W)
    np.testing.assert_array_equal(plots.display_image(image[..., None]), shown)  # (H, W, 1)


def test_mosaic_puts_images_row_by_row_with_margins():
    images = [np.full((2, 3, 3), k / 10) for k in range(5)]
    tiles = plots.mosaic(images, cols=2, pad=(1, 1, 0))  # cells of 3 x 5 pixels
    assert tiles.shape == (3 * 3, 2 * 5, 3)
    assert np.all(tiles[4:6, 6:9] == 0.3) and np.all(tiles[7:9, 1:4] == 0.4)
    assert np.all(tiles[0] == 1) and np.all(tiles[:, 0] == 1)  # margins are white
    assert np.all(tiles[6:, 5:] == 1)  # the cell after the last image is blank


def test_a_run_with_nothing_misclassified_has_no_blank_image_but_a_report_line(cli, tmp_path):
    rng = np.random.default_rng(0)
    y = np.arange(200) % 2
    x = y[:, None, None] * 4.0 + rng.normal(0, 0.1, (200, 4, 4))  # 4x4 images: dark or light
    data = tmp_path / "easy.npz"
    np.savez(data, data_x=x, data_y=y)
    cli.train("configs/digits.yaml", "data.name=npz", f"data.path={data}", "train.epochs=20",
              "optimizer.lr=0.01")  # fmt: skip
    run = cli.last_run()
    summary = (run / "summary.json").read_text()
    assert '"val_acc": 1.0' in summary
    assert sorted(p.name for p in (run / "plots").iterdir()) == [
        "accuracy.png", "confusion.png", "loss.png"
    ]  # fmt: skip
    report = (run / "report.txt").read_text()
    assert report.endswith("No val sample is misclassified (so there is no misclassified.png)\n")


def test_a_run_shows_its_first_32_misclassified_of_all(cli, monkeypatch):
    shown = {}

    def capture(path, images, y_true, y_pred, names, image_shape, total=None):
        shown.update(images=images, y_true=y_true, y_pred=y_pred, total=total)

    monkeypatch.setattr(plots, "plot_misclassified", capture)
    monkeypatch.setattr(side_by_side, "usable_cores", lambda: 1)  # captured in this process
    cli.train("configs/digits.yaml", "backend=numpy", "train.epochs=1", "optimizer.lr=1e-4")
    report = (cli.last_run() / "report.txt").read_text().split("predicted)\n")[1]
    report = report.split("\n\n")[0]
    matrix = np.array([line.split()[1:] for line in report.splitlines()[1:]], dtype=int)
    wrong = matrix.sum() - np.trace(matrix)
    assert shown["total"] == wrong > 32  # an epoch at a small rate gets many wrong
    assert shown["images"].shape == (32, 64) and np.all(shown["y_true"] != shown["y_pred"])
    # in pixel values again, 0..16, not normalised
    assert shown["images"].min() == pytest.approx(0, abs=1e-5)
    assert shown["images"].max() == pytest.approx(16, abs=1e-4)


def test_images_of_no_displayable_shape_are_refused():
    with pytest.raises(TypeError, match="Invalid shape"):
        plots.display_image(np.zeros((5, 6, 7)))


def test_train_path_imports_neither_scikit_learn_nor_pyplot(tmp_path):
    _, imported = mlpx_imports(
        "train",
        "configs/digits.yaml",
        "-s",
        "backend=numpy",
        "-s",
        "train.epochs=2",
        "--runs-dir",
        str(tmp_path),
    )
    assert "matplotlib.figure" in imported  # the plots were made
    assert not imported & {"sklearn", "scipy", "matplotlib.pyplot"}
    run = next(tmp_path.iterdir())
    assert sorted(p.name for p in (run / "plots").iterdir()) == [
        "accuracy.png",
        "confusion.png",
        "loss.png",
        "misclassified.png",
        "weights.png",
    ]


def test_weight_images_are_the_columns_of_the_first_layer_each_stretched():
    w = np.arange(64 * 3, dtype=float).reshape(64, 3) ** 2  # 3 hidden units of 8x8 inputs
    images = plots.weight_images(w, (8, 8), limit=2)
    assert len(images) == 2
    for k, image in enumerate(images):
        column = w[:, k].reshape(8, 8)
        expected = (column - column.min()) / (column.max() - column.min())
        np.testing.assert_allclose(image, np.repeat(expected[..., None], 3, axis=-1))


def test_a_run_on_images_draws_its_model_first_layer_weights(cli, monkeypatch):
    drawn = {}
    real = plots.plot_weights

    def capture(path, w, image_shape):
        drawn.update(w=w, image_shape=image_shape)
        real(path, w, image_shape)

    monkeypatch.setattr(plots, "plot_weights", capture)
    monkeypatch.setattr(side_by_side, "usable_cores", lambda: 1)  # captured in this process
    cli.train("configs/digits.yaml", "backend=numpy", "train.epochs=2", "model.hidden=[70]")
    run = cli.last_run()
    with np.load(run / "model.npz") as model:
        np.testing.assert_array_equal(drawn["w"], model["W1"])
    assert drawn["image_shape"] == (8, 8)
    image = read_png(run / "plots" / "weights.png")
    assert image.shape[1] == 880  # eight 1-inch cells at 110 dpi
    # 64 of 70 units shown: eight rows of cells 42 pixels high (8x8 enlarged 4 times, margins
    # of 8 above and 2 below) and 36 wide (2 beside), 1 inch wide, under a 0.4-inch title
    assert abs(image.shape[0] - 110 * (8 * 42 / 36 + 0.4)) < 1  # 7 rows would be 128 less


def test_points_get_no_weights_plot(cli):
    cli.train("configs/synth.yaml", "train.epochs=1", "data.limit=500")
    assert not (cli.last_run() / "plots" / "weights.png").exists()


FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Ankle boot"]  # fmt: skip


def capture_figures(monkeypatch) -> list:
    """Keep every Figure the plots make, to look at what they drew."""
    made = []
    make = plots.figure

    def keep(width, height):
        made.append(make(width, height))
        return made[-1]

    monkeypatch.setattr(plots, "figure", keep)
    return made


@pytest.mark.parametrize("names", [NAMES, FASHION, NAMES + ["T-shirt/top", "Ankle boot"]])
def test_class_names_on_the_confusion_matrix_never_overlap(tmp_path, monkeypatch, names):
    made = capture_figures(monkeypatch)
    rng = np.random.default_rng(0)
    y = rng.integers(0, len(names), 300)
    path = tmp_path / "confusion.png"
    plots.plot_confusion(path, y, y, names, "val")
    (fig,) = made
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    boxes = [label.get_window_extent(renderer) for label in ax.get_xticklabels()]
    assert [label.get_text() for label in ax.get_xticklabels()] == names
    for left, right in zip(boxes, boxes[1:], strict=False):
        assert left.x1 <= right.x0  # side by side, never over each other
    width, height = fig.canvas.get_width_height()
    for box in boxes + [label.get_window_extent(renderer) for label in ax.get_yticklabels()]:
        assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height
    read_png(path)


def test_loss_and_accuracy_show_where_things_are(tmp_path, monkeypatch):
    made = capture_figures(monkeypatch)
    history = [
        {"epoch": e, "train_loss": 1 / e, "val_loss": abs(e - 6) + 0.1,
         "train_acc": 0.95 + e / 1000, "val_acc": 0.97 + e / 1000}
        for e in range(1, 11)
    ]  # fmt: skip
    steps = (np.arange(1, 41), np.linspace(2, 0.1, 40))
    plots.plot_loss(tmp_path / "loss.png", history, steps)
    plots.plot_accuracy(tmp_path / "accuracy.png", history)
    loss_ax, acc_ax = made[0].axes[0], made[1].axes[0]
    lines = {line.get_label(): line for line in loss_ax.get_lines()}
    # the epoch mean of epoch e's batches (drawn between e - 1 and e) in its middle
    assert list(lines["train (epoch mean)"].get_xdata()) == [e - 0.5 for e in range(1, 11)]
    assert list(lines["validation"].get_xdata()) == list(range(1, 11))
    assert list(lines["best epoch (6)"].get_xdata()) == [6, 6]
    assert "best epoch (6)" in [line.get_label() for line in acc_ax.get_lines()]
    lo, hi = acc_ax.get_ylim()
    assert 0.94 < lo < 0.951 and 0.98 < hi < 0.99  # zoomed to 0.951..0.98, not 0..1


def test_the_boundary_plot_names_its_classes_and_split(tmp_path, monkeypatch):
    from types import SimpleNamespace

    made = capture_figures(monkeypatch)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 2))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 1)

    class ByQuadrant:
        def predict(self, grid):
            return (grid[:, 0] > 0).astype(int) + (grid[:, 1] > 1)

    dataset = SimpleNamespace(n_classes=3, class_names=["left", "right", "top"])
    plots.plot_boundary(tmp_path / "boundary.png", ByQuadrant(), dataset, x, y, "val")
    ax = made[0].axes[0]
    legend = ax.get_legend()
    assert [text.get_text() for text in legend.get_texts()] == ["left", "right", "top"]
    assert ax.get_title() == "Decision boundary and validation points"
    read_png(tmp_path / "boundary.png")


def test_the_sweep_plot_stars_the_best_value(tmp_path, monkeypatch):
    from types import SimpleNamespace

    made = capture_figures(monkeypatch)

    def stats(value, accs, losses):
        mean = lambda xs: (float(np.mean(xs)), float(np.std(xs, ddof=1)))  # noqa: E731
        return SimpleNamespace(value=value, label=f"{value:g}", val_accs=accs,
                               val_losses=losses, acc=mean(accs), loss=mean(losses))  # fmt: skip

    summaries = [stats(0.1, [0.90, 0.92], [0.4, 0.5]), stats(0.01, [0.97, 0.96], [0.1, 0.12]),
                 stats(0.001, [0.93, 0.94], [0.3, 0.2])]  # fmt: skip
    plots.plot_sweep(tmp_path / "sweep.png", "lr", summaries, "log", 2)
    for ax, expected in zip(made[0].axes, (0.965, 0.11), strict=True):
        (star,) = [line for line in ax.get_lines() if line.get_label().startswith("best")]
        assert star.get_label() == "best: 0.01"
        assert list(star.get_xdata()) == [0.01]
        assert star.get_ydata()[0] == pytest.approx(expected)
    read_png(tmp_path / "sweep.png")


def test_a_png_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    path = tmp_path / "loss.png"
    fig = plots.figure(2, 2)
    plots.save_png(fig, path)
    before = path.read_bytes()
    assert before.startswith(b"\x89PNG") and read_png(path).shape == (220, 220, 4)
    real = Figure.savefig

    def interrupted(self, fname, **kwargs):  # Ctrl-C halfway through writing
        real(self, fname, **kwargs)
        with open(fname, "r+b") as handle:
            handle.truncate(100)
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", interrupted)
    fig.add_subplot().plot([1, 2])
    with pytest.raises(KeyboardInterrupt):
        plots.save_png(fig, path)
    assert path.read_bytes() == before  # the old image, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png"]  # no temporary file


def test_steps_csv_rows_that_cannot_be_read_are_skipped_as_a_torn_metrics_line_is(tmp_path):
    path = tmp_path / "steps.csv"
    path.write_text("step,epoch,loss\n1,1,0.5\n2,1,abc\n3,1,0.25\n4,1\n5,1,0.125\n6")
    steps, losses = plots.read_steps(path)
    assert steps.tolist() == [1, 3, 5] and losses.tolist() == [0.5, 0.25, 0.125]
    assert steps.dtype == np.int64 and losses.dtype == np.float64
    path.write_text("foo,bar\n1,2\n")  # not a steps.csv: nothing to draw from it
    assert [a.tolist() for a in plots.read_steps(path)] == [[], []]
    path.write_bytes(b"step,epoch,loss\n1,1,0.5\n\xff\xfe,\x00\n")
    assert [a.tolist() for a in plots.read_steps(path)] == [[1], [0.5]]


def test_mlpx_plot_of_a_run_without_steps_csv_is_one_line_and_makes_no_plots_folder(cli):
    cli.train("configs/digits.yaml", "backend=numpy", "train.epochs=1", "output.plots=false")
    run = cli.last_run()
    (run / "steps.csv").unlink()
    (line,) = cli("plot", run, expect=2).output.strip().splitlines()
    assert line.startswith("error: ") and "steps.csv" in line
    assert not (run / "plots").exists()


def test_value_labels_too_close_to_sit_side_by_side_stand_upright():
    """A sweep of 0.01, 0.1 and 1e12 put '0.01' and '0.1' into each other ('0.010.1');
    the default grids keep their labels level."""
    fig = plots.figure(11, 4.3)
    ax = plots.add_axes(fig, 0.8, 0.95, 4.35, 2.6)  # a sweep plot's panel
    xs = np.array([0.01, 0.1, 1e12])
    plots._value_axis(ax, "log", xs, ["0.01", "0.1", "1e+12"])
    assert {label.get_rotation() for label in ax.get_xticklabels()} == {90.0}
    # their boxes, once drawn, no longer overlap
    fig.canvas.draw()
    boxes = [label.get_window_extent() for label in ax.get_xticklabels()]
    assert boxes[0].x1 <= boxes[1].x0
    for xs, labels, scale in [
        ([1e-1, 1e-2, 1e-3, 1e-4, 1e-5], ["0.1", "0.01", "0.001", "0.0001", "1e-05"], "log"),
        ([16, 32, 64, 128, 256, 512], ["16", "32", "64", "128", "256", "512"], "log2"),
    ]:
        ax = plots.add_axes(plots.figure(11, 4.3), 0.8, 0.95, 4.35, 2.6)
        plots._value_axis(ax, scale, np.array(xs, dtype=float), labels)
        assert {label.get_rotation() for label in ax.get_xticklabels()} == {0.0}
