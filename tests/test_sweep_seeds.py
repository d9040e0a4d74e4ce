"""Sweeps over seeds: train and validation side by side, test metrics, the ★'s tie-break,
and mean ± std bands per epoch and per step, checked against the trials' own files."""

from __future__ import annotations

import csv
import json
import shutil
import statistics
from pathlib import Path

import numpy as np
import pytest
from conftest import Cli

from mlpx import plots, side_by_side
from mlpx.groups.results import COLUMNS


def blobs(path: Path, seed: int = 0) -> Path:
    """Three far-apart Gaussian blobs in 6-D (every model separates them: accuracy 1.0),
    300 labelled samples and a labelled test set of 90."""
    rng = np.random.default_rng(seed)
    centres = 10 * rng.standard_normal((3, 6))
    y = np.arange(390) % 3
    x = centres[y] + rng.standard_normal((390, 6))
    np.savez(path, data_x=x[:300], data_y=y[:300], test_x=x[300:], test_y=y[300:])
    return path


def read_rows(sweep_dir: Path) -> tuple[list[str], list[dict]]:
    with open(sweep_dir / "results.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames), list(reader)


def history(trial: Path) -> list[dict]:
    return [json.loads(line) for line in (trial / "metrics.jsonl").read_text().splitlines()]


# what the sweep below drew: curves.png's curves and sweep.png's arguments, as given
DRAWN: dict[str, list] = {}


@pytest.fixture(scope="module")
def seeds_sweep(tmp_path_factory) -> tuple[Path, str]:
    """lr 0.001 and 0.05 (in that order) x 2 seeds on the blobs, 4 epochs. Its plots are
    drawn in this process, one after the other, and what they were given kept in DRAWN."""
    root = tmp_path_factory.mktemp("seeds")
    data = blobs(root / "blobs.npz")
    cli = Cli(root / "runs")
    draw = plots.plot_curves

    def plot_curves(path, param, curves):
        DRAWN["curves"] = curves
        draw(path, param, curves)

    draw_sweep = plots.plot_sweep

    def plot_sweep(path, param, summaries, scale, seeds, panels=plots.SWEEP_PANELS):
        DRAWN["sweep"] = (path.name, param, [s.value for s in summaries], scale, seeds, panels)
        draw_sweep(path, param, summaries, scale, seeds, panels)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plots, "plot_curves", plot_curves)
        patch.setattr(plots, "plot_sweep", plot_sweep)
        patch.setattr(side_by_side, "side_by_side", lambda pieces: [piece() for piece in pieces])
        result = cli(
            "sweep", "lr", "--values", "0.001,0.05", "--seeds", "2", "--jobs", "2",
            "--config", "configs/npz-challenge.yaml", "-s", f"data.path={data}",
            "-s", "train.epochs=4", "-s", "backend=numpy", "-s", "train.early_stopping=null",
            "--runs-dir", cli.runs_dir,
        )  # fmt: skip
    (sweep_dir,) = cli.runs_dir.glob("sweep-*")
    return sweep_dir, result.output


def test_results_carry_final_and_best_train_and_validation_and_test(seeds_sweep):
    sweep_dir, output = seeds_sweep
    columns, rows = read_rows(sweep_dir)
    assert tuple(columns) == COLUMNS
    assert {"final_train_acc", "best_train_loss", "test_acc", "test_loss"} <= set(columns)
    for row in rows:
        trial = sweep_dir / "trials" / row["trial"]
        records = history(trial)
        last = records[-1]
        best = min(records, key=lambda r: r["val_loss"])  # the first of the lowest
        summary = json.loads((trial / "summary.json").read_text())
        expected = {
            "final_train_acc": last["train_acc"],
            "final_val_acc": last["val_acc"],
            "final_train_loss": last["train_loss"],
            "final_val_loss": last["val_loss"],
            "best_train_acc": best["train_acc"],
            "best_val_acc": best["val_acc"],
            "best_train_loss": best["train_loss"],
            "best_val_loss": best["val_loss"],
            "test_acc": summary["test"]["acc"],
            "test_loss": summary["test"]["loss"],
        }
        assert {key: float(row[key]) for key in expected} == expected
    # the table shows them side by side, mean ± sample std over the two seeds
    for column in ("train acc", "val acc", "train loss", "acc @best", "test acc", "test loss"):
        assert column in output
    tests = [float(r["test_loss"]) for r in rows if r["value"] == "0.05"]
    assert f"{statistics.fmean(tests):.4f} ± {statistics.stdev(tests):.4f}" in output


