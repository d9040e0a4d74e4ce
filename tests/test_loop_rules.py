"""The training loop's bookkeeping against hand-built expectations: the batch order of every
epoch, when early stopping stops, which epoch is the best, and what each epoch's lr is.

The loop is driven for real (a Trainer on digits, both backends); only what the backend
answers for the validation loss is scripted, so the expected stop epoch and best epoch are
worked out by hand from that script.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import read_json, read_jsonl
from fake_datasets import write_challenge

from mlpx.config import load_config
from mlpx.data import load_dataset
from mlpx.errors import ConfigError
from mlpx.train import Trainer, _installed, batch_bounds, drain, environment

BASE = ["data.limit=300", "model.hidden=[16]", "output.plots=false", "train.batch_size=64"]


def trainer(tmp_path, *overrides: str, backend: str = "numpy") -> Trainer:
    config = load_config("configs/digits.yaml", [*BASE, f"backend={backend}", *overrides])
    return Trainer(config)


def script_val_losses(t: Trainer, losses: list[float]) -> None:
    """Make the backend report ``losses[i]`` as the validation loss of epoch i + 1."""
    evaluate, epochs = t.backend.evaluate, iter(losses)

    def scripted(split: str):
        result = evaluate(split)
        if split == "val" and t.summary["epochs_completed"] < len(losses):
            return replace(result, loss=next(epochs))
        return result

    t.backend.evaluate = scripted


def record_rates(t: Trainer) -> list[float]:
    """The list that will hold the rate the backend is given at every training step."""
    rates: list[float] = []
    train_step = t.backend.train_step
    t.backend.train_step = lambda a, b, lr: (rates.append(lr), train_step(a, b, lr))[1]
    return rates


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_every_epoch_has_its_own_permutation_of_the_training_rows(tmp_path, backend):
    t = trainer(tmp_path, "train.epochs=4", backend=backend)
    orders: list[np.ndarray] = []
    start_epoch = t.backend.start_epoch
    t.backend.start_epoch = lambda order: (orders.append(np.array(order)), start_epoch(order))[1]
    result = t.run(runs_dir=tmp_path)
    n = len(t.dataset.y_train)
    assert result.status == "completed" and len(orders) == 4
    for order in orders:
        assert sorted(order.tolist()) == list(range(n))  # each a permutation of every row
    pairs = [(a, b) for i, a in enumerate(orders) for b in orders[i + 1 :]]
    assert all(not np.array_equal(a, b) for a, b in pairs)  # and no two epochs alike
    assert not any(np.array_equal(order, np.arange(n)) for order in orders)


# val losses by epoch, patience, the epoch it must stop at, the best epoch
STOPS = [
    ([1.0, 0.8, 0.9, 0.85, 0.95, 0.7, 0.6, 0.5], 3, 5, 2),
    ([1.0, 0.8, 0.9, 0.85, 0.95, 0.7, 0.6, 0.5], 2, 4, 2),
    ([1.0, 0.8, 0.9, 0.85, 0.95, 0.7, 0.6, 0.5], 4, 8, 8),
    ([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0], 1, 2, 1),  # equal is no improvement
    ([0.5, 0.6, 0.4, 0.45, 0.41, 0.42, 0.3, 0.2], 3, 6, 3),
]


@pytest.mark.parametrize(("losses", "patience", "stop", "best"), STOPS)
def test_early_stopping_stops_after_exactly_patience_epochs_without_improvement(
    tmp_path, losses, patience, stop, best
):
    t = trainer(tmp_path, f"train.epochs={len(losses)}", f"train.early_stopping={patience}")
    script_val_losses(t, losses)
    result = t.run(runs_dir=tmp_path)
    metrics = read_jsonl(result.run_dir / "metrics.jsonl")
    summary = read_json(result.run_dir / "summary.json")
    assert [m["val_loss"] for m in metrics] == losses[:stop]
    assert summary["epochs_completed"] == stop == len(metrics)
    if stop < len(losses):
        assert summary["message"].startswith(f"early stopping at epoch {stop}:")
    else:
        assert "message" not in summary
    assert summary["best_epoch"] == best
    assert summary["model_epoch"] == stop  # no restore_best: the last epoch's weights
    assert summary["best_val_loss"] == losses[best - 1]
    assert summary["best_val_acc"] == metrics[best - 1]["val_acc"]


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_best_epoch_is_the_first_lowest_validation_loss_in_metrics(tmp_path, backend):
    t = trainer(tmp_path, "train.epochs=6", "train.restore_best=true", backend=backend)
    script_val_losses(t, [0.9, 0.4, 0.7, 0.4, 0.5, 0.6])
    result = t.run(runs_dir=tmp_path)
    metrics = read_jsonl(result.run_dir / "metrics.jsonl")
    summary = read_json(result.run_dir / "summary.json")
    losses = [m["val_loss"] for m in metrics]
    first_lowest = losses.index(min(losses)) + 1
    assert first_lowest == 2
    assert summary["best_epoch"] == summary["model_epoch"] == first_lowest
    assert summary["final"]["val_loss"] == metrics[-1]["val_loss"] == 0.6


def test_without_validation_the_best_epoch_is_the_last(tmp_path):
    t = trainer(tmp_path, "train.epochs=3", "data.val_fraction=0", "train.early_stopping=null")
    summary = read_json(t.run(runs_dir=tmp_path).run_dir / "summary.json")
    assert summary["best_epoch"] == 3 and "best_val_loss" not in summary


def test_each_epoch_records_the_rate_its_first_step_used(tmp_path):
    """metrics.jsonl's ``lr`` is the rate the backend was given at the epoch's first step
    (exponential decay by epoch: lr * gamma^(epoch-1)), and every step of an epoch uses it."""
    t = trainer(tmp_path, "train.epochs=4", "optimizer.lr=0.08", "optimizer.lr_decay=0.5")
    rates = record_rates(t)
    metrics = read_jsonl(t.run(runs_dir=tmp_path).run_dir / "metrics.jsonl")
    steps = len(t.batches)
    assert [m["lr"] for m in metrics] == [0.08, 0.04, 0.02, 0.01]
    for epoch, m in enumerate(metrics):
        assert rates[epoch * steps : (epoch + 1) * steps] == [m["lr"]] * steps


def test_a_per_step_schedule_records_the_rate_of_each_epochs_first_step(tmp_path):
    """Cosine annealing per batch changes the rate at every step; metrics.jsonl's ``lr`` is
    the one the epoch's first step used: lr * (1 + cos(pi * t / T)) / 2 at t = (epoch - 1) * S."""
    t = trainer(tmp_path, "train.epochs=3", "optimizer.lr=0.08", "schedule.name=cosine",
                "schedule.per=step")  # fmt: skip
    rates = record_rates(t)
    metrics = read_jsonl(t.run(runs_dir=tmp_path).run_dir / "metrics.jsonl")
    steps = len(t.batches)
    assert len(rates) == 3 * steps and steps > 1
    assert all(later < earlier for earlier, later in zip(rates, rates[1:], strict=False))
    expected = [0.08 * (1 + np.cos(np.pi * e * steps / (3 * steps))) / 2 for e in range(3)]
    assert [m["lr"] for m in metrics] == [rates[e * steps] for e in range(3)]
    np.testing.assert_allclose([m["lr"] for m in metrics], expected, rtol=1e-12)


