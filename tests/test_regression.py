"""Regression runs (issue 14): real-valued targets, a linear output layer, targets
standardised on the training part; metrics against scikit-learn, both backends step by step,
predictions, plots, sweeps and cross-validations, and the one-line errors."""

from __future__ import annotations

import csv
import shutil

import numpy as np
import pytest
from conftest import read_json, read_jsonl
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from mlpx import plots, side_by_side
from mlpx.config import load_config
from mlpx.data import load_dataset
from mlpx.metrics import regression_metrics
from mlpx.predict import load_trained

DIABETES = "configs/diabetes.yaml"
FAST = ("dtype=float64", "train.epochs=4", "output.plots=false")


def test_metrics_are_scikit_learns_in_the_targets_units(cli):
    cli.train(DIABETES, *FAST, "backend=numpy", "train.epochs=30")
    run = cli.last_run()
    summary = read_json(run / "summary.json")
    assert summary["task"] == "regression" and summary["loss"] == "mse"
    config = load_config(run / "config.yaml")
    data = load_dataset(config.data, config.seed, "float64", "regression")
    x_val, y_val = data.normalization.invert(data.x_val), data.raw_targets["val"]
    predicted = load_trained(run).predict(x_val)
    assert predicted.shape == (len(y_val), 1)
    last = read_jsonl(run / "metrics.jsonl")[-1]
    assert set(last) >= {"train_loss", "val_loss", "val_mae", "val_rmse", "val_r2"}
    assert "train_acc" not in last and "val_acc" not in last
    assert last["val_r2"] == pytest.approx(r2_score(y_val, predicted), abs=1e-10)
    assert last["val_mae"] == pytest.approx(mean_absolute_error(y_val, predicted), rel=1e-10)
    assert last["val_rmse"] == pytest.approx(
        np.sqrt(mean_squared_error(y_val, predicted)), rel=1e-10
    )
    assert summary["final"]["val_r2"] == last["val_r2"] > 0.3
    # the loss is of the standardised targets: the MSE over the training part's variance
    assert last["val_loss"] == pytest.approx(
        last["val_rmse"] ** 2 / np.var(data.raw_targets["train"]), rel=1e-9
    )
    normalization = np.load(run / "normalization.npz")
    assert normalization["target_shift"] == pytest.approx(data.raw_targets["train"].mean())
    assert normalization["target_scale"] == pytest.approx(data.raw_targets["train"].std())
    report = (run / "report.txt").read_text()
    assert "Regression report on the val split (88 samples)" in report
    assert f"{last['val_r2']:.4f}" in report


def test_metrics_of_several_outputs_average_as_scikit_learn_does():
    rng = np.random.default_rng(3)
    y = rng.standard_normal((50, 3)) * [1.0, 10.0, 100.0]
    predicted = y + rng.standard_normal((50, 3)) * [0.5, 2.0, 90.0]
    found = regression_metrics(y, predicted)
    assert found["r2"] == pytest.approx(r2_score(y, predicted), rel=1e-12)
    assert found["mae"] == pytest.approx(mean_absolute_error(y, predicted), rel=1e-12)
    per_output = np.sqrt(mean_squared_error(y, predicted, multioutput="raw_values"))
    assert found["rmse"] == pytest.approx(per_output.mean(), rel=1e-12)
    constant = np.column_stack([y[:, 0], np.full(50, 2.0)])
    for guess in (constant, constant + 0.1):
        assert regression_metrics(constant, guess)["r2"] == pytest.approx(
            r2_score(constant, guess), rel=1e-12
        )


