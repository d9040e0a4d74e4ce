"""k-fold cross-validation: `mlpx train` with data.folds: K writes K runs and cv.json."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from conftest import read_json, read_jsonl
from test_datasets import one_error_line

from mlpx.config import load_config
from mlpx.data import load_dataset
from mlpx.data.dataset import stratified_folds

QUICK = ("train.epochs=2", "output.plots=false")


def test_k_folds_write_k_runs_and_their_mean_and_std(cli):
    result = cli.train("configs/digits.yaml", "data.folds=3", *QUICK)
    (parent,) = cli.run_dirs()
    assert parent.name.endswith("-digits-simple-cv")
    assert sorted(p.name for p in parent.iterdir()) == [
        "cv.json",
        "cv.yaml",
        "fold-1",
        "fold-2",
        "fold-3",
    ]
    cv = read_json(parent / "cv.json")
    assert cv["status"] == "completed" and cv["folds"] == 3 and cv["folds_completed"] == 3
    summaries = [read_json(parent / f"fold-{k}" / "summary.json") for k in (1, 2, 3)]
    assert all(s["status"] == "completed" for s in summaries)
    for key in ("val_acc", "val_loss"):
        values = [s["final"][key] for s in summaries]
        assert cv["mean"][key] == pytest.approx(np.mean(values), abs=1e-12)
        assert cv["std"][key] == pytest.approx(np.std(values), abs=1e-12)
    best = [s["best_val_acc"] for s in summaries]
    assert cv["mean"]["best_val_acc"] == pytest.approx(np.mean(best))
    assert [r["val_acc"] for r in cv["runs"]] == [s["final"]["val_acc"] for s in summaries]
    assert f"{cv['mean']['val_acc']:.4f} ± {cv['std']['val_acc']:.4f}" in result.output
    assert "3-fold cross-validation" in result.output
    configs = [
        yaml.safe_load((parent / f"fold-{k}" / "config.yaml").read_text()) for k in (1, 2, 3)
    ]
    assert [c["data"]["fold"] for c in configs] == [1, 2, 3]
    # `mlpx runs` shows the cross-validation as one row with its best fold
    table = cli("runs", cli.runs_dir).output
    assert parent.name in table and "cv 3/3" in table
    assert f"{max(best):.4f}" in table


def test_a_fold_config_reruns_exactly_that_fold(cli):
    cli.train("configs/digits.yaml", "data.folds=2", *QUICK)
    (parent,) = cli.run_dirs()
    cli.train(parent / "fold-2" / "config.yaml")
    rerun = cli.last_run()
    assert rerun.parent == cli.runs_dir and rerun != parent
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(read_jsonl(rerun / "metrics.jsonl")) == strip(
        read_jsonl(parent / "fold-2" / "metrics.jsonl")
    )


def test_folds_partition_the_data_stratified():
    y = np.repeat(np.arange(4), [10, 7, 5, 3])
    folds = stratified_folds(y, 3, np.random.default_rng(0))
    assert sorted(np.bincount(folds).tolist()) == [8, 8, 9]
    for label in range(4):
        counts = np.bincount(folds[y == label], minlength=3)
        assert counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(folds, stratified_folds(y, 3, np.random.default_rng(0)))


def test_the_validation_parts_of_the_folds_cover_the_data_once():
    sizes, labels = [], []
    for fold in (1, 2, 3, 4):
        cfg = load_config(None, ["data.folds=4", f"data.fold={fold}", "data.limit=400"])
        data = load_dataset(cfg.data, seed=5)
        assert len(data.y_train) + len(data.y_val) == 400
        sizes.append(len(data.y_val))
        labels.append(data.y_val)
    assert sum(sizes) == 400 and max(sizes) - min(sizes) <= 1
    counts = np.array([np.bincount(y, minlength=10) for y in labels])
    assert (counts.max(axis=0) - counts.min(axis=0)).max() <= 1


def test_diverged_folds_are_recorded_and_exit_1(cli):
    diverge = ("optimizer.name=sgd", "optimizer.lr=1e9", "train.epochs=1")
    result = cli.train("configs/digits.yaml", "data.folds=2", *QUICK, *diverge, expect=1)
    (parent,) = cli.run_dirs()
    cv = read_json(parent / "cv.json")
    assert cv["status"] == "incomplete" and cv["folds_completed"] == 0
    assert [r["status"] for r in cv["runs"]] == ["diverged", "diverged"]
    assert cv["mean"] == {} and "training diverged" in cv["runs"][0]["message"]
    assert "2 of 2 folds did not complete" in result.output


def test_cross_validation_mistakes_are_one_line(cli):
    line = one_error_line(cli.train("configs/digits.yaml", "data.fold=2", expect=2))
    assert line.startswith("error: data.fold:") and "data.folds is null" in line
    line = one_error_line(cli.train("configs/toy.yaml", "data.folds=6", expect=2))
    assert "data.folds=6: the dataset has only 5 samples" in line
    assert not cli.runs_dir.exists() or not cli.run_dirs()
