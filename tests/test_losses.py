"""The losses of issue 14 (nll, mse for classification; mse, mae, huber for regression):
NumPy values and gradients against torch.nn's modules, and what they do on digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import read_json
from test_parity import step_losses

from mlpx.losses import LOSSES

COMMON = ("dtype=float64", "train.epochs=3", "output.plots=false", "optimizer.name=momentum",
          "optimizer.lr=0.05")  # fmt: skip


def scores_and_labels(n=12, c=5, seed=0):
    rng = np.random.default_rng(seed)
    return 3 * rng.standard_normal((n, c)), rng.integers(0, c, size=n)


def torch_value_and_grad(module, outputs, targets):
    out = torch.tensor(outputs, requires_grad=True)
    loss = module(out, torch.as_tensor(targets))
    loss.backward()
    return loss.item(), out.grad.numpy()


@pytest.mark.parametrize(
    "name, module",
    [
        ("cross_entropy", lambda s, y: torch.nn.CrossEntropyLoss()(s, y)),
        ("nll", lambda s, y: torch.nn.NLLLoss()(torch.nn.LogSoftmax(dim=1)(s), y)),
        (
            "mse",
            lambda s, y: torch.nn.MSELoss()(
                torch.softmax(s, dim=1), torch.nn.functional.one_hot(y, s.shape[1]).double()
            ),
        ),
    ],
)
def test_classification_losses_equal_torch_nn_modules(name, module):
    scores, y = scores_and_labels()
    loss, dscores = LOSSES[name].numpy_loss("classification")(scores.copy(), y)
    expected, grad = torch_value_and_grad(module, scores, y)
    assert loss == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(dscores, grad, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("name", [n for n, entry in LOSSES.items() if entry.stacked_numpy])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_stacked_loss_is_each_models_loss_against_torch(name, dtype):
    # a stacked sweep computes K models' losses in one call: each model's loss and gradient
    # must be torch's for its own scores (and the per-model NumPy loss's, to the last ulp)
    rng = np.random.default_rng(3)
    scores = (rng.standard_normal((4, 9, 5)) * 30).astype(dtype)  # large: log-sum-exp matters
    y = rng.integers(0, 5, size=(4, 9))
    losses, dscores = LOSSES[name].stacked_numpy(scores.copy(), y)
    assert losses.shape == (4,) and losses.dtype == np.float64
    assert dscores.shape == scores.shape and dscores.dtype == dtype
    one = LOSSES[name].numpy_loss("classification")
    module = {"cross_entropy": torch.nn.CrossEntropyLoss()}[name]
    for k in range(4):
        alone, grad_alone = one(scores[k].copy(), y[k])
        rel = 1e-5 if dtype == np.float32 else 1e-12
        assert losses[k] == alone  # the same arithmetic, float32 too
        np.testing.assert_array_equal(dscores[k], grad_alone)
        expected, grad = torch_value_and_grad(module, scores[k].astype(np.float64), y[k])
        assert float(losses[k]) == pytest.approx(expected, rel=rel)
        np.testing.assert_allclose(dscores[k], grad, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", [n for n, entry in LOSSES.items() if entry.stacked_torch])
def test_a_stacked_torch_loss_is_each_models_own_loss(name):
    rng = np.random.default_rng(4)
    logits = torch.tensor(rng.standard_normal((3, 7, 4)) * 20, requires_grad=True)
    y = torch.as_tensor(rng.integers(0, 4, size=(3, 7)))
    losses = LOSSES[name].stacked_torch()(logits, y)
    (grad,) = torch.autograd.grad(losses.sum(), logits)
    one = LOSSES[name].torch_loss("classification")
    assert losses.shape == (3,)
    for k in range(3):
        alone = one(logits[k], y[k])
        (grad_alone,) = torch.autograd.grad(alone, logits)
        assert losses[k].item() == pytest.approx(alone.item(), rel=1e-14)
        np.testing.assert_allclose(grad[k], grad_alone[k], rtol=1e-12, atol=1e-16)


class Settings:
    huber_delta = 0.7


@pytest.mark.parametrize(
    "name, module",
    [
        ("mse", torch.nn.MSELoss()),
        ("mae", torch.nn.L1Loss()),
        ("huber", torch.nn.HuberLoss(delta=Settings.huber_delta)),
    ],
)
def test_regression_losses_equal_torch_nn_modules(name, module):
    rng = np.random.default_rng(1)
    outputs, targets = rng.standard_normal((10, 3)), rng.standard_normal((10, 3))
    entry = LOSSES[name]
    assert entry.tasks == (("classification", "regression") if name == "mse" else ("regression",))
    loss, grad = entry.numpy_loss("regression", Settings())(outputs.copy(), targets)
    expected, expected_grad = torch_value_and_grad(module, outputs, targets)
    assert loss == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-10, atol=1e-15)
    torch_loss = entry.torch_loss("regression", Settings())
    value = torch_loss(torch.tensor(outputs), torch.tensor(targets)).item()
    assert value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_nll_gives_cross_entropys_losses_batch_by_batch_on_digits(cli, backend):
    runs = {}
    for loss in ("cross_entropy", "nll"):
        cli.train("configs/digits.yaml", *COMMON, f"backend={backend}", f"loss={loss}")
        runs[loss] = cli.last_run()
    reference, nll = step_losses(runs["cross_entropy"]), step_losses(runs["nll"])
    assert len(nll) == len(reference) == 3 * 23
    np.testing.assert_allclose(nll, reference, rtol=1e-6, atol=0)
    assert read_json(runs["nll"] / "summary.json")["loss"] == "nll"


def test_mse_on_softmax_probabilities_trains_digits_to_90_percent(cli):
    cli.train("configs/digits.yaml", "loss=mse", "backend=numpy", "output.plots=false")
    summary = read_json(cli.last_run() / "summary.json")
    assert summary["final"]["val_acc"] >= 0.9
    # the loss is nn.MSELoss's mean over all 10 columns: a tenth of the squared distance
    assert summary["final"]["val_loss"] < 0.01


def test_regression_losses_on_class_labels_are_one_line(cli):
    for loss in ("mae", "huber"):
        result = cli.train("configs/digits.yaml", f"loss={loss}", expect=2)
        assert result.output.strip() == (
            f"error: loss: {loss} is a regression loss, and the targets are class labels; "
            "use one of cross_entropy, nll, mse"
        )
    result = cli.train("configs/digits.yaml", "huber_delta=2", expect=2)
    assert "only loss huber takes huber_delta; loss is cross_entropy" in result.output


def test_gradcheck_without_a_config_checks_every_loss_for_each_task(cli):
    result = cli("gradcheck", "--against", "torch")
    for model in (
        "5-7-6-3 relu simple loss nll",
        "5-7-6-3 relu simple loss mse",
        "5-7-6-2 relu simple loss mse regression",
        "5-7-6-2 relu simple loss mae regression",
        "5-7-6-2 relu simple loss huber regression",
    ):
        assert model in result.output
    assert "FAIL" not in result.output
    assert "gradient checks passed" in result.output


def test_gradcheck_of_a_regression_config(cli, write_config):
    config = write_config({"data": {"name": "diabetes"}, "loss": "huber", "huber_delta": 0.3})
    result = cli("gradcheck", "--config", config, "--against", "torch")
    assert "loss huber regression" in result.output