class Watcher:
    """An observer that keeps everything the loop tells it."""

    def __init__(self):
        self.started, self.steps, self.records = [], [], []

    def on_start(self, run, epochs: int, steps_per_epoch: int, info: dict) -> None:
        self.started.append((epochs, steps_per_epoch))

    def on_step(self, epoch: int, step: int) -> None:
        self.steps.append((epoch, step))

    def on_epoch(self, record: dict) -> None:
        self.records.append(record)


def test_the_observer_hears_every_step_by_number_and_every_epochs_record(tmp_path):
    watcher = Watcher()
    config = load_config("configs/digits.yaml", [*BASE, "backend=numpy", "train.epochs=3"])
    result = Trainer(config, watcher).run(runs_dir=tmp_path)
    steps = -(-240 // 64)  # 300 rows less a validation fifth, in batches of 64
    assert watcher.started == [(3, steps)]
    assert watcher.steps == [(e, s) for e in (1, 2, 3) for s in range(1, steps + 1)]
    assert watcher.records == read_jsonl(result.run_dir / "metrics.jsonl")


def test_each_epochs_seconds_is_the_time_it_took(tmp_path):
    """An epoch's ``seconds`` holds its steps and evaluation: at least the time its steps
    took, and all of them together no more than the run's wall time."""
    t = trainer(tmp_path, "train.epochs=3")
    spent = [0.0, 0.0, 0.0]
    train_step = t.backend.train_step

    def timed(start, stop, lr):
        began = time.perf_counter()
        train_step(start, stop, lr)
        spent[t.summary["epochs_completed"]] += time.perf_counter() - began

    t.backend.train_step = timed
    began = time.perf_counter()
    metrics = read_jsonl(t.run(runs_dir=tmp_path).run_dir / "metrics.jsonl")
    wall = time.perf_counter() - began
    seconds = [m["seconds"] for m in metrics]
    assert all(s >= step for s, step in zip(seconds, spent, strict=True))
    assert 0 < sum(seconds) < wall


@pytest.mark.parametrize(
    ("n", "batchnorm", "bounds"),
    [
        (65, True, [[0, 32], [32, 65]]),  # a last batch of one sample joins the one before
        (33, True, [[0, 33]]),  # also when the one before is the only other
        (65, False, [[0, 32], [32, 64], [64, 65]]),  # without batch norm it is a batch
        (66, True, [[0, 32], [32, 64], [64, 66]]),  # two samples: a batch of its own
        (64, True, [[0, 32], [32, 64]]),
        (1, True, [[0, 1]]),  # the only batch stays, whatever its size
    ],
)
def test_batch_norm_never_trains_on_a_batch_of_one_sample(n, batchnorm, bounds):
    assert batch_bounds(n, 32, batchnorm).tolist() == bounds


def test_env_json_names_a_missing_package_as_null_and_no_git_as_no_commit(monkeypatch):
    installed = importlib.metadata.version

    def version(name: str) -> str:
        if name == "torch":
            raise importlib.metadata.PackageNotFoundError(name)
        return installed(name)

    def no_git(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory", "git")

    def slow_git(*args, **kwargs):
        raise subprocess.TimeoutExpired("git", 5)

    monkeypatch.setattr(importlib.metadata, "version", version)
    monkeypatch.setattr(subprocess, "run", no_git)
    versions, commit = _installed.__wrapped__()  # not the cached answer of this process
    assert dict(versions)["torch"] is None and dict(versions)["numpy"] == np.__version__
    assert [name for name, _ in versions] == ["python", "mlpx", "numpy", "torch", "scikit-learn"]
    assert commit is None
    monkeypatch.setattr(subprocess, "run", slow_git)
    assert _installed.__wrapped__()[1] is None


def test_env_json_holds_each_fact_under_its_own_name():
    backend = SimpleNamespace(name="numpy", device="cpu", threads=3)
    versions, commit = _installed()
    assert environment(backend, ["mlpx", "train", "c.yaml"]) == {
        "versions": dict(versions),
        "backend": "numpy",
        "device": "cpu",
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "threads": 3,
        "git_commit": commit,
        "command": ["mlpx", "train", "c.yaml"],
    }
    assert environment(backend, None)["command"] == sys.argv  # no command given: this one


def test_started_with_records_the_config_its_hash_and_the_data_fingerprint(tmp_path):
    t = trainer(tmp_path)
    assert t.started_with() == {
        "config_sha256": t.config.sha256(),
        "config": t.config.to_dict(),
        "data_digest": t.dataset.digest(),
    }  # digits: no file of the user's to record


def test_started_with_records_the_users_npz_file_by_its_real_path_and_hash(tmp_path, monkeypatch):
    (tmp_path / "real").mkdir()
    write_challenge(tmp_path / "real" / "d.npz", n=200, features=8, classes=3, seed=0)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    # another dataset ignores data.path: there is no file of the user's to record
    digits = trainer(tmp_path, f"data.path={tmp_path / 'real' / 'd.npz'}")
    assert "data_file" not in digits.started_with()
    monkeypatch.chdir(tmp_path)
    npz = Trainer(load_config(None, ["data.name=npz", "data.path=link/d.npz", "model.hidden=[4]"]))
    real = tmp_path.resolve() / "real" / "d.npz"
    sha256 = hashlib.sha256(real.read_bytes()).hexdigest()
    assert npz.started_with()["data_file"] == {"path": str(real), "sha256": sha256}


def test_summary_json_names_the_run_its_data_model_and_process(tmp_path):
    import os
    import socket
    import time

    t = trainer(tmp_path, "train.epochs=1")
    before = time.time()
    result = t.run(runs_dir=tmp_path)
    summary = read_json(result.run_dir / "summary.json")
    expected = {
        "status": "completed",
        "name": "digits-simple",
        "run_dir": str(result.run_dir),
        "dataset": "digits",
        "task": "classification",
        "loss": "cross_entropy",
        "backend": "numpy",
        "device": "cpu",
        "model": "64-16-10 relu simple",
        "n_params": 64 * 16 + 16 + 16 * 10 + 10,  # weights and biases of two layers
        "epochs_planned": 1,
        "epochs_completed": 1,
        "pid": os.getpid(),
        "host": socket.gethostname(),
    }
    assert {key: summary[key] for key in expected} == expected
    assert before - 1 <= summary["started"] <= summary["finished"] <= time.time()
    # a fresh run's time is its own wall time, nothing carried over
    assert summary["seconds"] == pytest.approx(summary["finished"] - summary["started"], abs=1e-6)
    assert "seconds_before" not in summary


def test_summary_json_says_running_with_no_epoch_done_until_the_first_ends(tmp_path):
    """What a reader (mlpx runs, a resume after a crash) finds while the first epoch trains."""
    t = trainer(tmp_path, "train.epochs=2")
    training = t.training(runs_dir=tmp_path)
    next(training)  # the first epoch's steps are done; its record is not written yet
    (run,) = tmp_path.iterdir()
    summary = read_json(run / "summary.json")
    assert (summary["status"], summary["epochs_completed"]) == ("running", 0)
    assert summary["started_with"] == t.started_with()
    assert drain(training).status == "completed"
    assert read_json(run / "summary.json")["epochs_completed"] == 2


@pytest.mark.parametrize(("every", "written"), [(1e9, [1, 5]), (0.0, [1, 2, 3, 4, 5, 5])])
def test_a_checkpoint_follows_the_first_epoch_then_at_most_every_checkpoint_seconds(
    tmp_path, every, written
):
    """Written after epoch 1, then once ``checkpoint_seconds`` have passed since the last, and
    when the run stops; each holds the epoch just completed."""
    t = trainer(tmp_path, "train.epochs=5")
    t.checkpoint_seconds = every
    epochs: list[int] = []
    write = t._write_checkpoint
    t._write_checkpoint = lambda run: (epochs.append(int(t._snapshot["epoch"])), write(run))[1]
    result = t.run(runs_dir=tmp_path)
    assert epochs == written
    with np.load(result.run_dir / "checkpoint.npz") as checkpoint:
        assert int(checkpoint["epoch"]) == 5


@pytest.mark.parametrize("epoch", [1, 2])
def test_a_diverged_epoch_logs_its_steps_to_the_first_bad_loss_and_keeps_the_last_good_model(
    tmp_path, epoch
):
    """The epoch's losses turn inf at its third step (then nan): steps.csv ends at that step,
    the message names it and its loss, and model.npz holds the last complete epoch's weights
    (none diverging in epoch 1: no model at all)."""
    t = trainer(tmp_path, "train.epochs=4", "optimizer.lr=0.1")
    steps = len(t.batches)
    end_epoch, kept = t.backend.end_epoch, {}

    def diverging():
        stats = end_epoch()
        if t.summary["epochs_completed"] < epoch - 1:
            kept.update({k: v.copy() for k, v in t.backend.params().items()})
            return stats
        losses = stats.losses.copy()
        losses[2], losses[3:] = np.inf, np.nan
        return replace(stats, losses=losses)

    t.backend.end_epoch = diverging
    result = t.run(runs_dir=tmp_path)
    assert result.status == "diverged" and result.summary["epochs_completed"] == epoch - 1
    bad_step = (epoch - 1) * steps + 3
    assert result.summary["message"] == (
        f"training diverged at epoch {epoch}, step {bad_step} (loss inf); try a smaller "
        "optimizer.lr (now 0.1)"
    )
    with open(result.run_dir / "steps.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [(int(r["step"]), int(r["epoch"])) for r in rows] == [
        (s, 1 + (s - 1) // steps) for s in range(1, bad_step + 1)
    ]
    assert rows[-1]["loss"] == "inf" and np.isfinite([float(r["loss"]) for r in rows[:-1]]).all()
    if epoch == 1:
        assert not (result.run_dir / "model.npz").exists()
        return
    with np.load(result.run_dir / "model.npz") as model:
        assert set(model.files) == set(kept)
        for name, value in kept.items():
            np.testing.assert_array_equal(model[name], value, err_msg=name)


def test_an_epochs_train_loss_and_acc_are_its_batches_weighted_and_its_correct_over_n(tmp_path):
    """train_loss: the mean of the epoch's batch losses weighted by batch size (the last
    batch is smaller); train_acc: the samples classified right while training over n."""
    t = trainer(tmp_path, "train.epochs=2")
    end_epoch, seen = t.backend.end_epoch, []
    t.backend.end_epoch = lambda: (seen.append(end_epoch()), seen[-1])[1]
    metrics = read_jsonl(t.run(runs_dir=tmp_path).run_dir / "metrics.jsonl")
    n = len(t.dataset.y_train)
    sizes = [stop - start for start, stop in t.batches.tolist()]
    assert n == 240 and sizes == [64, 64, 64, 48]
    for record, stats in zip(metrics, seen, strict=True):
        assert 0 < stats.correct <= n
        assert record["train_acc"] == stats.correct / n
        assert record["train_loss"] == pytest.approx(sum(np.multiply(stats.losses, sizes)) / n)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_runs_data_are_held_in_its_configs_dtype(tmp_path, dtype):
    # cast once, as the data are loaded: float32 data take half the memory of float64
    t = trainer(tmp_path, f"dtype={dtype}")
    splits = [t.dataset.x_train, t.dataset.x_val, t.dataset.x_test]
    assert [x.dtype for x in splits if x is not None] == [np.dtype(dtype)] * 2


def test_a_model_that_fits_in_float32_but_not_in_float64_is_refused_only_in_float64(
    tmp_path, monkeypatch
):
    # the estimate by hand, digits 64 -> [16] -> 10 at batch 64: weights, gradients and two
    # optimizer slots (4 x 1,210 parameters), the float64 draw of the largest layer (64 x 16)
    # and a batch's activations (4 x 64 x 90 values)
    needed = {size: 4 * 1210 * size + 8 * 64 * 16 + 4 * 64 * 90 * size for size in (4, 8)}
    assert needed == {4: 119_712, 8: 231_232}
    configs = {
        dtype: load_config("configs/digits.yaml", [*BASE, f"dtype={dtype}"])
        for dtype in ("float32", "float64")
    }
    data = {dtype: load_dataset(c.data, c.seed, c.dtype, c.task) for dtype, c in configs.items()}
    monkeypatch.setattr("mlpx.memory.available_bytes", lambda: 150_000)
    Trainer(configs["float32"], dataset=data["float32"])
    with pytest.raises(ConfigError) as refused:
        Trainer(configs["float64"], dataset=data["float64"])
    assert str(refused.value) == (
        "model.hidden [16] (1,210 parameters) needs about 231232 bytes of memory but 150000 "
        "bytes is available; use a smaller model"
    )


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_batch_norm_trains_when_the_training_rows_leave_one_over(tmp_path, backend):
    # n training rows in batches of n - 1: the one left over joins the batch before (torch
    # refuses to train batch norm on one sample)
    n = len(trainer(tmp_path).dataset.y_train)
    complex_bn = ["model.kind=complex", "model.batchnorm=true", f"train.batch_size={n - 1}"]
    t = trainer(tmp_path, *complex_bn, "train.epochs=1", backend=backend)
    assert t.batches.tolist() == [[0, n]]
    assert t.run(runs_dir=tmp_path).status == "completed"
