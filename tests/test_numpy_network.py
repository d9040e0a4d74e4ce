"""The NumPy MLP (loss, gradients, buffers, training) against the same model in PyTorch."""

import re

import numpy as np
import pytest
import torch

from mlpx.backends.numpy import NumpyBackend
from mlpx.backends.numpy.network import MLP
from mlpx.config import build_config
from mlpx.model import ModelSpec, init_params

ACTIVATIONS = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh}


class FixedMask(torch.nn.Module):
    """Dropout with a given mask in train mode, so that both implementations drop the same units."""

    def __init__(self, mask):
        super().__init__()
        self.mask = torch.from_numpy(mask.copy())

    def forward(self, x):
        return x * self.mask if self.training else x


def torch_mlp(spec, params, masks=None):
    """The spec as ``nn.Sequential`` of nn.Linear / nn.BatchNorm1d, holding copies of params."""
    modules, linears = [], {}
    for i in range(1, spec.n_layers + 1):
        linear = torch.nn.Linear(spec.sizes[i - 1], spec.sizes[i]).double()
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(params[f"W{i}"].T))
            linear.bias.copy_(torch.from_numpy(params[f"b{i}"]))
        modules.append(linear)
        linears[i] = linear
        if i == spec.n_layers:
            break
        if spec.uses_batchnorm:
            bn = torch.nn.BatchNorm1d(spec.sizes[i]).double()
            with torch.no_grad():
                bn.weight.copy_(torch.from_numpy(params[f"gamma{i}"]))
                bn.bias.copy_(torch.from_numpy(params[f"beta{i}"]))
                bn.running_mean.copy_(torch.from_numpy(params[f"running_mean{i}"]))
                bn.running_var.copy_(torch.from_numpy(params[f"running_var{i}"]))
            modules.append(bn)
            linears[f"bn{i}"] = bn
        modules.append(ACTIVATIONS[spec.activation]())
        if masks is not None and masks[i - 1] is not None:
            modules.append(FixedMask(masks[i - 1]))
    return torch.nn.Sequential(*modules), linears


def torch_grads(spec, parts):
    """Gradients of the torch model, named and shaped as in mlpx.model."""
    grads = {}
    for i in range(1, spec.n_layers + 1):
        grads[f"W{i}"] = parts[i].weight.grad.numpy().T
        grads[f"b{i}"] = parts[i].bias.grad.numpy()
        if f"bn{i}" in parts:
            grads[f"gamma{i}"] = parts[f"bn{i}"].weight.grad.numpy()
            grads[f"beta{i}"] = parts[f"bn{i}"].bias.grad.numpy()
    return grads


def torch_objective(spec, model, parts, x, y, l1, l2):
    loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
    for i in range(1, spec.n_layers + 1):
        w = parts[i].weight
        loss = loss + l2 * (w**2).sum() + l1 * w.abs().sum()
    return loss


def make_spec(kind, activation):
    if kind == "simple":
        return ModelSpec((6, 8, 5, 4), "simple", activation)
    return ModelSpec((6, 8, 5, 4), "complex", activation, dropout=0.25, batchnorm=True)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("kind", ["simple", "complex"])