def test_equal_accuracies_are_ranked_by_validation_loss(seeds_sweep):
    sweep_dir, output = seeds_sweep
    _, rows = read_rows(sweep_dir)

    def mean(value: str, key: str) -> float:
        return statistics.fmean(float(r[key]) for r in rows if r["value"] == value)

    # every trial separates the blobs: a tie on accuracy, which the lower loss breaks
    assert mean("0.001", "final_val_acc") == mean("0.05", "final_val_acc") == 1.0
    assert mean("0.05", "final_val_loss") < mean("0.001", "final_val_loss")
    assert "0.05 ★" in output and "0.001 ★" not in output
    lines = [line for line in output.splitlines() if "│ 0.05" in line or "│ 0.001" in line]
    assert "0.05" in lines[0]  # ranked first although listed second


def seed_runs(sweep_dir: Path, value: str, seeds: list[int]) -> list[tuple]:
    runs = []
    for seed in seeds:
        trial = sweep_dir / "trials" / f"{value}-seed{seed}"
        runs.append((history(trial), plots.read_steps(trial / "steps.csv")))
    return runs


def test_curves_are_the_mean_and_sample_std_over_seeds(seeds_sweep):
    sweep_dir, _ = seeds_sweep
    (curve,) = plots.seed_curves([("0.05", seed_runs(sweep_dir, "0.05", [0, 1]))])
    a, b = (history(sweep_dir / "trials" / f"0.05-seed{s}") for s in (0, 1))
    for key, mean, std in (
        ("train_loss", curve.train_loss, curve.train_std),
        ("val_loss", curve.val_loss, curve.val_std),
    ):
        pairs = np.array([[r[key] for r in a], [r[key] for r in b]])
        np.testing.assert_allclose(mean, pairs.mean(axis=0))
        np.testing.assert_allclose(std, pairs.std(axis=0, ddof=1))
    steps = [np.loadtxt(sweep_dir / "trials" / f"0.05-seed{s}" / "steps.csv", delimiter=",",
                        skiprows=1, usecols=2) for s in (0, 1)]  # fmt: skip
    np.testing.assert_allclose(curve.step_loss, np.mean(steps, axis=0))
    np.testing.assert_allclose(curve.step_std, np.std(steps, axis=0, ddof=1))
    assert curve.seeds == 2 and len(curve.steps) == len(steps[0]) == 4 * 4  # 240 / 64 a batch


def test_curves_png_draws_each_values_trials_from_their_own_files(seeds_sweep):
    # what the sweep drew against the curves of the trials' files read here
    sweep_dir, _ = seeds_sweep
    values = ("0.001", "0.05")
    expected = plots.seed_curves([(v, seed_runs(sweep_dir, v, [0, 1])) for v in values])
    assert [c.label for c in DRAWN["curves"]] == list(values)
    for got, want in zip(DRAWN["curves"], expected, strict=True):
        assert got.seeds == want.seeds == 2
        for field in ("epochs", "train_loss", "train_std", "val_loss", "val_std", "steps",
                      "step_loss", "step_std"):  # fmt: skip
            np.testing.assert_array_equal(getattr(got, field), getattr(want, field))


def drawn(monkeypatch, tmp_path, curves) -> object:
    """Draw curves.png and return its matplotlib Figure."""
    made = []
    real = plots.figure

    def keep(width, height):
        made.append(real(width, height))
        return made[-1]

    monkeypatch.setattr(plots, "figure", keep)
    plots.plot_curves(tmp_path / "curves.png", "lr", curves)
    assert (tmp_path / "curves.png").stat().st_size > 10_000
    return made[0]


