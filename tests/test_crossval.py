"""k-fold cross-validation: `mlpx train` with data.folds: K runs K folds as a group of runs
(one process per fold, --jobs, --resume, Dask) and writes cv.json with mean and sample std."""

from __future__ import annotations

import csv
import os
import signal
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO, Cli, read_json, read_jsonl
from test_datasets import one_error_line
from test_sweep import running_pid, wait_for

from mlpx.config import load_config
from mlpx.data import load_dataset
from mlpx.data.dataset import stratified_folds
from mlpx.errors import DataError
from mlpx.runs import pid_alive

QUICK = ("train.epochs=2", "output.plots=false")
FOLD_METRICS = ("val_acc", "val_loss", "best_val_acc", "best_val_loss", "train_acc", "train_loss")


def sets(*overrides: str) -> list[str]:
    return [item for o in overrides for item in ("-s", o)]


def only_cv(runs_dir: Path) -> Path:
    (parent,) = runs_dir.glob("*-cv")
    return parent


def fold_numbers(cv: dict) -> list[list]:
    """Every fold's number, status and metrics as cv.json records them (no paths, no times)."""
    return [[r["fold"], r["status"], *(r[key] for key in FOLD_METRICS)] for r in cv["runs"]]


@pytest.fixture(scope="module")
def three_folds(tmp_path_factory) -> tuple[Path, str]:
    """A 3-fold cross-validation of digits, 2 epochs, one fold at a time."""
    cli = Cli(tmp_path_factory.mktemp("cv") / "runs")
    overrides = sets("data.folds=3", *QUICK)
    result = cli(
        "train", "configs/digits.yaml", *overrides, "--jobs", "1", "--runs-dir", cli.runs_dir
    )
    return only_cv(cli.runs_dir), result.output


def test_k_folds_write_k_runs_and_their_mean_and_sample_std(three_folds, cli):
    parent, output = three_folds
    assert parent.name.endswith("-digits-simple-cv")
    assert sorted(p.name for p in parent.iterdir()) == [
        "cv.json",
        "cv.yaml",
        "fold-1",
        "fold-2",
        "fold-3",
        "results.csv",
    ]
    cv = read_json(parent / "cv.json")
    assert cv["status"] == "completed" and cv["folds"] == 3 and cv["folds_completed"] == 3
    assert cv["std_ddof"] == 1
    assert cv["name"] == "digits-simple"  # the config's (configs/digits.yaml)
    assert f"cv.json and fold-1..fold-3 in {parent}" in output.replace("\n", "")
    summaries = [read_json(parent / f"fold-{k}" / "summary.json") for k in (1, 2, 3)]
    assert all(s["status"] == "completed" for s in summaries)
    for key in ("val_acc", "val_loss", "train_loss"):
        values = [s["final"][key] for s in summaries]
        assert cv["mean"][key] == pytest.approx(statistics.fmean(values), abs=1e-12)
        assert cv["std"][key] == pytest.approx(statistics.stdev(values), abs=1e-12)
        assert cv["std"][key] != pytest.approx(np.std(values), abs=1e-9)  # not ddof 0
    best = [s["best_val_acc"] for s in summaries]
    assert cv["mean"]["best_val_acc"] == pytest.approx(statistics.fmean(best))
    assert [r["val_acc"] for r in cv["runs"]] == [s["final"]["val_acc"] for s in summaries]
    assert [r["run_dir"] for r in cv["runs"]] == [str(parent / f"fold-{k}") for k in (1, 2, 3)]
    assert f"{cv['mean']['val_acc']:.4f} ± {cv['std']['val_acc']:.4f}" in output
    assert "3-fold cross-validation" in output and "sample std (ddof 1)" in output
    configs = [
        yaml.safe_load((parent / f"fold-{k}" / "config.yaml").read_text()) for k in (1, 2, 3)
    ]
    assert [c["data"]["fold"] for c in configs] == [1, 2, 3]
    assert all(c["data"]["folds"] == 3 for c in configs)
    assert yaml.safe_load((parent / "cv.yaml").read_text())["data"]["fold"] is None
    with open(parent / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["trial"], r["value"], r["status"]) for r in rows] == [
        (f"fold-{k}", str(k), "completed") for k in (1, 2, 3)
    ]
    assert [float(r["final_val_acc"]) for r in rows] == [s["final"]["val_acc"] for s in summaries]
    # `mlpx runs` shows the cross-validation as one row with its best fold: the fold of lowest
    # validation loss, at its best epoch
    table = cli("runs", parent.parent).output
    assert parent.name in table and "cv 3/3" in table
    best_fold = min(summaries, key=lambda s: s["best_val_loss"])
    assert f"{best_fold['best_val_acc']:.4f}" in table


def test_two_jobs_train_the_same_folds_side_by_side(three_folds, cli):
    result = cli("train", "configs/digits.yaml", *sets("data.folds=3", *QUICK), "--jobs", "2",
                 "--runs-dir", cli.runs_dir)  # fmt: skip
    parent = only_cv(cli.runs_dir)
    cv = read_json(parent / "cv.json")
    assert fold_numbers(cv) == fold_numbers(read_json(three_folds[0] / "cv.json"))
    # side by side, each fold is pinned to one thread, and its config.yaml says so
    threads = [
        yaml.safe_load((root / f"fold-{k}" / "config.yaml").read_text())["threads"]
        for root in (parent, three_folds[0])
        for k in (1, 2, 3)
    ]
    assert threads == [1, 1, 1, "auto", "auto", "auto"]
    assert "fold 3" in result.output