def test_loss_and_every_gradient_match_torch_autograd(kind, activation):
    spec = make_spec(kind, activation)
    params = init_params(spec, "kaiming", 0.0, seed=1)
    rng = np.random.default_rng(2)
    # biases and batch-norm shifts away from 0 and scales away from 1: at the initial values a
    # penalty wrongly applied to them would have no gradient to show
    for name in params:
        if re.fullmatch(r"(b|beta)\d+", name):
            params[name] = rng.standard_normal(params[name].shape)
        elif re.fullmatch(r"gamma\d+", name):
            params[name] = rng.uniform(0.5, 1.5, params[name].shape)
    # weights at exactly 0 too: there L1's gradient is sign(0) = 0, as torch's abs has it
    params["W1"][0, :3] = 0.0
    x, y = rng.standard_normal((10, 6)), rng.integers(0, 4, size=10)
    l1, l2 = 0.003, 0.01
    net = MLP(spec, params, "float64", l1=l1, l2=l2)
    loss, scores = net.forward_backward(x, y, np.random.default_rng(3))
    model, parts = torch_mlp(spec, params, net.dropout_masks)
    t_loss = torch_objective(spec, model.train(), parts, x, y, l1, l2)
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-12)
    expected = torch_grads(spec, parts)
    assert set(net.grads) == set(spec.param_names()) == set(expected)
    for name in spec.param_names():
        # atol: the gradient of a bias followed by batch norm is 0 up to rounding
        np.testing.assert_allclose(net.grads[name], expected[name], rtol=1e-10, atol=1e-14)
    for i in range(1, spec.n_layers):
        if spec.uses_batchnorm:
            bn = parts[f"bn{i}"]
            np.testing.assert_allclose(net.buffers[f"running_mean{i}"], bn.running_mean.numpy())
            np.testing.assert_allclose(net.buffers[f"running_var{i}"], bn.running_var.numpy())
    eval_scores = net.forward(x, train=False)
    with torch.no_grad():
        np.testing.assert_allclose(eval_scores, model.eval()(torch.from_numpy(x)).numpy())


def test_masks_are_drawn_from_the_generator_and_dropout_is_off_in_eval():
    spec = make_spec("complex", "relu")
    net = MLP(spec, init_params(spec, "kaiming", 0.0, seed=0))
    x = np.random.default_rng(0).standard_normal((12, 6))
    first = net.forward(x, True, np.random.default_rng(7)).copy()
    again = net.forward(x, True, np.random.default_rng(7)).copy()
    other = net.forward(x, True, np.random.default_rng(8)).copy()
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert all(np.any(mask == 0) for mask in net.dropout_masks)
    eval_scores = net.forward(x, train=False)
    np.testing.assert_array_equal(eval_scores, net.forward(x, train=False))


@pytest.mark.parametrize("scale", [2.0, -0.25])
def test_scaled_gradients_are_scale_times_the_objectives_penalty_included(scale):
    """``scale`` as the docstring gives it: every gradient, the penalty's part too, is
    ``scale`` times the unscaled one (a power of two: exactly), and the loss is unscaled."""
    spec = make_spec("complex", "tanh")
    params = init_params(spec, "xavier", 0.0, seed=6)
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((9, 6)), rng.integers(0, 4, size=9)
    plain, scaled = (MLP(spec, params, l1=0.01, l2=0.02) for _ in range(2))
    loss, _ = plain.forward_backward(x, y, np.random.default_rng(8))
    scaled_loss, _ = scaled.forward_backward(x, y, np.random.default_rng(8), scale=scale)
    assert scaled_loss == loss
    for name in spec.param_names():
        np.testing.assert_array_equal(scaled.grads[name], scale * plain.grads[name])


def test_backward_without_a_train_mode_forward_is_refused_with_why():
    spec = make_spec("simple", "relu")
    net = MLP(spec, init_params(spec, "xavier", 0.0, seed=0))
    x, dscores = np.ones((3, 6)), np.ones((3, 4))
    message = "^backward needs a preceding forward in train mode$"
    with pytest.raises(RuntimeError, match=message):
        net.backward(dscores)  # no forward yet
    net.forward(x, train=False)
    with pytest.raises(RuntimeError, match=message):
        net.backward(dscores)  # evaluation keeps no caches
    net.forward(x, train=True)
    net.backward(dscores)
    assert net.grads["W1"].any()
    # no penalty_scale: the data loss's gradients only, whatever the penalties
    penalised = MLP(spec, init_params(spec, "xavier", 0.0, seed=0), l1=0.1, l2=0.2)
    penalised.forward(x, train=True)
    penalised.backward(dscores)
    for name in spec.param_names():
        np.testing.assert_array_equal(penalised.grads[name], net.grads[name])