def test_synth_regression_fits_sin_and_draws_it(cli, monkeypatch):
    from matplotlib.axes import Axes

    titles = []
    set_title = Axes.set_title
    monkeypatch.setattr(
        Axes, "set_title", lambda ax, t, *a, **k: (titles.append(t), set_title(ax, t, *a, **k))[1]
    )
    monkeypatch.setattr(side_by_side, "usable_cores", lambda: 1)  # titles set in this process
    cli.train("configs/synth-regression.yaml", "train.epochs=25", "backend=numpy")
    run = cli.last_run()
    # the plots are of the validation split, as the report is, and say so in their titles
    assert any(t.startswith("val: ") and " samples, R² " in t for t in titles), titles
    assert any(t.startswith("val: residuals, RMSE ") for t in titles), titles
    assert "Model (map) and val data (points)" in titles
    summary = read_json(run / "summary.json")
    assert summary["test"]["r2"] > 0.85 and summary["test"]["rmse"] < 0.2
    assert set(summary["test"]) == {"loss", "mae", "rmse", "r2"}
    for name in ("loss", "predicted", "residuals", "fit"):
        assert (run / "plots" / f"{name}.png").stat().st_size > 10_000
    assert not (run / "plots" / "accuracy.png").exists()


def write_npz(path, y, **extra):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((len(y), 3))
    np.savez(path, data_x=x, data_y=y, **extra)
    return x


def test_npz_real_targets_need_task_regression(cli, tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "real.npz"
    write_npz(path, rng.standard_normal(60) + 0.5)
    result = cli.train("configs/npz-challenge.yaml", f"data.path={path}", expect=2)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "data_y: labels must be whole numbers 0..C-1, found" in lines[0]
    assert lines[0].endswith("for real-valued targets set task: regression")
    # integer-valued floats stay class labels unless the config says otherwise
    whole = tmp_path / "whole.npz"
    write_npz(whole, np.tile([0.0, 1.0, 2.0], 20))
    cli.train("configs/npz-challenge.yaml", f"data.path={whole}", "train.epochs=2")
    summary = read_json(cli.last_run() / "summary.json")
    assert summary["task"] == "classification" and "val_acc" in summary["final"]
    cli.train("configs/npz-challenge.yaml", f"data.path={whole}", "train.epochs=2",
              "task=regression", "loss=mse")  # fmt: skip
    summary = read_json(cli.last_run() / "summary.json")
    assert summary["task"] == "regression" and "val_r2" in summary["final"]


def test_npz_with_two_targets_predicts_both_columns(cli, tmp_path):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((120, 3))
    y = np.column_stack([x[:, 0] * 100 + 7, x[:, 1] - x[:, 2]])
    test_x = rng.standard_normal((10, 3))
    path = tmp_path / "two.npz"
    np.savez(path, data_x=x, data_y=y, test_x=test_x)
    cli.train("configs/npz-challenge.yaml", f"data.path={path}", "task=regression", "loss=mse",
              "train.epochs=60", "backend=numpy", "model.hidden=[16]", "optimizer.lr=0.01",
              "train.early_stopping=null")  # fmt: skip
    run = cli.last_run()
    with open(run / "predictions.csv") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["y1", "y2"] and len(rows) == 11
    written = np.array(rows[1:], dtype=float)
    np.testing.assert_allclose(written, load_trained(run).predict(test_x), rtol=1e-6)
    assert np.corrcoef(written[:, 0], test_x[:, 0] * 100)[0, 1] > 0.9  # in the targets' units
    out = tmp_path / "out.csv"
    result = cli("predict", run, "--data", path, "--out", out)
    assert "wrote 10 predictions of test_x" in result.output
    assert out.read_text() == (run / "predictions.csv").read_text()
    labelled = tmp_path / "labelled.npz"
    np.savez(labelled, data_x=x, data_y=y)
    result = cli("predict", run, "--data", labelled, "--out", tmp_path / "all.npy")
    assert "R² against data_y" in result.output
    assert np.load(tmp_path / "all.npy").shape == (120, 2)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ["loss=cross_entropy"],
            "loss: cross_entropy needs class labels, and the targets are real numbers "
            "(task: regression); use one of mse, mae, huber",
        ),
        (
            ["task=classification", "loss=cross_entropy"],
            "task: data.name diabetes has real-valued targets, which have no classes or "
            "accuracy; use task: regression (losses mse, mae, huber)",
        ),
        (["loss=nll"], "loss: nll needs class labels"),
    ],
)
def test_bad_combinations_are_one_line(cli, overrides, message):
    result = cli.train(DIABETES, *overrides, expect=2)
    assert result.output.strip().startswith(f"error: {message}")
    assert len(result.output.strip().splitlines()) == 1
    assert not cli.runs_dir.exists() or not cli.run_dirs()


