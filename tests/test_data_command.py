"""`mlpx data`: the numbers and the picture of a dataset as a run sees it, on real files."""

from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

from mlpx.cli import app

runner = CliRunner()


def data_command(tmp_path, *args: str) -> tuple[str, dict, np.ndarray]:
    """Run `mlpx data ARGS --out PNG --json FILE`; return the output, the JSON, the image."""
    png, out = tmp_path / "samples.png", tmp_path / "data.json"
    result = runner.invoke(app, ["data", *args, "--out", str(png), "--json", str(out)])
    assert result.exit_code == 0, result.output
    return result.output, json.loads(out.read_text()), matplotlib.image.imread(png)


def stats(values: np.ndarray) -> dict:
    return {
        "min": values.min(),
        "max": values.max(),
        "mean": values.mean(),
        "std": values.std(),
    }


def test_digits_without_validation_equals_sklearn(tmp_path):
    output, data, image = data_command(
        tmp_path, "configs/digits.yaml", "-s", "data.val_fraction=0", "-s", "dtype=float64"
    )
    digits = load_digits()
    assert data["feature_shape"] == [8, 8] and data["n_features"] == 64
    assert list(data["splits"]) == ["train"]
    train = data["splits"]["train"]
    assert train["n"] == 1797
    assert train["counts"] == np.bincount(digits.target).tolist()
    assert train["raw"] == pytest.approx(stats(digits.data), rel=1e-12, abs=1e-12)
    scaled = StandardScaler().fit_transform(digits.data)
    assert train["normalized"] == pytest.approx(stats(scaled), rel=1e-9, abs=1e-12)
    assert "8x8 features (64 inputs), 10 classes" in output
    assert "178 (9.9%)" in output  # zeros: 178 of 1797
    # one row of the first 8 samples and one per class, 8 wide, RGB(A) pixels
    assert image.ndim == 3 and image.shape[0] > image.shape[1]


def test_digits_split_counts_add_up_and_follow_val_fraction(tmp_path):
    _, data, _ = data_command(tmp_path, "configs/digits.yaml", "-s", "data.limit=500")
    train, val = data["splits"]["train"], data["splits"]["val"]
    assert train["n"] + val["n"] == 500
    total = np.add(train["counts"], val["counts"])
    assert total.sum() == 500
    # stratified: about a fifth of every class is held out
    assert np.all(np.abs(np.array(val["counts"]) - 0.2 * total) <= 1)
    assert data["normalization"] == "standard"
    assert train["raw"]["min"] == 0 and train["raw"]["max"] == 16


def test_a_generated_npz_with_images_and_an_unlabeled_test_set(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(60, 6, 5)).astype(np.uint8)
    y = np.repeat([0, 1, 2], 20)
    test_x = rng.integers(0, 256, size=(7, 6, 5)).astype(np.uint8)
    path = tmp_path / "mine.npz"
    np.savez(path, data_x=x, data_y=y, test_x=test_x)
    output, data, image = data_command(
        tmp_path,
        "-s",
        "data.name=npz",
        "-s",
        f"data.path={path}",
        "-s",
        "data.normalize=scale",
        "-s",
        "data.val_fraction=0.25",
    )
    assert data["feature_shape"] == [6, 5]
    assert data["splits"]["train"]["counts"] == [15, 15, 15]
    assert data["splits"]["val"]["counts"] == [5, 5, 5]
    assert data["splits"]["test"] == {
        "n": 7,
        "counts": None,
        "raw": pytest.approx(stats(test_x.astype(float))),
        "normalized": pytest.approx(stats(test_x / x.max()), rel=1e-6),
        "targets": None,
    }
    assert "test: unlabeled" in output
    assert image.shape[1] > 300


def test_two_dimensional_points_and_one_dimensional_signals_are_drawn(tmp_path):
    rng = np.random.default_rng(1)
    for name, features in (("points", 2), ("signals", 12)):
        path = tmp_path / f"{name}.npz"
        np.savez(path, data_x=rng.standard_normal((40, features)), data_y=np.arange(40) % 2)
        out = tmp_path / name
        out.mkdir()
        _, data, image = data_command(out, "-s", "data.name=npz", "-s", f"data.path={path}")
        assert data["feature_shape"] == [features]
        assert image.shape[0] > 100 and image.shape[1] > 100


def test_nothing_is_overwritten_and_bad_input_is_one_line(tmp_path):
    png = tmp_path / "mine.png"
    png.write_bytes(b"precious")
    result = runner.invoke(app, ["data", "--out", str(png)])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: --out {png}: file exists; pass --force to overwrite it"
    assert png.read_bytes() == b"precious"
    result = runner.invoke(app, ["data", "--out", str(tmp_path / "x.jpg")])
    assert result.exit_code == 2
    assert "the file name must end in .png" in result.output
    result = runner.invoke(app, ["data", "-s", "data.name=mnsit", "--out", str(tmp_path / "a.png")])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1 and "data.name" in result.output
    assert not (tmp_path / "a.png").exists()


def test_a_regression_shows_its_targets_as_loaded(tmp_path):
    from sklearn.datasets import load_diabetes

    output, data, image = data_command(
        tmp_path, "configs/diabetes.yaml", "-s", "data.val_fraction=0"
    )
    train = data["splits"]["train"]
    assert train["counts"] is None and train["n"] == 442
    assert train["targets"] == pytest.approx(stats(load_diabetes().target), rel=1e-12)
    assert "Targets as loaded (regression)" in output and "Samples per class" not in output
    assert image.shape[1] > 300