def test_bands_with_several_seeds_none_with_one(seeds_sweep, monkeypatch, tmp_path):
    sweep_dir, _ = seeds_sweep
    values = ("0.001", "0.05")
    two = plots.seed_curves([(v, seed_runs(sweep_dir, v, [0, 1])) for v in values])
    fig = drawn(monkeypatch, tmp_path, two)
    step_axes, train_axes, val_axes = fig.axes
    legend = [t.get_text() for t in val_axes.get_legend().get_texts()]
    assert legend == ["lr=0.001", "lr=0.05", "± 1 sample std over 2 seeds"]
    for ax in fig.axes:
        assert len(ax.collections) == 2  # one band per value
    band = train_axes.collections[1].get_paths()[0].vertices
    curve = two[1]
    assert band[:, 1].max() == pytest.approx(np.max(curve.train_loss + curve.train_std))
    assert band[:, 1].min() == pytest.approx(np.min(curve.train_loss - curve.train_std))

    one = plots.seed_curves([(v, seed_runs(sweep_dir, v, [0])) for v in values])
    (tmp_path / "one").mkdir()
    fig = drawn(monkeypatch, tmp_path / "one", one)
    legend = [t.get_text() for t in fig.axes[2].get_legend().get_texts()]
    assert legend == ["lr=0.001", "lr=0.05"]
    assert all(len(ax.collections) == 0 for ax in fig.axes)
    assert fig.axes[0].get_ylabel() == "loss"


def test_the_sweep_plot_stars_the_same_value_as_the_table(monkeypatch, tmp_path):
    from types import SimpleNamespace

    made = []
    real = plots.figure

    def keep(width, height):
        made.append(real(width, height))
        return made[-1]

    monkeypatch.setattr(plots, "figure", keep)
    # two values of equal mean accuracy: the star goes to the lower loss, listed second
    summaries = [
        SimpleNamespace(value=0.001, label="0.001", val_accs=[1.0, 1.0], val_losses=[0.3, 0.5],
                        acc=(1.0, 0.0), loss=(0.4, 0.14)),
        SimpleNamespace(value=0.05, label="0.05", val_accs=[1.0, 1.0], val_losses=[0.1, 0.2],
                        acc=(1.0, 0.0), loss=(0.15, 0.07)),
    ]  # fmt: skip
    plots.plot_sweep(tmp_path / "tie.png", "lr", summaries, "log", 2)
    for ax in made[0].axes:
        (star,) = [line for line in ax.get_lines() if line.get_label().startswith("best")]
        assert star.get_label() == "best: 0.05"


def test_a_resumed_sweep_draws_its_plots_again_over_the_ones_it_has(seeds_sweep, tmp_path):
    """A sweep stopped after some trials completed has drawn plots/ already; resuming it
    draws them again (here: every trial had finished, and curves.png was deleted)."""
    sweep_dir = shutil.copytree(seeds_sweep[0], tmp_path / seeds_sweep[0].name)
    (sweep_dir / "plots" / "curves.png").unlink()
    drawn_before = (sweep_dir / "plots" / "sweep.png").stat().st_mtime_ns
    result = Cli(tmp_path / "runs")("sweep", "--resume", sweep_dir)
    assert f"plots: {sweep_dir / 'plots'}" in " ".join(result.output.split())
    assert (sweep_dir / "plots" / "curves.png").stat().st_size > 10_000
    assert (sweep_dir / "plots" / "sweep.png").stat().st_mtime_ns > drawn_before


def test_sweep_png_plots_accuracy_and_loss_of_the_lr_on_a_log_axis_over_the_seeds(seeds_sweep):
    # lr values only 50 apart still get a log axis (by hand: lr, l1 and l2 always do)
    assert DRAWN["sweep"] == (
        "sweep.png", "lr", [0.001, 0.05], "log", 2, plots.SWEEP_PANELS
    )  # fmt: skip
    assert [panel[0] for panel in plots.SWEEP_PANELS] == ["validation accuracy", "validation loss"]