def test_a_sweep_ranks_regressions_by_validation_loss(cli, tmp_path, monkeypatch):
    drawn = []
    draw = plots.plot_sweep
    monkeypatch.setattr(plots, "plot_sweep", lambda *args: [drawn.append(args), draw(*args)])
    monkeypatch.setattr(side_by_side, "side_by_side", lambda pieces: [p() for p in pieces])
    result = cli("sweep", "lr", "--values", "0.00001,0.01", "--config", DIABETES,
                 "--runs-dir", cli.runs_dir, "--jobs", "1", *("-s", "train.epochs=15"))  # fmt: skip
    sweep = next(cli.runs_dir.glob("sweep-lr-*"))
    with open(sweep / "results.csv") as handle:
        rows = {row["value"]: row for row in csv.DictReader(handle)}
    losses = {value: float(row["final_val_loss"]) for value, row in rows.items()}
    assert losses["0.01"] < losses["1e-05"]
    assert float(rows["0.01"]["final_val_r2"]) > float(rows["1e-05"]["final_val_r2"])
    table = result.output[result.output.index("lr sweep") :]
    assert table.index("0.01 ★") < table.index("1e-05")
    assert "R²" in table
    assert (sweep / "plots" / "sweep.png").is_file()
    ((path, param, _, scale, seeds, panels),) = drawn  # R² in place of accuracy
    assert (path, param, scale, seeds) == (sweep / "plots" / "sweep.png", "lr", "log", 1)
    assert [panel[0] for panel in panels] == ["validation R²", "validation loss"]
    listing = cli("runs", cli.runs_dir).output
    row = next(line for line in listing.splitlines() if sweep.name in line)
    best_trial = min(rows.values(), key=lambda row: float(row["best_val_loss"]))
    assert f"R² {float(best_trial['best_val_r2']):.4f}" in row


def test_the_resolved_config_says_task_and_loss(cli):
    text = cli("train", DIABETES, "--print-config").output
    assert "task: regression\nloss: mse\n" in text and "huber_delta" not in text
    text = cli("train", DIABETES, "-s", "loss=huber", "--print-config").output
    assert "loss: huber\nhuber_delta: 1.0\n" in text
    text = cli("train", "configs/digits.yaml", "--print-config").output
    assert "task: classification\nloss: cross_entropy\n" in text


def test_cross_validation_of_a_regression_reports_r2(cli):
    sets = ("-s", "data.folds=3", "-s", "train.epochs=5", "-s", "output.plots=false")
    result = cli("train", DIABETES, "--runs-dir", cli.runs_dir, *sets, "--jobs", "1")
    cv = read_json(next(cli.runs_dir.glob("*-cv")) / "cv.json")
    assert cv["folds_completed"] == 3
    assert set(cv["mean"]) >= {"val_loss", "val_r2", "val_mae", "val_rmse", "best_val_r2"}
    assert "val R²" in result.output


