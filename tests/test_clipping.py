"""Gradient clipping: both backends' arithmetic against ``torch.nn.utils``' own functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlpx.backends.numpy import clipping as numpy_clipping
from mlpx.backends.numpy.stepping import FlatStepper
from mlpx.backends.torch import clipping as torch_clipping
from mlpx.config import load_config
from mlpx.model import init_params, model_spec
from mlpx.optimizers import numpy_rule

SHAPES = [(64, 40), (40,), (40, 10), (10,)]


def gradients(scale: float, dtype: str) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [(rng.standard_normal(shape) * scale).astype(dtype) for shape in SHAPES]


def torch_oracle(grads: list[np.ndarray], how: str, limit: float) -> list[np.ndarray]:
    """The gradients after torch.nn.utils' clip_grad_norm_ or clip_grad_value_ on parameters
    whose .grad they are."""
    params = [torch.zeros(g.shape, dtype=getattr(torch, str(g.dtype))) for g in grads]
    for p, g in zip(params, grads, strict=True):
        p.grad = torch.as_tensor(g.copy())
    if how == "norm":
        torch.nn.utils.clip_grad_norm_(params, limit)
    else:
        torch.nn.utils.clip_grad_value_(params, limit)
    return [p.grad.numpy() for p in params]


CASES = [("norm", 0.5), ("norm", 1e4), ("value", 0.05), ("value", 1e4)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("how", "limit"), CASES)
def test_numpy_clipping_of_the_flat_buffer_equals_torch_nn_utils(dtype, how, limit):
    grads = gradients(0.1, dtype)
    expected = torch_oracle(grads, how, limit)
    flat = np.concatenate([g.ravel() for g in grads])
    clip = numpy_clipping.clip_grad_norm if how == "norm" else numpy_clipping.clip_grad_value
    clip(flat, limit)
    assert flat.dtype == np.dtype(dtype)
    got = np.split(flat, np.cumsum([g.size for g in grads])[:-1])
    rtol = 1e-12 if dtype == "float64" else 1e-6
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e.ravel(), rtol=rtol, atol=0)
    if limit < 1:  # the clip was active: the gradients changed
        assert not np.allclose(got[0], grads[0].ravel())
    else:
        np.testing.assert_array_equal(
            np.concatenate(got), np.concatenate([g.ravel() for g in grads])
        )
    if how == "norm" and limit < 1:
        assert np.linalg.norm(flat) == pytest.approx(limit, rel=1e-5)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("how", "limit"), CASES)
def test_torch_backend_clipping_of_a_gradient_list_equals_torch_nn_utils(dtype, how, limit):
    grads = gradients(0.1, dtype)
    expected = torch_oracle(grads, how, limit)
    tensors = [torch.as_tensor(g.copy()) for g in grads]
    clip = torch_clipping.clip_grad_norm if how == "norm" else torch_clipping.clip_grad_value
    clip(tensors, limit)
    for t, e in zip(tensors, expected, strict=True):
        np.testing.assert_array_equal(t.numpy(), e)  # the same kernels: bit for bit


def stepper_for(overrides: list[str]) -> FlatStepper:
    config = load_config("configs/digits.yaml", ["backend=numpy", *overrides])
    spec = model_spec(config, 64, 10)
    params = init_params(spec, "kaiming", 0.01, 0, "float64")
    grads = {name: np.zeros_like(params[name]) for name in spec.param_names()}
    params = {name: params[name] for name in spec.param_names()}
    clip = numpy_clipping.gradient_clip(config.train)
    return FlatStepper(spec, params, grads, numpy_rule(config.optimizer), np.float64, clip)


def test_a_clip_steps_after_backprop_and_no_clip_keeps_the_fast_path():
    wide_sgd = ["optimizer.name=sgd", "model.hidden=[1100,64]"]
    fast = stepper_for(wide_sgd)
    assert len(fast.segments) == 2 and fast.folds_lr and fast.clip is None
    clipped = stepper_for([*wide_sgd, "train.clip_grad_norm=1"])
    assert clipped.segments == {} and not clipped.folds_lr and clipped.gradient_scale == 1.0


def test_both_clips_at_once_is_a_config_error(cli):
    result = cli.train(
        "configs/digits.yaml", "train.clip_grad_norm=1", "train.clip_grad_value=0.1", expect=2
    )
    assert result.output.strip() == (
        "error: train.clip_grad_value: choose one way of clipping: train.clip_grad_norm or "
        "train.clip_grad_value"
    )
