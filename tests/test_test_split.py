"""A labelled test split: runs report on it beside validation, and `mlpx predict` reports on
labelled inputs; checked against scikit-learn's report and a forward pass written here."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import read_json
from sklearn.datasets import load_digits
from sklearn.metrics import classification_report, confusion_matrix
from test_datasets import one_error_line
from test_plots import capture_figures

from mlpx import side_by_side

QUICK = ("train.epochs=4", "backend=numpy", "dtype=float64")


def forward(run, x: np.ndarray) -> np.ndarray:
    """Labels of the run's simple ReLU MLP from model.npz and normalization.npz (no mlpx)."""
    with np.load(run / "model.npz") as model, np.load(run / "normalization.npz") as norm:
        h = (x.reshape(len(x), -1) - norm["shift"]) / norm["scale"]
        layers = len([k for k in model.files if k.startswith("W")])
        for i in range(1, layers + 1):
            h = h @ model[f"W{i}"] + model[f"b{i}"]
            if i < layers:
                h = np.maximum(h, 0)
    return h.argmax(axis=1)


def sklearn_text(y_true, y_pred) -> str:
    return classification_report(y_true, y_pred, digits=4, zero_division=0)


@pytest.fixture
def digits_file(tmp_path):
    """Digits as a challenge file whose 297 test images are labelled (test_y)."""
    digits = load_digits()
    path = tmp_path / "digits.npz"
    x, y = digits.images, digits.target
    np.savez(path, data_x=x[:1500], data_y=y[:1500], test_x=x[1500:], test_y=y[1500:])
    return path, x[1500:], y[1500:]


def test_a_run_reports_its_labelled_test_split_beside_validation(cli, digits_file, monkeypatch):
    path, x_test, y_test = digits_file
    made = capture_figures(monkeypatch)
    monkeypatch.setattr(side_by_side, "usable_cores", lambda: 1)  # plots drawn in this process
    result = cli.train("configs/npz-challenge.yaml", f"data.path={path}", *QUICK)
    run = cli.last_run()
    predicted = forward(run, x_test)
    accuracy = float(np.mean(predicted == y_test))
    assert read_json(run / "summary.json")["test"]["acc"] == pytest.approx(accuracy)
    val_part, test_part = (run / "report.txt").read_text().split("\n\n\n")
    assert val_part.startswith("Classification report on the val split (300 samples)")
    assert test_part.startswith("Classification report on the test split (297 samples)")
    assert sklearn_text(y_test, predicted) in test_part
    matrix = confusion_matrix(y_test, predicted)
    rows = test_part.split("columns: predicted)\n")[1].splitlines()[1:11]  # the 10 classes
    assert np.array([r.split()[1:] for r in rows], dtype=int).tolist() == matrix.tolist()
    plots = sorted(p.name for p in (run / "plots").iterdir())
    assert "confusion-test.png" in plots and "confusion.png" in plots
    assert (run / "plots" / "confusion-test.png").stat().st_size > 10_000
    titles = {fig.axes[0].get_title(): fig.axes[0] for fig in made if fig.axes}
    assert "Confusion matrix (val)" in titles
    drawn = titles["Confusion matrix (test)"]
    cells = np.zeros_like(matrix)
    for text in drawn.texts:
        x, y = text.get_position()
        cells[round(y), round(x)] = int(text.get_text())
    assert cells.tolist() == matrix.tolist()
    test_row = next(line for line in result.output.splitlines() if "│ test" in line)
    assert f"{accuracy:.4f}" in test_row
    assert not (run / "predictions.csv").exists()  # labelled: reported, not a challenge


def test_an_unlabeled_test_split_keeps_the_report_to_validation(cli, tmp_path):
    digits = load_digits()
    path = tmp_path / "unlabeled.npz"
    np.savez(
        path, data_x=digits.data[:1500], data_y=digits.target[:1500], test_x=digits.data[1500:]
    )
    cli.train("configs/npz-challenge.yaml", f"data.path={path}", *QUICK)
    run = cli.last_run()
    assert "test split" not in (run / "report.txt").read_text()
    assert not (run / "plots" / "confusion-test.png").exists()
    assert len((run / "predictions.csv").read_text().split()) == 297


def test_predict_with_labels_prints_and_writes_the_report(cli, digits_file, tmp_path):
    path, x_test, y_test = digits_file
    cli.train("configs/npz-challenge.yaml", f"data.path={path}", *QUICK)
    run = cli.last_run()
    out = tmp_path / "labels.csv"
    result = cli("predict", run, "--data", path, "--out", out)
    predicted = forward(run, x_test)
    assert [int(r) for r in out.read_text().split()] == predicted.tolist()
    correct = int(np.sum(predicted == y_test))
    assert f"accuracy against test_y: {correct / 297:.4f} ({correct}/297)" in result.output
    expected = sklearn_text(y_test, predicted)
    assert expected in result.output
    report = (tmp_path / "labels-report.txt").read_text()
    assert expected in report and "Confusion matrix" in report
    assert (tmp_path / "labels-confusion.png").stat().st_size > 10_000
    # written once: a second run without --force keeps all three files
    before = report
    (tmp_path / "labels.csv").unlink()
    line = one_error_line(cli("predict", run, "--data", path, "--out", out, expect=2))
    assert line == (
        f"error: {tmp_path / 'labels-report.txt'}: exists (the report beside --out {out}); "
        "pass --force to overwrite it"
    )
    assert not out.exists() and (tmp_path / "labels-report.txt").read_text() == before
    cli("predict", run, "--data", path, "--out", out, "--force")


def test_bad_test_labels_are_one_line(cli, tmp_path):
    x, y = np.zeros((20, 4)), np.arange(20) % 2
    cases = {
        "alone": ({"test_y": y[:3]}, "test_y without test_x; test_y labels the samples of test_x"),
        "length": (
            {"test_x": x[:5], "test_y": y[:3]},
            "test_x has 5 samples but test_y has 3 labels",
        ),
        "class": (
            {"test_x": x[:3], "test_y": np.array([0, 1, 2])},
            "test_y has label 2 but data_y has classes 0..1 only",
        ),
        "labels": ({"test_x": x[:3], "test_y": np.array([0.5, 1, 0])}, "test_y"),
    }
    for name, (extra, message) in cases.items():
        path = tmp_path / f"{name}.npz"
        np.savez(path, data_x=x, data_y=y, **extra)
        result = cli.train("configs/npz-challenge.yaml", f"data.path={path}", expect=2)
        assert message in one_error_line(result), name
    assert not cli.runs_dir.exists() or not any(cli.runs_dir.iterdir())