def test_an_interrupted_regression_resumes_to_the_same_numbers(cli, tmp_path):
    from test_train import InterruptAfter

    from mlpx.train import Trainer

    sets = ("backend=numpy", "train.epochs=6", "output.plots=false", "train.restore_best=true")
    cli.train(DIABETES, *sets)
    whole = cli.last_run()
    trainer = Trainer(load_config(whole / "config.yaml"), InterruptAfter(3))
    interrupted = trainer.run(runs_dir=tmp_path / "interrupted")
    assert interrupted.status == "interrupted"
    cli("train", "--resume", interrupted.run_dir)
    assert read_jsonl(interrupted.run_dir / "metrics.jsonl") == [
        {key: value for key, value in record.items() if key != "seconds"}
        | {"seconds": resumed["seconds"]}
        for record, resumed in zip(
            read_jsonl(whole / "metrics.jsonl"),
            read_jsonl(interrupted.run_dir / "metrics.jsonl"),
            strict=True,
        )
    ]
    finished, reference = (read_json(run / "summary.json") for run in (interrupted.run_dir, whole))
    assert finished["final"] == reference["final"] and "val_r2" in finished["final"]
    assert finished["best_val_r2"] == reference["best_val_r2"]
    assert (interrupted.run_dir / "report.txt").read_text() == (whole / "report.txt").read_text()


def test_a_labelled_test_split_is_reported_beside_validation_as_scikit_learn_scores_it(cli):
    cli.train("configs/synth-regression.yaml", *FAST, "backend=numpy", "train.epochs=6")
    run = cli.last_run()
    config = load_config(run / "config.yaml")
    data = load_dataset(config.data, config.seed, "float64", "regression")
    model = load_trained(run)
    sections = (run / "report.txt").read_text().split("\n\n")
    titles = [s for s in sections if s.startswith("Regression report on the ")]
    assert titles == [
        "Regression report on the val split (400 samples)",
        "Regression report on the test split (1000 samples)",
    ]
    test_part = (run / "report.txt").read_text().split(titles[1])[1]
    (row,) = [line.split() for line in test_part.splitlines() if line.startswith(" ")][1:2]
    x_test, y_test = data.normalization.invert(data.x_test), data.raw_targets["test"]
    predicted = model.predict(x_test)
    mae, rmse, r2 = (float(v) for v in row[1:4])
    assert mae == pytest.approx(mean_absolute_error(y_test, predicted), rel=1e-5)
    assert rmse == pytest.approx(np.sqrt(mean_squared_error(y_test, predicted)), rel=1e-5)
    assert r2 == pytest.approx(r2_score(y_test, predicted), abs=1e-4)
    assert read_json(run / "summary.json")["test"]["r2"] == pytest.approx(r2, abs=1e-4)


def test_mlpx_plot_draws_a_regression_runs_plots_as_the_run_drew_them(cli):
    import matplotlib.image as mpimg

    cli.train("configs/synth-regression.yaml", "backend=numpy", "train.epochs=4")
    run = cli.last_run()
    drawn = {p.name: mpimg.imread(p) for p in (run / "plots").iterdir()}
    assert sorted(drawn) == ["fit.png", "loss.png", "predicted.png", "residuals.png"]
    shutil.rmtree(run / "plots")
    result = cli("plot", run)
    assert f"plots: {run / 'plots'}" in result.output.replace("\n", "")
    again = {p.name: mpimg.imread(p) for p in (run / "plots").iterdir()}
    assert sorted(again) == sorted(drawn)
    for name, image in drawn.items():
        assert again[name].shape == image.shape
        assert np.mean(np.abs(again[name] - image)) < 1e-3, name


def test_class_labels_regressed_as_numbers_name_one_output_not_the_classes(cli):
    """task: regression on digits (its labels as numbers) crashed writing report.txt: the
    ten class names were taken for the names of its one output."""
    cli.train("configs/digits.yaml", "task=regression", *FAST, "backend=numpy")
    run = cli.last_run()
    summary = read_json(run / "summary.json")
    assert summary["status"] == "completed" and summary["task"] == "regression"
    report = (run / "report.txt").read_text()
    (row,) = [line.split() for line in report.splitlines() if line.strip().startswith("y ")]
    config = load_config(run / "config.yaml")
    data = load_dataset(config.data, config.seed, "float64", "regression")
    assert data.class_names == ["y"] and float(row[-2]) == pytest.approx(
        data.raw_targets["val"].mean(), rel=1e-5
    )
