"""Update rules of the NumPy backend against ``torch.optim``, step by step."""

import numpy as np
import pytest
import torch

from mlpx.config import OptimizerConfig, build_config
from mlpx.errors import ConfigError
from mlpx.optimizers import OPTIMIZERS
from mlpx.optimizers import numpy_rule as build_update_rule

OPTIMIZER_NAMES = list(OPTIMIZERS)

TORCH_OPTIMIZERS = {
    "sgd": lambda p, c: torch.optim.SGD(p, lr=c.lr, weight_decay=c.weight_decay),
    "momentum": lambda p, c: torch.optim.SGD(
        p, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay
    ),
    "nesterov": lambda p, c: torch.optim.SGD(
        p, lr=c.lr, momentum=c.momentum, nesterov=True, weight_decay=c.weight_decay
    ),
    "adam": lambda p, c: torch.optim.Adam(p, lr=c.lr, weight_decay=c.weight_decay),
    "adamw": lambda p, c: torch.optim.AdamW(p, lr=c.lr, weight_decay=c.weight_decay),
    "rmsprop": lambda p, c: torch.optim.RMSprop(p, lr=c.lr, weight_decay=c.weight_decay),
    "adagrad": lambda p, c: torch.optim.Adagrad(p, lr=c.lr, weight_decay=c.weight_decay),
}


def gradient(w, noise):
    """A gradient that depends on the parameter, so that errors compound over steps."""
    return np.sin(3 * w) + w**3 * 0.1 + noise


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_update_rule_matches_torch_optim_step_by_step(name, weight_decay):
    config = OptimizerConfig(name=name, lr=0.05, momentum=0.8, weight_decay=weight_decay)
    rule = build_update_rule(config)
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((4, 3)), rng.standard_normal(3)]
    states = [rule.init_state(w) for w in params]
    tensors = [torch.tensor(w, requires_grad=True) for w in params]
    optimizer = TORCH_OPTIMIZERS[name](tensors, config)
    for step in range(20):
        lr = config.lr * 0.9 ** (step // 5)  # what lr_decay does between epochs
        for group in optimizer.param_groups:
            group["lr"] = lr
        for w, state, t in zip(params, states, tensors, strict=True):
            noise = rng.standard_normal(w.shape) * 0.1
            t.grad = torch.from_numpy(gradient(t.detach().numpy(), noise))
            rule.update(w, gradient(w, noise), state, lr)
        optimizer.step()
        for w, t in zip(params, tensors, strict=True):
            np.testing.assert_allclose(w, t.detach().numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_update_rule_keeps_float32(name):
    rule = build_update_rule(OptimizerConfig(name=name, weight_decay=0.01))
    w = np.ones((3, 2), dtype=np.float32)
    state = rule.init_state(w)
    rule.update(w, np.full_like(w, 0.5), state, lr=0.1)
    assert w.dtype == np.float32
    assert all(v.dtype == np.float32 for k, v in state.items() if k != "step")
    assert np.all(w < 1)


def test_update_rule_state_is_per_parameter_and_named_as_in_torch():
    w = np.zeros(2)
    assert build_update_rule(OptimizerConfig(name="sgd")).init_state(w) == {}
    assert set(build_update_rule(OptimizerConfig(name="momentum")).init_state(w)) == {
        "momentum_buffer"
    }
    assert set(build_update_rule(OptimizerConfig(name="adam")).init_state(w)) == {
        "step",
        "exp_avg",
        "exp_avg_sq",
    }
    assert set(build_update_rule(OptimizerConfig(name="rmsprop")).init_state(w)) == {"square_avg"}
    assert set(build_update_rule(OptimizerConfig(name="adagrad")).init_state(w)) == {"sum"}


def test_nesterov_without_momentum_is_a_config_error():
    with pytest.raises(ConfigError, match="optimizer.momentum: nesterov needs"):
        build_config({"optimizer": {"name": "nesterov", "momentum": 0.0}})


def test_every_registered_optimizer_has_a_torch_optim_oracle_here():
    assert set(OPTIMIZERS) == set(TORCH_OPTIMIZERS)
