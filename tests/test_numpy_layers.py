"""Layers of the NumPy backend against finite differences and PyTorch."""

import warnings

import numpy as np
import pytest
import torch

from mlpx.backends.numpy.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    dropout_mask,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from mlpx.losses.cross_entropy import logsumexp, softmax_cross_entropy


def numeric_gradient(f, x, dout, h=1e-6):
    """Centred-difference gradient of ``sum(f() * dout)`` with respect to x (changed in place)."""
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        above = np.sum(f() * dout)
        x[idx] = old - h
        below = np.sum(f() * dout)
        x[idx] = old
        grad[idx] = (above - below) / (2 * h)
    return grad


def assert_close(analytic, numeric, rtol=1e-7, atol=1e-9):
    np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_affine_backward_matches_finite_differences(rng):
    x, w, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    dout = rng.standard_normal((4, 3))
    out, cache = affine_forward(x, w, b)
    np.testing.assert_allclose(out, x @ w + b)
    dx, dw, db = affine_backward(dout, cache)

    def f():
        return affine_forward(x, w, b)[0]

    assert_close(dx, numeric_gradient(f, x, dout))
    assert_close(dw, numeric_gradient(f, w, dout))
    assert_close(db, numeric_gradient(f, b, dout))
    assert affine_backward(dout, cache, need_dx=False)[0] is None


def test_affine_backward_into_a_fortran_order_buffer_gives_the_same_gradient(rng):
    """The backend stores W (D, M) as the transpose of a C-contiguous (M, D) block; the
    gradient is then computed as dout.T @ x straight into that block."""
    x, w, b = rng.standard_normal((6, 5)), rng.standard_normal((5, 4)), rng.standard_normal(4)
    dout = rng.standard_normal((6, 4))
    block = np.empty((4, 5))
    _, cache = affine_forward(x, np.asfortranarray(w), b)
    _, dw, _ = affine_backward(dout, cache, dw=block.T)
    np.testing.assert_allclose(block, (x.T @ dout).T, rtol=1e-12)
    np.testing.assert_allclose(dw, x.T @ dout, rtol=1e-12)


@pytest.mark.parametrize(
    "forward, backward",
    [
        (relu_forward, relu_backward),
        (sigmoid_forward, sigmoid_backward),
        (tanh_forward, tanh_backward),
    ],
    ids=["relu", "sigmoid", "tanh"],
)
def test_activation_backward_matches_finite_differences(rng, forward, backward):
    x = rng.standard_normal((6, 4))
    dout = rng.standard_normal((6, 4))
    _, cache = forward(x)
    dx = backward(dout, cache)
    assert_close(dx, numeric_gradient(lambda: forward(x)[0], x, dout))


@pytest.mark.parametrize(
    "forward, reference",
    [(relu_forward, torch.relu), (sigmoid_forward, torch.sigmoid), (tanh_forward, torch.tanh)],
    ids=["relu", "sigmoid", "tanh"],
)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_activation_forward_matches_torch_in_place_and_keeps_dtype(forward, reference, dtype):
    x = np.linspace(-800, 800, 41, dtype=dtype).reshape(1, -1)
    expected = reference(torch.from_numpy(x)).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning for exp(800)
        out, _ = forward(x, out=x)
    assert out is x and out.dtype == dtype
    np.testing.assert_allclose(out, expected, rtol=1e-6 if dtype == "float32" else 1e-15)