def test_a_fold_config_reruns_exactly_that_fold(three_folds, cli):
    parent, _ = three_folds
    cli.train(parent / "fold-2" / "config.yaml")
    rerun = cli.last_run()
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(read_jsonl(rerun / "metrics.jsonl")) == strip(
        read_jsonl(parent / "fold-2" / "metrics.jsonl")
    )


def test_a_killed_fold_and_a_stopped_cv_resume_the_unfinished_folds(cli, tmp_path):
    # fold 1 completes; fold 2's process is killed (as the OOM killer would); then the
    # cross-validation itself gets SIGTERM while fold 3 trains (250 epochs: a few seconds,
    # longer than the grace a stopped group gives its trials before it interrupts them)
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "mlpx", "train", "configs/digits.yaml", "--jobs", "1"]
    command += [*sets("data.folds=3", "train.epochs=250", "output.plots=false")]
    command += ["--runs-dir", str(runs)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        parent = wait_for(lambda: next(runs.glob("*-cv"), None))
        fold = lambda k: parent / f"fold-{k}"  # noqa: E731
        wait_for(lambda: read_json(parent / "cv.json")["folds_completed"] == 1)
        victim = wait_for(lambda: running_pid(fold(2)))
        os.kill(victim, signal.SIGKILL)
        orphan = wait_for(lambda: running_pid(fold(3)))
        process.terminate()
        output = process.communicate(timeout=60)[0]
    finally:
        process.kill()
    assert process.returncode == 130, output
    assert f"resume with: mlpx train --resume {parent}" in output
    wait_for(lambda: not pid_alive(orphan))
    cv = read_json(parent / "cv.json")
    assert cv["status"] == "interrupted"
    assert [r["status"] for r in cv["runs"]] == ["completed", "killed", "interrupted"]
    assert "SIGKILL" in cv["runs"][1]["message"]
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in fold(1).rglob("*")}
    assert "alone" in cli("train", "--resume", parent, "-s", "seed=1", expect=2).output

    result = cli("train", "--resume", parent, "--jobs", "2")
    assert "resuming: 1 fold(s) finished and kept, 2 to run" in result.output
    cv = read_json(parent / "cv.json")
    assert cv["status"] == "completed" and cv["folds_completed"] == 3
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in fold(1).rglob("*")} == before
    assert (parent / ".fold-2.attempt-1").is_dir() and (parent / ".fold-3.attempt-1").is_dir()
    summaries = [read_json(fold(k) / "summary.json") for k in (1, 2, 3)]
    assert [s["epochs_completed"] for s in summaries] == [250, 250, 250]
    accs = [s["final"]["val_acc"] for s in summaries]
    assert cv["mean"]["val_acc"] == pytest.approx(statistics.fmean(accs), abs=1e-12)
    assert cv["std"]["val_acc"] == pytest.approx(statistics.stdev(accs), abs=1e-12)
    assert not (parent / "cv.lock").exists()
    assert "cv 3/3" in cli("runs", runs).output


def test_dask_cluster_gives_the_local_folds(three_folds, cli, monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the workers import mlpx from here
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        sched = ("--executor", "dask", "--scheduler", cluster.scheduler_address)
        cli("train", "configs/digits.yaml", *sets("data.folds=3", *QUICK), *sched,
            "--runs-dir", cli.runs_dir)  # fmt: skip
    finally:
        cluster.close()
    parent = only_cv(cli.runs_dir)
    cv = read_json(parent / "cv.json")
    assert fold_numbers(cv) == fold_numbers(read_json(three_folds[0] / "cv.json"))
    for k in (1, 2, 3):
        assert len(read_jsonl(parent / f"fold-{k}" / "metrics.jsonl")) == 2


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


def test_as_many_folds_as_samples_leave_one_out_and_more_are_refused():
    cfg = load_config(None, ["data.folds=30", "data.fold=30", "data.limit=30"])
    data = load_dataset(cfg.data, seed=5)
    assert (len(data.y_train), len(data.y_val)) == (29, 1)
    cfg = load_config(None, ["data.folds=31", "data.fold=1", "data.limit=30"])
    with pytest.raises(DataError, match=r"^data.folds=31: the dataset has only 30 samples$"):
        load_dataset(cfg.data, seed=5)


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
    bad = cli("train", "configs/digits.yaml", *sets("data.folds=3"), "--executor", "ray",
              "--runs-dir", cli.runs_dir, expect=2)  # fmt: skip
    assert one_error_line(bad) == "error: --executor ray: expected local, process, stacked or dask"
    single = cli(
        "train", "configs/digits.yaml", "--jobs", "2", "--runs-dir", cli.runs_dir, expect=2
    )
    assert "--jobs: only for a cross-validation (data.folds: K)" in one_error_line(single)
    dask = cli("train", "configs/digits.yaml", *sets("data.folds=3"), "--executor", "dask",
               "--runs-dir", cli.runs_dir, expect=2)  # fmt: skip
    assert "--executor dask needs --scheduler" in one_error_line(dask)
    assert not cli.runs_dir.exists() or not cli.run_dirs()


def test_a_cross_validation_plans_one_trial_per_fold_with_the_configs_seed():
    from mlpx.config import build_config
    from mlpx.groups.plan import CrossValPlan, Trial, plan_crossval

    config = build_config({"backend": "numpy", "seed": 7, "data": {"folds": 3}})
    trials = [Trial(f"fold-{k}", k, 7, {"data.fold": k}) for k in (1, 2, 3)]
    expected = CrossValPlan("fold", "data.fold", [1, 2, 3], [7], config.to_dict(), trials)
    assert plan_crossval(config) == expected
    with pytest.raises(ValueError) as error:  # a caller's mistake, not a user's
        plan_crossval(build_config({"backend": "numpy", "data": {"folds": 3, "fold": 1}}))
    assert str(error.value) == "plan_crossval needs data.folds set and data.fold unset"
