"""NumPy and PyTorch backends: same weights, same batches, same losses step by step."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from conftest import read_json

GRID = {
    "sgd-relu-l2": ["optimizer.name=sgd", "optimizer.lr=0.1", "regularization.l2=1e-3"],
    "momentum-tanh-deep-l1": [
        "optimizer.name=momentum",
        "optimizer.lr=0.02",
        "model.activation=tanh",
        "model.hidden=[32,16]",
        "regularization.l1=1e-4",
    ],
    "nesterov-sigmoid": [
        "optimizer.name=nesterov",
        "optimizer.lr=0.05",
        "model.activation=sigmoid",
        "model.hidden=[16]",
    ],
    "adam-batchnorm": ["model.kind=complex", "model.hidden=[32,16]"],
    "adamw-amsgrad-tanh-batchnorm-l1-l2": [
        "optimizer.name=adamw",
        "optimizer.amsgrad=true",
        "model.kind=complex",
        "model.activation=tanh",
        "regularization.l1=1e-4",
        "regularization.l2=1e-3",
    ],
    "rmsprop-centered-momentum-wd": [
        "optimizer.name=rmsprop",
        "optimizer.lr=1e-3",
        "optimizer.centered=true",
        "optimizer.momentum=0.5",
        "optimizer.weight_decay=1e-3",
        "model.hidden=[64]",
    ],
    "sgd-momentum-dampening": [
        "optimizer.name=sgd",
        "optimizer.lr=0.05",
        "optimizer.momentum=0.9",
        "optimizer.dampening=0.1",
    ],
    "adadelta-tanh": ["optimizer.name=adadelta", "model.activation=tanh"],
    "adamax-batchnorm": ["optimizer.name=adamax", "model.kind=complex"],
    "nadam-decoupled-wd": [
        "optimizer.name=nadam",
        "optimizer.decoupled_weight_decay=true",
        "optimizer.weight_decay=0.01",
    ],
    "radam-l2": ["optimizer.name=radam", "optimizer.lr=0.01", "regularization.l2=1e-3"],
    "adagrad-sigmoid-batchnorm": [
        "optimizer.name=adagrad",
        "optimizer.lr=0.05",
        "model.kind=complex",
        "model.activation=sigmoid",
        "model.init=xavier",
    ],
    "adam-three-layers-decay": [
        "model.hidden=[32,32,32]",
        "optimizer.lr_decay=0.8",
        "regularization.l1=1e-5",
        "regularization.l2=1e-4",
        "model.init=uniform",
    ],
    # Layers of >= 65,536 parameters: the numpy backend steps each inside the backward pass
    # (two segments here), plain SGD with -lr folded into the gradients.
    "sgd-wide-fused-l2": [
        "optimizer.name=sgd",
        "optimizer.lr=0.05",
        "model.hidden=[1100,64]",
        "regularization.l2=1e-3",
    ],
    "momentum-wide-fused-l1-wd": [
        "optimizer.name=momentum",
        "optimizer.lr=0.02",
        "optimizer.weight_decay=1e-3",
        "model.hidden=[1100,64]",
        "regularization.l1=1e-4",
    ],
    "adagrad-wide-fused-batchnorm": [
        "optimizer.name=adagrad",
        "optimizer.lr=0.02",
        "model.kind=complex",
        "model.hidden=[1100,64]",
    ],
    # every schedule (the rate reaches each training step on both backends)
    "step-schedule-warmup": [
        "optimizer.name=momentum",
        "optimizer.lr=0.05",
        "schedule.name=step",
        "schedule.step_size=2",
        "schedule.gamma=0.5",
        "schedule.warmup_epochs=2",
    ],
    "multistep-schedule": ["schedule.name=multistep", "schedule.milestones=[2,5]"],
    "cosine-per-step-schedule": [
        "optimizer.name=sgd",
        "optimizer.lr=0.2",
        "schedule.name=cosine",
        "schedule.per=step",
    ],
    "plateau-schedule": [
        "optimizer.name=momentum",
        "optimizer.lr=0.3",
        "schedule.name=plateau",
        "schedule.patience=0",
        "schedule.factor=0.5",
    ],
    # Gradient clipping (issue 13): active on about half of the steps at these thresholds,
    # the penalty's gradient included; the wide net would otherwise step inside backprop.
    "sgd-clip-norm-l2": [
        "optimizer.name=sgd",
        "optimizer.lr=0.1",
        "regularization.l2=1e-3",
        "train.clip_grad_norm=0.5",
    ],
    "adam-clip-value-batchnorm": [
        "model.kind=complex",
        "model.hidden=[32,16]",
        "train.clip_grad_value=0.1",
    ],
    "momentum-wide-clip-norm-l1": [
        "optimizer.name=momentum",
        "optimizer.lr=0.02",
        "model.hidden=[1100,64]",
        "regularization.l1=1e-4",
        "train.clip_grad_norm=0.3",
    ],
    # every classification loss (issue 14); the regression losses: tests/test_regression.py
    "nll-momentum": ["loss=nll", "optimizer.name=momentum", "optimizer.lr=0.05"],
    "mse-softmax-batchnorm-l2": ["loss=mse", "model.kind=complex", "regularization.l2=1e-3"],
}
COMMON = ("dtype=float64", "train.epochs=9", "output.plots=false")  # 9 x 23 = 207 steps


def step_losses(run) -> np.ndarray:
    with open(run / "steps.csv") as handle:
        return np.array([float(row["loss"]) for row in csv.DictReader(handle)])


def assert_backends_agree(cli, overrides) -> dict[str, Path]:
    """Train the digits config with both backends in float64: the first 200 per-batch losses
    agree to 1e-6 relative and the final validation accuracies are equal. Returns the two
    runs by backend."""
    runs = {}
    for backend in ("numpy", "torch"):
        cli.train("configs/digits.yaml", *COMMON, *overrides, f"backend={backend}")
        runs[backend] = cli.last_run()
    numpy_losses, torch_losses = step_losses(runs["numpy"]), step_losses(runs["torch"])
    assert len(numpy_losses) == len(torch_losses) >= 200
    np.testing.assert_allclose(numpy_losses[:200], torch_losses[:200], rtol=1e-6)
    numpy_summary, torch_summary = (read_json(runs[b] / "summary.json") for b in runs)
    assert numpy_summary["final"]["val_acc"] == torch_summary["final"]["val_acc"]
    return runs


@pytest.mark.parametrize("overrides", GRID.values(), ids=GRID.keys())
def test_numpy_and_torch_agree_step_by_step(cli, overrides):
    assert_backends_agree(cli, overrides)


REGRESSION_GRID = {
    "mse-momentum": ["loss=mse", "optimizer.name=momentum", "optimizer.lr=0.05"],
    "mae-adam-batchnorm": ["loss=mae", "model.kind=complex", "optimizer.lr=0.01"],
    # huber_delta 0.5 on standardised targets: both of its branches occur
    "huber-sgd-l2": ["loss=huber", "huber_delta=0.5", "optimizer.name=sgd", "optimizer.lr=0.05",
                     "regularization.l2=1e-3"],
}  # fmt: skip


@pytest.mark.parametrize("overrides", REGRESSION_GRID.values(), ids=REGRESSION_GRID.keys())
def test_numpy_and_torch_regress_equally_step_by_step(cli, overrides):
    """Every regression loss on diabetes (354 training samples, batches of 32): the per-batch
    losses agree to 1e-6 relative and so do the final validation R²."""
    runs = {}
    for backend in ("numpy", "torch"):
        cli.train("configs/diabetes.yaml", *COMMON, *overrides, f"backend={backend}")
        runs[backend] = cli.last_run()
    numpy_losses, torch_losses = step_losses(runs["numpy"]), step_losses(runs["torch"])
    assert len(numpy_losses) == len(torch_losses) == 9 * 12
    np.testing.assert_allclose(numpy_losses, torch_losses, rtol=1e-6)
    finals = [read_json(runs[b] / "summary.json")["final"] for b in runs]
    assert finals[0]["val_r2"] == pytest.approx(finals[1]["val_r2"], abs=1e-9)


@pytest.mark.parametrize(
    "schedule",
    [
        ["schedule.name=step", "schedule.step_size=15", "schedule.gamma=0.5"],
        ["schedule.name=multistep", "schedule.milestones=[25,40]"],
        ["schedule.name=exponential", "schedule.gamma=0.98"],
        ["schedule.name=cosine", "optimizer.lr=0.003"],
        [
            "schedule.name=cosine",
            "schedule.per=step",
            "schedule.warmup_epochs=5",
            "optimizer.lr=0.003",
        ],
        ["schedule.name=plateau", "schedule.patience=3"],
    ],
    ids=["step", "multistep", "exponential", "cosine", "cosine-step-warmup", "plateau"],
)
def test_every_schedule_trains_digits_to_95_percent(cli, schedule):
    cli.train("configs/digits.yaml", "backend=numpy", "output.plots=false", *schedule)
    assert read_json(cli.last_run() / "summary.json")["final"]["val_acc"] >= 0.95


def test_numpy_backend_on_digits_reaches_95_percent(cli):
    cli.train("configs/digits.yaml", "backend=numpy")
    run = cli.last_run()
    assert (run / "model.npz").is_file()
    assert read_json(run / "summary.json")["final"]["val_acc"] >= 0.95


def test_toy_two_layer_net_trains_below_0_02(cli):
    cli.train("configs/toy.yaml")
    summary = read_json(cli.last_run() / "summary.json")
    assert summary["epochs_completed"] == 100  # 100 full-batch steps
    assert summary["final"]["train_loss"] < 0.02


def test_numpy_backend_refuses_cuda_in_one_line(cli):
    result = cli.train("configs/digits.yaml", "backend=numpy", "device=cuda", expect=2)
    assert "the numpy backend runs on the CPU only" in result.output