def test_a_smaller_batch_after_a_larger_one_reuses_buffers_correctly():
    spec = make_spec("complex", "tanh")
    params = init_params(spec, "xavier", 0.0, seed=4)
    rng = np.random.default_rng(5)
    big_x, big_y = rng.standard_normal((16, 6)), rng.integers(0, 4, size=16)
    x, y = rng.standard_normal((5, 6)), rng.integers(0, 4, size=5)
    reused = MLP(spec, params, l2=0.01)
    reused.forward_backward(big_x, big_y, np.random.default_rng(0))
    loss, _ = reused.forward_backward(x, y, np.random.default_rng(1))
    fresh = MLP(spec, params, l2=0.01)
    fresh_loss, _ = fresh.forward_backward(x, y, np.random.default_rng(1))
    assert loss == fresh_loss
    for name in spec.param_names():
        np.testing.assert_array_equal(reused.grads[name], fresh.grads[name])


@pytest.mark.parametrize("kind", ["simple", "complex"])
def test_float32_stays_float32(kind):
    # no dropout: float32 and float64 generators draw different masks
    spec = ModelSpec((6, 8, 5, 4), kind, "sigmoid", batchnorm=kind == "complex")
    params = init_params(spec, "kaiming", 0.0, seed=0, dtype="float64")
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((9, 6)), rng.integers(0, 4, size=9)
    net32 = MLP(spec, params, "float32", l1=1e-3, l2=1e-3)
    loss32, scores = net32.forward_backward(x.astype(np.float32), y, np.random.default_rng(1))
    assert scores.dtype == np.float32
    arrays = [*net32.params.values(), *net32.buffers.values(), *net32.grads.values()]
    assert all(a.dtype == np.float32 for a in arrays)
    assert net32.forward(x.astype(np.float32), train=False).dtype == np.float32
    net64 = MLP(spec, params, "float64", l1=1e-3, l2=1e-3)
    loss64, _ = net64.forward_backward(x, y, np.random.default_rng(1))
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    for name in spec.param_names():
        np.testing.assert_allclose(net32.grads[name], net64.grads[name], rtol=1e-3, atol=1e-5)


def test_backend_epoch_matches_the_same_training_in_torch():
    """Batches gathered from a shuffled order, a partial last batch, AdamW on every parameter,
    batch norm and L1/L2: per-batch objectives and final weights agree with torch."""
    config = build_config(
        {
            "backend": "numpy",
            "dtype": "float64",
            "model": {"kind": "complex", "hidden": [8, 5], "activation": "tanh"},
            "optimizer": {"name": "adamw", "lr": 0.01, "weight_decay": 0.1},
            "regularization": {"l1": 1e-3, "l2": 1e-2},
        }
    )
    spec = ModelSpec((6, 8, 5, 3), "complex", "tanh", batchnorm=True)
    params = init_params(spec, "kaiming", 0.0, seed=0)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((50, 6)), rng.integers(0, 3, size=50)
    order, batch = rng.permutation(50), 16
    backend = NumpyBackend(config, spec, params)
    backend.set_data("train", x, y)
    backend.start_epoch(order)
    for start in range(0, 50, batch):
        backend.train_step(start, min(start + batch, 50), lr=0.01)
    stats = backend.end_epoch()

    model, parts = torch_mlp(spec, params)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.1)
    losses = []
    for start in range(0, 50, batch):
        rows = order[start : start + batch]
        optimizer.zero_grad()
        loss = torch_objective(spec, model.train(), parts, x[rows], y[rows], 1e-3, 1e-2)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    np.testing.assert_allclose(stats.losses, losses, rtol=1e-10)
    trained = backend.params()
    for i in (1, 2, 3):
        np.testing.assert_allclose(trained[f"W{i}"], parts[i].weight.detach().numpy().T, rtol=1e-8)
    np.testing.assert_allclose(trained["running_var2"], parts["bn2"].running_var.numpy())


