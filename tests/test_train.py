"""`mlpx train` end to end: the files a run leaves behind and the numbers in them."""

from __future__ import annotations

import csv
import tempfile

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
import yaml
from conftest import mlpx_imports, read_json, read_jsonl
from oracles import digits_split

from mlpx.config import load_config
from mlpx.optimizers import OPTIMIZERS

QUICK = ("train.epochs=3",)


def test_digits_reaches_95_percent_and_writes_every_file(cli):
    result = cli.train("configs/digits.yaml")
    run = cli.last_run()
    names = {p.name for p in run.iterdir()}
    expected = {
        "config.yaml",
        "env.json",
        "metrics.jsonl",
        "steps.csv",
        "summary.json",
        "model.pt",
        "report.txt",
        "plots",
    }
    assert expected <= names
    summary = read_json(run / "summary.json")
    assert summary["status"] == "completed"
    assert summary["final"]["val_acc"] >= 0.95
    assert "completed" in result.output and "final validation" in result.output
    metrics = read_jsonl(run / "metrics.jsonl")
    assert [m["epoch"] for m in metrics] == list(range(1, 51))
    # the summary is what metrics.jsonl says
    assert summary["final"]["val_acc"] == metrics[-1]["val_acc"]
    # the best row is one epoch's numbers: the epoch of lowest validation loss
    best = min(metrics, key=lambda m: m["val_loss"])
    assert summary["best_epoch"] == best["epoch"]
    assert summary["model_epoch"] == 50  # no restore_best: the last epoch's weights
    assert summary["best_val_loss"] == best["val_loss"]
    assert summary["best_val_acc"] == best["val_acc"]
    assert f"best validation (epoch {best['epoch']}, lowest loss)" in result.output
    # steps.csv: one line per batch, ceil(1438 / 64) = 23 per epoch
    with open(run / "steps.csv") as handle:
        steps = list(csv.DictReader(handle))
    assert len(steps) == 50 * 23
    assert [int(s["step"]) for s in steps] == list(range(1, 50 * 23 + 1))
    first_epoch = np.array([float(s["loss"]) for s in steps[:23]])
    sizes = np.array([64] * 22 + [1438 - 22 * 64])
    assert metrics[0]["train_loss"] == pytest.approx(np.dot(first_epoch, sizes) / 1438)
    for png in ("loss", "accuracy", "confusion", "misclassified"):
        image = mpimg.imread(run / "plots" / f"{png}.png")
        assert image.shape[0] > 100 and image.shape[1] > 100
    report = (run / "report.txt").read_text()
    assert "precision" in report and "Confusion matrix" in report
    env = read_json(run / "env.json")
    assert env["versions"]["torch"] and env["device"] == "cpu"
    assert env["threads"] == 1  # threads: auto on digits' small steps


def test_best_row_is_the_epoch_of_lowest_validation_loss_not_a_max_over_epochs():
    from mlpx.train import summarize

    history = [
        {"epoch": 1, "train_loss": 0.9, "train_acc": 0.7, "val_loss": 0.50, "val_acc": 0.90},
        {"epoch": 2, "train_loss": 0.5, "train_acc": 0.8, "val_loss": 0.30, "val_acc": 0.99},
        {"epoch": 3, "train_loss": 0.3, "train_acc": 0.9, "val_loss": 0.20, "val_acc": 0.96},
        {"epoch": 4, "train_loss": 0.2, "train_acc": 0.9, "val_loss": 0.20, "val_acc": 0.97},
    ]
    summary = summarize(history)
    # epoch 3: the first of the lowest losses, with its own accuracy (not epoch 2's 0.99)
    assert (summary["best_epoch"], summary["best_val_loss"], summary["best_val_acc"]) == (
        3,
        0.20,
        0.96,
    )
    assert summary["final"]["val_acc"] == 0.97