def test_batchnorm_train_backward_matches_finite_differences(rng):
    x = rng.standard_normal((7, 4)) * 3 + 1
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    dout = rng.standard_normal((7, 4))

    def f():
        return batchnorm_forward(x, gamma, beta, np.zeros(4), np.ones(4), train=True)[0]

    _, cache = batchnorm_forward(x, gamma, beta, np.zeros(4), np.ones(4), train=True)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)
    assert_close(dx, numeric_gradient(f, x, dout))
    assert_close(dgamma, numeric_gradient(f, gamma, dout))
    assert_close(dbeta, numeric_gradient(f, beta, dout))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_batchnorm_matches_torch_batchnorm1d_over_several_steps(rng, dtype):
    features = 5
    bn = torch.nn.BatchNorm1d(features).to(getattr(torch, dtype))
    gamma, beta = rng.standard_normal(features).astype(dtype), rng.standard_normal(features)
    beta = beta.astype(dtype)
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(gamma))
        bn.bias.copy_(torch.from_numpy(beta))
    running_mean, running_var = np.zeros(features, dtype), np.ones(features, dtype)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    for batch in (8, 3, 16, 2):  # the unbiased variance matters most for small batches
        x = (rng.standard_normal((batch, features)) * 2 + 0.5).astype(dtype)
        out, _ = batchnorm_forward(x, gamma, beta, running_mean, running_var, train=True)
        expected = bn.train()(torch.from_numpy(x)).detach().numpy()
        assert out.dtype == dtype and running_var.dtype == dtype
        np.testing.assert_allclose(out, expected, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(running_mean, bn.running_mean.numpy(), rtol=rtol)
        np.testing.assert_allclose(running_var, bn.running_var.numpy(), rtol=rtol)
    x = rng.standard_normal((4, features)).astype(dtype)
    out, cache = batchnorm_forward(x, gamma, beta, running_mean, running_var, train=False)
    expected = bn.eval()(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(out, expected, rtol=rtol, atol=rtol)
    assert cache is None


def test_batchnorm_rejects_a_single_sample_in_train_mode():
    with pytest.raises(ValueError, match="more than 1 sample"):
        batchnorm_forward(np.ones((1, 3)), np.ones(3), np.zeros(3), np.zeros(3), np.ones(3), True)


def test_dropout_backward_with_fixed_mask_matches_finite_differences(rng):
    x = rng.standard_normal((5, 6))
    mask = dropout_mask(0.4, np.random.default_rng(1), out=np.empty((5, 6)))
    dout = rng.standard_normal((5, 6))
    out, cache = dropout_forward(x, mask)
    np.testing.assert_array_equal(out, x * mask)
    assert_close(dropout_backward(dout, cache), numeric_gradient(lambda: x * mask, x, dout))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dropout_mask_is_inverted_seeded_and_keeps_dtype(dtype):
    p = 0.3
    mask = dropout_mask(p, np.random.default_rng(5), out=np.empty((200, 50), dtype))
    again = dropout_mask(p, np.random.default_rng(5), out=np.empty((200, 50), dtype))
    assert mask.dtype == dtype
    np.testing.assert_array_equal(mask, again)
    np.testing.assert_array_equal(np.unique(mask), np.array([0, 1 / (1 - p)], dtype=dtype))
    assert abs(np.mean(mask == 0) - p) < 0.02
    assert abs(mask.mean() - 1) < 0.03  # inverted dropout keeps the expectation


def test_softmax_cross_entropy_matches_torch(rng):
    scores = rng.standard_normal((6, 4)) * 5
    y = rng.integers(0, 4, size=6)
    loss, dscores = softmax_cross_entropy(scores, y)
    t_scores = torch.tensor(scores, requires_grad=True)
    t_loss = torch.nn.functional.cross_entropy(t_scores, torch.from_numpy(y))
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-14)
    np.testing.assert_allclose(dscores, t_scores.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cross_entropy_is_stable_for_huge_logits(dtype):
    classes = 5
    equal = np.full((3, classes), 1000.0, dtype=dtype)
    # float32 resolves 1000 + log(5) to ~6e-5, float64 to ~1e-13
    tolerance = 1e-4 if dtype == "float32" else 1e-12
    loss, dscores = softmax_cross_entropy(equal, np.array([0, 2, 4]))
    assert loss == pytest.approx(np.log(classes), abs=tolerance)
    assert dscores.dtype == dtype and np.all(np.isfinite(dscores))
    extreme = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]], dtype=dtype)
    loss, dscores = softmax_cross_entropy(extreme, np.array([0, 0]))
    assert loss == pytest.approx(1000.0)  # (0 + 2000) / 2
    np.testing.assert_allclose(dscores, [[0, 0], [-0.5, 0.5]], atol=1e-7)
    lse = logsumexp(-equal)
    assert lse.dtype == dtype
    np.testing.assert_allclose(lse, np.full(3, -1000 + np.log(classes)), atol=tolerance)