def test_inverted_dropout_keeps_the_expected_scores_of_eval_mode():
    """One hidden layer: the scores are linear in the dropped activations, so with masks
    scaled by 1/(1-p) their mean over many training-mode passes is the eval-mode scores
    (without the scaling it would be (1-p) times the hidden part, far outside the bound)."""
    spec = ModelSpec((6, 8, 4), "complex", "relu", dropout=0.5, batchnorm=False)
    params = init_params(spec, "kaiming", 0.0, seed=4)
    params["b2"] = np.zeros_like(params["b2"])
    net = MLP(spec, params, "float64")
    x = np.random.default_rng(1).standard_normal((5, 6))
    expected = net.forward(x, train=False).copy()
    rng = np.random.default_rng(2)
    draws = np.stack([net.forward(x, True, rng).copy() for _ in range(4000)])
    bound = 5 * draws.std(axis=0) / np.sqrt(len(draws)) + 1e-12
    assert np.all(np.abs(draws.mean(axis=0) - expected) < bound)
    assert np.any(np.abs(expected) > 10 * bound)  # the bound is tight enough to matter


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_a_float32_training_forward_is_float32_arithmetic_throughout(dropout):
    """Train mode in float32 gives, bit for bit, float32 arithmetic done by hand, with
    dropout masks drawn as float32 (a float64 buffer anywhere rounds differently, and a
    float64 mask draws other numbers from the generator)."""
    spec = ModelSpec((6, 8, 5, 4), "complex", "relu", dropout=dropout)
    params = init_params(spec, "kaiming", 0.0, seed=0, dtype="float32")
    x = np.random.default_rng(0).standard_normal((9, 6)).astype(np.float32)
    scores = MLP(spec, params, "float32").forward(x, train=True, rng=np.random.default_rng(1))

    rng, h = np.random.default_rng(1), x
    for i in (1, 2):
        h = np.maximum(h @ params[f"W{i}"] + params[f"b{i}"], np.float32(0))
        if dropout:
            mask = rng.random(h.shape, dtype=np.float32) >= np.float32(dropout)
            h = h * (mask.astype(np.float32) / np.float32(1 - dropout))
    assert scores.dtype == np.float32
    np.testing.assert_array_equal(scores, h @ params["W3"] + params["b3"])


def test_a_network_built_without_penalties_has_the_plain_loss_and_its_gradients():
    """l1 and l2 default to no penalty: loss and gradients are plain cross-entropy's, as
    PyTorch's autograd computes them on the same weights."""
    spec = make_spec("simple", "relu")
    params = init_params(spec, "xavier", 0.0, seed=2)
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((7, 6)), rng.integers(0, 4, size=7)
    net = MLP(spec, params)
    loss, _ = net.forward_backward(x, y, np.random.default_rng(0))

    weights = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    h = torch.from_numpy(x)
    for i in range(1, spec.n_layers + 1):
        h = h @ weights[f"W{i}"] + weights[f"b{i}"]
        h = torch.relu(h) if i < spec.n_layers else h
    expected = torch.nn.functional.cross_entropy(h, torch.from_numpy(y))
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    for name in spec.param_names():
        np.testing.assert_allclose(net.grads[name], weights[name].grad.numpy(), rtol=1e-10)


def test_a_fresh_networks_first_batch_may_be_one_row():
    """A fresh network (mlpx predict loads one) scores a single row, and a row scores the
    same alone as in a batch."""
    spec = make_spec("complex", "relu")
    params = init_params(spec, "kaiming", 0.0, seed=1)
    x = np.random.default_rng(0).standard_normal((5, 6))
    alone = MLP(spec, params).forward(x[:1], train=False).copy()
    np.testing.assert_allclose(alone, MLP(spec, params).forward(x, train=False)[:1], rtol=1e-12)