def test_summary_holds_the_final_epochs_metrics_and_the_best_epochs_own_numbers():
    from mlpx.train import summarize

    times = {"lr": 0.1, "seconds": 0.5}
    classes = [
        {"epoch": 1, "train_loss": 0.9, "train_acc": 0.7, "val_loss": 0.5, "val_acc": 0.9} | times,
        {"epoch": 2, "train_loss": 0.5, "train_acc": 0.8, "val_loss": 0.6, "val_acc": 0.95} | times,
    ]
    assert summarize(classes) == {
        "final": {"train_loss": 0.5, "train_acc": 0.8, "val_loss": 0.6, "val_acc": 0.95},
        "best_epoch": 1,
        "best_val_loss": 0.5,
        "best_train_loss": 0.9,
        "best_val_acc": 0.9,
        "best_train_acc": 0.7,
    }
    regression = [
        {"epoch": 1, "train_loss": 2.0, "val_loss": 1.5, "val_mae": 1.1, "val_r2": 0.3} | times,
        {"epoch": 2, "train_loss": 1.0, "val_loss": 0.5, "val_mae": 0.6, "val_r2": 0.8} | times,
    ]
    assert summarize(regression) == {
        "final": {"train_loss": 1.0, "val_loss": 0.5, "val_mae": 0.6, "val_r2": 0.8},
        "best_epoch": 2,
        "best_val_loss": 0.5,
        "best_train_loss": 1.0,
        "best_val_r2": 0.8,
    }
    no_validation = [{"epoch": e, "train_loss": 1 / e, "train_acc": 0.5} | times for e in (1, 2)]
    assert summarize(no_validation) == {
        "final": {"train_loss": 0.5, "train_acc": 0.5},
        "best_epoch": 2,
    }
    assert summarize([]) == {"final": None, "best_epoch": None}


def test_resolved_config_reloads_to_the_same_run(cli):
    cli.train("configs/digits.yaml", *QUICK, "optimizer.lr=0.01", "model.hidden=[16,8]")
    first = cli.last_run()
    saved = yaml.safe_load((first / "config.yaml").read_text())
    assert saved["optimizer"]["lr"] == 0.01 and saved["model"]["hidden"] == [16, 8]
    assert saved["train"]["early_stopping"] is None  # every default filled in
    cli.train(first / "config.yaml")
    second = cli.last_run()
    assert second != first
    # same seed, same config: the same numbers, epoch by epoch
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(read_jsonl(first / "metrics.jsonl")) == strip(read_jsonl(second / "metrics.jsonl"))
    assert (first / "steps.csv").read_text() == (second / "steps.csv").read_text()


def test_another_seed_gives_other_numbers(cli):
    cli.train("configs/digits.yaml", *QUICK)
    cli.train("configs/digits.yaml", *QUICK, "seed=1")
    a, b = (read_jsonl(run / "metrics.jsonl") for run in cli.run_dirs())
    assert a[-1]["train_loss"] != b[-1]["train_loss"]


def test_saved_model_reproduces_validation_accuracy(cli):
    cli.train("configs/digits.yaml", *QUICK)
    run = cli.last_run()
    weights = torch.load(run / "model.pt", weights_only=True)
    assert weights["W1"].shape == (64, 32) and weights["W2"].shape == (32, 10)
    _, _, x_val, y_val, _, _ = digits_split(seed=0, fraction=0.2)  # not mlpx's loader
    hidden = np.maximum(x_val @ weights["W1"].double().numpy() + weights["b1"].double().numpy(), 0)
    logits = hidden @ weights["W2"].double().numpy() + weights["b2"].double().numpy()
    accuracy = np.mean(logits.argmax(1) == y_val)
    assert accuracy == pytest.approx(read_json(run / "summary.json")["final"]["val_acc"])


def test_complex_model_reaches_95_percent(cli):
    cli.train("configs/digits-complex.yaml", "train.epochs=15", "output.plots=false")
    summary = read_json(cli.last_run() / "summary.json")
    assert summary["final"]["val_acc"] >= 0.95
    assert summary["model"] == "64-128-64-10 relu complex"


def test_no_validation_split_means_absent_not_zero(cli):
    cli.train("configs/toy.yaml", "backend=torch", "train.epochs=5")
    run = cli.last_run()
    metrics = read_jsonl(run / "metrics.jsonl")
    assert len(metrics) == 5 and "val_loss" not in metrics[0] and "val_acc" not in metrics[0]
    summary = read_json(run / "summary.json")
    assert "best_val_acc" not in summary and "val_acc" not in summary["final"]


