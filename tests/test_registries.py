"""Registries are the extension points: an optimizer or a loss registered here, in the test,
trains on both backends with equal numbers and passes the gradient check, with no other code
changed; config names, hints and the sweep's grid come from the registries."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import read_jsonl
from test_parity import assert_backends_agree, step_losses

from mlpx import losses, optimizers
from mlpx.config import build_config
from mlpx.diagnostics.gradcheck import run_gradcheck
from mlpx.errors import ConfigError
from mlpx.losses import LOSSES, Loss
from mlpx.optimizers import OPTIMIZERS, Optimizer, TorchUpdate, UpdateRule
from mlpx.schedules import Schedule


class SoftsignMomentum(UpdateRule):
    """A rule no library ships: ``buf = beta * buf + g; w -= lr * buf / (1 + |buf|)``."""

    beta = 0.5

    def init_state(self, w):
        return {"buffer": np.zeros_like(w)}

    def update(self, w, dw, state, lr):
        buf = state["buffer"]
        buf *= self.beta
        buf += dw
        w -= lr * buf / (1 + np.abs(buf))


def softsign_momentum_torch(params, grads, buffers, *, lr, foreach):
    """Its torch counterpart, in the functional form torch.optim's updates take (no fused
    kernel: the backend falls back to foreach)."""
    for w, g, buf in zip(params, grads, buffers, strict=True):
        buf.mul_(SoftsignMomentum.beta).add_(g)
        w.sub_(lr * buf / (1 + buf.abs()))


SOFTSIGN = Optimizer(
    "softsign_momentum",
    "a throwaway rule registered by a test",
    numpy_rule=lambda settings: SoftsignMomentum(),
    torch_update=lambda settings: TorchUpdate(softsign_momentum_torch, ("buffer",), {}),
)


def brier(scores, y):
    """Squared error between softmax probabilities (N, C) and one-hot labels, summed over
    classes, mean over the batch; and its gradient with respect to the scores."""
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    d = p.copy()
    d[np.arange(len(y)), y] -= 1
    loss = float(np.sum(d * d)) / len(y)
    # d/ds of sum_c d_c^2 through the softmax Jacobian: 2 p * (d - sum_c d_c p_c)
    dscores = 2 * p * (d - np.sum(d * p, axis=1, keepdims=True)) / len(y)
    return loss, dscores.astype(scores.dtype)


def brier_torch():
    def loss(logits, y):
        onehot = torch.nn.functional.one_hot(y, logits.shape[1]).to(logits.dtype)
        return ((torch.softmax(logits, dim=1) - onehot) ** 2).sum(dim=1).mean()

    return loss


BRIER = Loss("brier", "a throwaway loss registered by a test", numpy=brier, torch=brier_torch)


@pytest.fixture
def registered():
    """The two throwaway entries, added the public way (``register``) and taken out after."""
    assert optimizers.register(SOFTSIGN) is SOFTSIGN and losses.register(BRIER) is BRIER
    yield
    del OPTIMIZERS[SOFTSIGN.name], LOSSES[BRIER.name]


@pytest.mark.usefixtures("registered")
def test_register_adds_an_entry_under_a_new_name_and_refuses_a_taken_one():
    assert OPTIMIZERS[SOFTSIGN.name] is SOFTSIGN and LOSSES[BRIER.name] is BRIER
    adam, cross_entropy = OPTIMIZERS["adam"], LOSSES["cross_entropy"]
    with pytest.raises(ValueError) as error:
        optimizers.register(replace(SOFTSIGN, name="adam"))
    assert str(error.value) == "an optimizer named 'adam' is registered already"
    with pytest.raises(ValueError) as error:
        losses.register(replace(BRIER, name="cross_entropy"))
    assert str(error.value) == "a loss named 'cross_entropy' is registered already"
    assert OPTIMIZERS["adam"] is adam and LOSSES["cross_entropy"] is cross_entropy


@pytest.mark.usefixtures("registered")
def test_a_registered_optimizer_and_loss_train_equally_on_both_backends(cli):
    overrides = ["optimizer.name=softsign_momentum", "optimizer.lr=0.05", "loss=brier"]
    assert_backends_agree(cli, [*overrides, "model.kind=complex", "model.hidden=[32,16]"])
    run = cli.last_run()
    assert "opt/W1/buffer" in np.load(run / "checkpoint.npz").files


@pytest.mark.usefixtures("registered")
def test_a_registered_loss_passes_the_gradient_check_on_its_own_and_by_default():
    config = build_config({"loss": "brier", "model": {"kind": "complex", "hidden": [7, 5]}})
    report = run_gradcheck(config, tol=1e-7, against_torch=True)
    assert report.passed and len(report.rows) == 2 * 10  # 10 parameters, two oracles
    default = run_gradcheck()
    assert default.passed
    assert {row.model for row in default.rows if row.model.endswith("loss brier")}


@pytest.mark.usefixtures("registered")
def test_a_registered_loss_with_a_wrong_gradient_fails_the_check(monkeypatch):
    def half_gradient(scores, y):
        loss, dscores = brier(scores, y)
        return loss, dscores / 2

    monkeypatch.setitem(LOSSES, "brier", Loss("brier", "", numpy=half_gradient, torch=brier_torch))
    report = run_gradcheck(build_config({"loss": "brier"}), against_torch=True)
    assert not report.passed
    assert all(not row.passed for row in report.rows if row.parameter.startswith("W"))


def test_unregistered_names_are_one_line_with_a_hint(registered):
    with pytest.raises(ConfigError) as error:
        build_config({}, ["optimizer.name=softsign_momentun"])
    assert str(error.value).startswith(
        "optimizer.name: 'softsign_momentun' is not allowed; did you mean 'softsign_momentum'? "
        "expected one of sgd, momentum, nesterov, adam, adamw, adamax, nadam, radam, rmsprop, "
        "adagrad, adadelta"
    )
    with pytest.raises(ConfigError, match="loss: 'hinge' is not allowed; expected one of"):
        build_config({}, ["loss=hinge"])


def test_names_outside_the_registry_are_refused():
    assert "softsign_momentum" not in OPTIMIZERS and "brier" not in LOSSES
    with pytest.raises(ConfigError, match="optimizer.name: 'softsign_momentum' is not allowed"):
        build_config({}, ["optimizer.name=softsign_momentum"])
    with pytest.raises(ConfigError, match="loss: 'brier' is not allowed"):
        build_config({}, ["loss=brier"])


class StepWarmup(Schedule):
    """A schedule that changes the rate within an epoch: linear warmup over 30 steps."""

    steps_per_epoch = 23  # digits' training part at batch size 64

    def rate(self, epoch, step):
        global_step = (epoch - 1) * self.steps_per_epoch + step
        return 0.05 * min(1.0, (global_step + 1) / 30)


def test_a_per_step_schedule_reaches_both_backends_with_no_backend_change(cli, monkeypatch):
    from mlpx import train

    overrides = ["optimizer.name=momentum", "model.hidden=[16]"]
    cli.train("configs/digits.yaml", *overrides, "optimizer.lr=0.05", "dtype=float64",
              "train.epochs=2", "output.plots=false", "backend=numpy")  # fmt: skip
    constant = step_losses(cli.last_run())
    monkeypatch.setattr(train, "schedule_for", lambda config, steps_per_epoch: StepWarmup())
    runs = assert_backends_agree(cli, overrides)
    # the first step's rate is 0.05 / 30, not 0.05: from the second step on, losses differ
    # (the same backend's: torch's first loss may differ from NumPy's in the last bit)
    warmed = step_losses(runs["numpy"])
    assert warmed[0] == constant[0] and abs(warmed[1] - constant[1]) > 1e-3
    lrs = [record["lr"] for record in read_jsonl(runs["numpy"] / "metrics.jsonl")]
    assert lrs[:2] == [0.05 / 30, 0.05 * 24 / 30]  # each epoch's first rate
