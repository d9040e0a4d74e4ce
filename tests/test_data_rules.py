"""The split and normalisation rules a course warns about first, checked from outside.

No leakage: the normalisation a run stores is the statistics of exactly its training rows.
Stratified: every class is held out in proportion. Both are checked against the run's own
output files and an independent computation (tests/oracles.py), never against mlpx's loader.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import read_json
from oracles import digits_split, documented_split, report_supports, standard_stats

QUICK = ("train.epochs=2", "output.plots=false")


def write_npz(path: Path, x: np.ndarray, y: np.ndarray) -> Path:
    np.savez(path, data_x=x, data_y=y)
    return path


def test_normalisation_is_the_statistics_of_exactly_the_training_rows(cli):
    cli.train("configs/digits.yaml", *QUICK)
    *_, mean, std = digits_split(seed=0, fraction=0.2)
    with np.load(cli.last_run() / "normalization.npz") as stored:
        np.testing.assert_allclose(stored["shift"], mean, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(stored["scale"], std, rtol=1e-12, atol=1e-12)
    # the whole dataset's statistics differ: fitting before the split would show
    from sklearn.datasets import load_digits

    leaked, _ = standard_stats(load_digits().data)
    assert not np.allclose(leaked, mean, rtol=1e-6)


def test_class_constant_features_give_the_training_mean_of_the_reported_counts(cli, tmp_path):
    """Every row of class k is the vector f_k, so the training mean is sum_k n_k f_k / n with
    n_k the training rows of class k: the class sizes minus the val supports report.txt
    lists. Class sizes 7, 13, 30 round unevenly (held out 2, 4, 9 of them), so the mean of
    all 50 rows differs from the training rows' mean."""
    sizes = np.array([7, 13, 30])
    f = np.array([[0.0, 5.0], [1.0, -3.0], [4.0, 2.0]])
    y = np.repeat(np.arange(3), sizes)
    x = f[y]
    data = write_npz(tmp_path / "classes.npz", x, y)
    cli.train("configs/npz-challenge.yaml", f"data.path={data}", "data.val_fraction=0.3", *QUICK)
    run = cli.last_run()
    held = report_supports((run / "report.txt").read_text())
    n_train = sizes - np.array([held[str(k)] for k in range(3)])
    assert n_train.tolist() == [5, 9, 21]
    mean = (n_train[:, None] * f).sum(0) / n_train.sum()
    var = (n_train[:, None] * (f - mean) ** 2).sum(0) / n_train.sum()
    with np.load(run / "normalization.npz") as stored:
        np.testing.assert_allclose(stored["shift"], mean, rtol=1e-12)
        np.testing.assert_allclose(stored["scale"], np.sqrt(var), rtol=1e-12)
        assert not np.allclose(stored["shift"], x.mean(0), rtol=1e-6)


def test_every_class_is_held_out_in_proportion(cli, tmp_path):
    """Skewed classes (50, 100, 200, 400 rows): the validation support of every class is
    within one row of val_fraction x its size; a split that ignored the labels would be off
    by several rows for the large classes."""
    sizes = np.array([50, 100, 200, 400])
    rng = np.random.default_rng(7)
    y = rng.permutation(np.repeat(np.arange(4), sizes))
    x = rng.normal(size=(len(y), 3)) + y[:, None]
    data = write_npz(tmp_path / "skewed.npz", x, y)
    cli.train("configs/npz-challenge.yaml", f"data.path={data}", "data.val_fraction=0.2", *QUICK)
    run = cli.last_run()
    held = report_supports((run / "report.txt").read_text())
    for k, size in enumerate(sizes):
        assert abs(held[str(k)] - 0.2 * size) <= 1, (k, held)
    train_share = (sizes - [held[str(k)] for k in range(4)]) / (sizes.sum() - sum(held.values()))
    np.testing.assert_allclose(train_share, sizes / sizes.sum(), atol=0.005)
    assert read_json(run / "summary.json")["status"] == "completed"


@pytest.mark.parametrize("seed", [0, 3])
def test_the_validation_rows_are_the_documented_split(cli, seed):
    """The saved model, applied to the rows the documented rule holds out, gives exactly the
    validation accuracy the run reports (another split would give other rows)."""
    cli.train("configs/digits.yaml", *QUICK, f"seed={seed}")
    run = cli.last_run()
    _, _, x_val, y_val, _, _ = digits_split(seed=seed, fraction=0.2)
    w = {k: v.double().numpy() for k, v in torch.load(run / "model.pt", weights_only=True).items()}
    logits = np.maximum(x_val @ w["W1"] + w["b1"], 0) @ w["W2"] + w["b2"]
    summary = read_json(run / "summary.json")
    assert np.mean(logits.argmax(1) == y_val) == pytest.approx(summary["final"]["val_acc"])
    assert len(y_val) == sum(report_supports((run / "report.txt").read_text()).values())


def test_the_documented_split_oracle_is_stratified_and_disjoint():
    y = np.repeat(np.arange(3), [1, 5, 10])
    train, val = documented_split(y, 0.3, seed=2)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(16))
    assert np.bincount(y[val], minlength=3).tolist() == [0, 2, 3]


def test_a_split_the_data_cannot_make_is_refused_with_one_line(cli, tmp_path):
    """Refused before training, by mlpx train and by mlpx data (which splits as train does)."""
    y = np.array([0, 1, 2])  # one sample per class: a stratified split holds none out
    data = write_npz(tmp_path / "three.npz", np.eye(3), y)
    result = cli.train("configs/npz-challenge.yaml", f"data.path={data}", *QUICK, expect=2)
    assert result.output.strip() == (
        "error: data.val_fraction=0.2 leaves no validation sample (3 samples, at most one per "
        "class); use data.val_fraction: 0"
    )
    result = cli("data", "configs/npz-challenge.yaml", "-s", f"data.path={data}", "-s",
                 "data.folds=3", "--out", tmp_path / "d.png", expect=2)  # fmt: skip
    assert result.output.strip() == (
        "error: data.folds=3: one run trains one fold; set data.fold (1..3), or let `mlpx "
        "train` run every fold"
    )
    assert not (tmp_path / "d.png").exists()