def test_synth_has_a_test_split_and_a_decision_boundary(cli):
    cli.train("configs/synth.yaml", "train.epochs=2")
    run = cli.last_run()
    summary = read_json(run / "summary.json")
    assert summary["test"]["acc"] > 0.9
    assert (run / "plots" / "boundary.png").is_file()
    assert not (run / "plots" / "misclassified.png").exists()


def test_npz_dataset_with_unlabeled_test_x_writes_predictions(cli, tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3, 4))
    y = (x.reshape(300, -1).sum(1) > 0).astype(np.int64)
    np.savez(tmp_path / "challenge.npz", data_x=x, data_y=y, test_x=x[:17])
    cli.train("configs/digits.yaml", *QUICK, "data.name=npz", f"data.path={tmp_path}/challenge.npz")
    run = cli.last_run()
    predictions = (run / "predictions.csv").read_text().split()
    assert len(predictions) == 17 and set(predictions) <= {"0", "1"}


@pytest.mark.parametrize(
    ("images", "plots", "says_why"),
    [(True, True, True), (False, True, False), (True, False, False)],
    ids=["images-plots", "features-plots", "images-no-plots"],
)
def test_report_says_why_there_is_no_misclassified_png_only_where_it_would_be_drawn(
    cli, tmp_path, images, plots, says_why
):
    rng = np.random.default_rng(0)
    y = np.arange(200) % 2
    x = y[:, None, None] * 4.0 + rng.normal(0, 0.1, (200, 4, 4))  # dark or light: all right
    np.savez(tmp_path / "easy.npz", data_x=x if images else x.reshape(200, 16), data_y=y)
    data = f"data.path={tmp_path}/easy.npz"
    plotting = f"output.plots={str(plots).lower()}"
    cli.train("configs/digits.yaml", "data.name=npz", data, "train.epochs=20", "optimizer.lr=0.01",
              plotting)  # fmt: skip
    run = cli.last_run()
    assert read_json(run / "summary.json")["final"]["val_acc"] == 1.0
    last = (run / "report.txt").read_text().splitlines()[-1]
    why = " (so there is no misclassified.png)"
    assert last == "No val sample is misclassified" + (why if says_why else "")
    assert (run / "plots").is_dir() == plots and not (run / "plots/misclassified.png").exists()


SENSIBLE_LR = {
    "sgd": 0.2,
    "momentum": 0.05,
    "nesterov": 0.05,
    "adam": 0.01,
    "adamw": 0.01,
    "adamax": 0.02,
    "nadam": 0.01,
    "radam": 0.02,
    "rmsprop": 0.003,
    "adagrad": 0.1,
    "adadelta": 1.0,
}


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_every_optimizer_reaches_95_percent_on_digits(cli, optimizer):
    cli.train(
        "configs/digits.yaml",
        "train.epochs=8",
        f"optimizer.name={optimizer}",
        f"optimizer.lr={SENSIBLE_LR[optimizer]}",
        "output.plots=false",
    )
    metrics = read_jsonl(cli.last_run() / "metrics.jsonl")
    assert metrics[-1]["val_acc"] >= 0.95, metrics[-1]


def test_lr_decay_and_early_stopping(cli):
    cli.train(
        "configs/digits.yaml",
        "optimizer.lr_decay=0.5",
        "train.epochs=30",
        "train.early_stopping=2",
        "optimizer.lr=0.05",
        "output.plots=false",
    )
    run = cli.last_run()
    metrics = read_jsonl(run / "metrics.jsonl")
    assert [m["lr"] for m in metrics[:3]] == [0.05, 0.025, 0.0125]
    summary = read_json(run / "summary.json")
    assert len(metrics) < 30 and summary["status"] == "completed"
    losses = [m["val_loss"] for m in metrics]
    best = losses.index(min(losses)) + 1
    assert summary["best_epoch"] == best and len(metrics) == best + 2  # patience 2
    assert summary["message"].startswith(f"early stopping at epoch {best + 2}:")


@pytest.mark.parametrize("option", ["train.early_stopping=3", "train.restore_best=true"])
def test_early_stopping_or_restore_best_without_validation_is_a_config_error(cli, option):
    result = cli.train("configs/toy.yaml", option, expect=2)
    assert f"{option.split('=')[0]}: needs a validation split" in result.output


RESTORE_BEST = (
    "model.hidden=[128]",
    "optimizer.lr=0.01",
    "train.epochs=12",
    "train.restore_best=true",
    "output.plots=false",
)


class InterruptAfter:
    """An observer that presses Ctrl-C once epoch ``epoch`` is complete."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_start(self, *args) -> None: ...

    def on_step(self, epoch: int, step: int) -> None: ...

    def on_epoch(self, record: dict) -> None:
        if record["epoch"] == self.epoch:
            raise KeyboardInterrupt


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_restore_best_saves_the_best_epoch_and_survives_a_resume(cli, tmp_path, backend):
    from mlpx.backends import backend_class
    from mlpx.train import Trainer, open_resume

    output = cli.train("configs/digits.yaml", *RESTORE_BEST, f"backend={backend}").output
    whole = cli.last_run()
    summary = read_json(whole / "summary.json")
    metrics = read_jsonl(whole / "metrics.jsonl")
    best = min(metrics, key=lambda m: m["val_loss"])
    assert best["epoch"] < 12  # the last epoch is not the best: restoring changes the model
    assert summary["model_epoch"] == summary["best_epoch"] == best["epoch"]
    assert f"the model is epoch {best['epoch']}'s (train.restore_best)" in output
    load = backend_class(backend).load_model
    weights = load(whole / backend_class(backend).model_filename)
    # the saved model is the best epoch's: its validation loss and accuracy are that epoch's
    config = load_config(whole / "config.yaml")
    _, _, x_val, y_val, _, _ = digits_split(seed=config.seed, fraction=0.2)  # not mlpx's loader
    w = {name: np.asarray(value, dtype=np.float64) for name, value in weights.items()}
    hidden = np.maximum(x_val @ w["W1"] + w["b1"], 0)
    logits = hidden @ w["W2"] + w["b2"]
    shifted = logits - logits.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    loss = -log_p[np.arange(len(y_val)), y_val].mean()
    assert loss == pytest.approx(best["val_loss"], rel=1e-5)
    assert loss != pytest.approx(metrics[-1]["val_loss"], rel=1e-3)
    assert np.mean(logits.argmax(1) == y_val) == pytest.approx(best["val_acc"])

    # interrupted two epochs after the best one, then resumed: the same model
    stop = min(best["epoch"] + 2, 11)
    trainer = Trainer(config, InterruptAfter(stop))
    interrupted = trainer.run(runs_dir=tmp_path / "interrupted")
    assert interrupted.status == "interrupted" and interrupted.summary["epochs_completed"] == stop
    assert interrupted.summary["model_epoch"] == best["epoch"]
    resumed_trainer, run, checkpoint = open_resume(interrupted.run_dir)
    resumed = resumed_trainer.resume(run, checkpoint)
    assert resumed.status == "completed" and resumed.summary["model_epoch"] == best["epoch"]
    again = load(interrupted.run_dir / backend_class(backend).model_filename)
    for name, value in weights.items():
        np.testing.assert_array_equal(again[name], value, err_msg=name)


class InterruptAtStep(InterruptAfter):
    """An observer that presses Ctrl-C in the middle of epoch ``epoch``."""

    def on_epoch(self, record: dict) -> None: ...

    def on_step(self, epoch: int, step: int) -> None:
        if (epoch, step) == (self.epoch, 5):
            raise KeyboardInterrupt


def test_ctrl_c_inside_an_epoch_saves_the_last_complete_epochs_model(tmp_path):
    """The model of a run interrupted in epoch 3 is epoch 2's, as its checkpoint holds it,
    not the weights the cut-short epoch had reached."""
    from mlpx.backends.numpy import NumpyBackend
    from mlpx.config import build_config
    from mlpx.train import Trainer

    config = load_config("configs/digits.yaml").to_dict()
    config |= {"backend": "numpy", "output": {"plots": False}}
    config["train"]["epochs"] = 4
    result = Trainer(build_config(config), InterruptAtStep(3)).run(runs_dir=tmp_path)
    assert result.status == "interrupted"
    assert result.summary["epochs_completed"] == result.summary["model_epoch"] == 2
    model = NumpyBackend.load_model(result.run_dir / NumpyBackend.model_filename)
    with np.load(result.run_dir / "checkpoint.npz") as checkpoint:
        assert int(checkpoint["epoch"]) == 2
        for name, value in model.items():
            np.testing.assert_array_equal(value, checkpoint[name], err_msg=name)


def test_diverging_run_stops_with_status_and_exit_1(cli):
    result = cli.train(
        "configs/digits.yaml",
        "optimizer.name=sgd",
        "optimizer.lr=1e6",
        "model.hidden=[256,256]",
        "train.epochs=5",
        expect=1,
    )
    assert "diverged at epoch" in result.output and "smaller optimizer.lr" in result.output
    summary = read_json(cli.last_run() / "summary.json")
    assert summary["status"] == "diverged"


def test_a_crash_inside_training_is_recorded_as_failed_and_told_in_one_line(
    cli, monkeypatch, tmp_path
):
    """A step that raises in epoch 2: exit 1 naming the error and summary.json, which says
    "failed" with the error; the checkpoint keeps epoch 1 and no model or report is written."""
    from mlpx.backends.numpy import NumpyBackend

    steps, train_step = [], NumpyBackend.train_step

    def crashing(self, start, stop, lr):
        steps.append(start)
        if len(steps) == 30:  # digits: 23 steps an epoch
            raise RuntimeError("boom")
        train_step(self, start, stop, lr)

    monkeypatch.setattr(NumpyBackend, "train_step", crashing)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the traceback goes
    result = cli.train("configs/digits.yaml", *QUICK, "backend=numpy", expect=1)
    run = cli.last_run()
    (traceback,) = tmp_path.glob("mlpx-traceback-*.txt")
    assert result.output.splitlines()[-1] == (
        f"error: training failed: internal error: RuntimeError: boom; the traceback is in "
        f"{traceback} (please report it) (see {run / 'summary.json'})"
    )
    assert traceback.read_text().endswith("RuntimeError: boom\n")
    summary = read_json(run / "summary.json")
    assert (summary["status"], summary["message"]) == ("failed", "RuntimeError: boom")
    assert summary["epochs_completed"] == 1 and "model_epoch" not in summary
    assert not (run / "model.npz").exists() and not (run / "report.txt").exists()
    with np.load(run / "checkpoint.npz") as checkpoint:
        assert int(checkpoint["epoch"]) == 1


def test_cuda_requested_without_gpu_is_one_line(cli):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    result = cli.train("configs/digits.yaml", "device=cuda", expect=2)
    assert "no CUDA GPU is available" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_two_runs_in_the_same_second_get_their_own_directories(tmp_path):
    from mlpx.runs import RunDir

    paths = {RunDir.create(tmp_path, "same").path for _ in range(3)}
    assert len(paths) == 3


def test_unwritable_runs_dir_fails_before_training(cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = cli("train", "configs/digits.yaml", "--runs-dir", blocker / "runs", expect=2)
    assert "output.runs_dir" in result.output


def test_runs_lists_newest_first(cli):
    cli.train("configs/digits.yaml", *QUICK, "name=first", "output.plots=false")
    cli.train("configs/digits.yaml", *QUICK, "name=second", "output.plots=false")
    table = cli("runs", cli.runs_dir).output
    assert table.index("-second") < table.index("-first")
    assert "completed" in table and "adam" in table


def test_help_does_not_import_heavy_libraries():
    stdout, imported = mlpx_imports("--help")
    assert "train" in stdout
    assert not imported & {"torch", "matplotlib", "sklearn", "scipy", "torchvision"}
