"""Update rules of the NumPy backend against ``torch.optim``, step by step."""

import numpy as np
import pytest
import torch

from mlpx.config import OptimizerConfig, build_config
from mlpx.errors import ConfigError
from mlpx.optimizers import OPTIMIZERS, torch_update
from mlpx.optimizers import numpy_rule as build_update_rule

OPTIMIZER_NAMES = list(OPTIMIZERS)

TORCH_OPTIMIZERS = {
    "sgd": (torch.optim.SGD, {}),
    "momentum": (torch.optim.SGD, {}),
    "nesterov": (torch.optim.SGD, {"nesterov": True}),
    "adam": (torch.optim.Adam, {}),
    "adamw": (torch.optim.AdamW, {}),
    "adamax": (torch.optim.Adamax, {}),
    "nadam": (torch.optim.NAdam, {}),
    "radam": (torch.optim.RAdam, {}),
    "rmsprop": (torch.optim.RMSprop, {}),
    "adagrad": (torch.optim.Adagrad, {}),
    "adadelta": (torch.optim.Adadelta, {}),
}
"""torch.optim's own class for each optimizer, and what a preset fixes; every hyperparameter
of the config's section is passed to the class under its own name."""

SETTINGS = {
    "sgd": [
        {},
        {"momentum": 0.9},
        {"momentum": 0.8, "dampening": 0.3, "weight_decay": 0.05},
        {"momentum": 0.8, "nesterov": True, "weight_decay": 0.05},
    ],
    "momentum": [{}, {"momentum": 0.5, "dampening": 0.1, "weight_decay": 0.05}],
    "nesterov": [{}, {"momentum": 0.5, "weight_decay": 0.05}],
    "adam": [{}, {"amsgrad": True, "weight_decay": 0.05, "betas": [0.8, 0.99], "eps": 1e-6}],
    "adamw": [{}, {"amsgrad": True, "weight_decay": 0.1}],
    "adamax": [{}, {"betas": [0.8, 0.99], "eps": 1e-6, "weight_decay": 0.05}],
    "nadam": [
        {},
        {"momentum_decay": 0.01, "weight_decay": 0.05},
        {"decoupled_weight_decay": True, "weight_decay": 0.05},
    ],
    "radam": [{}, {"weight_decay": 0.05}, {"decoupled_weight_decay": True, "weight_decay": 0.05}],
    "rmsprop": [
        {},
        {"momentum": 0.5, "weight_decay": 0.05},
        {"centered": True, "alpha": 0.9, "momentum": 0.5},
        {"centered": True},  # centered without momentum takes neither shortcut
    ],
    "adagrad": [{}, {"weight_decay": 0.05, "eps": 1e-8}],
    "adadelta": [{}, {"rho": 0.8, "eps": 1e-5, "weight_decay": 0.05}],
}
"""A few hyperparameter settings per optimizer ({} is torch.optim's defaults)."""

CASES = [
    pytest.param(name, settings, id=f"{name}-{index}")
    for name, cases in SETTINGS.items()
    for index, settings in enumerate(cases)
]


def torch_optim(name: str, params: list, config: OptimizerConfig, **kernel):
    """torch.optim's own optimizer for this config section."""
    cls, preset = TORCH_OPTIMIZERS[name]
    return cls(params, lr=config.lr, **config.hyperparameters, **preset, **kernel)


def gradient(w, noise):
    """A gradient that depends on the parameter, so that errors compound over steps."""
    return np.sin(3 * w) + w**3 * 0.1 + noise


@pytest.mark.parametrize(("name", "settings"), CASES)
def test_update_rule_matches_torch_optim_step_by_step(name, settings):
    config = OptimizerConfig(name=name, lr=0.05, **settings)
    rule = build_update_rule(config)
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((4, 3)), rng.standard_normal(3)]
    states = [rule.init_state(w) for w in params]
    tensors = [torch.tensor(w, requires_grad=True) for w in params]
    optimizer = torch_optim(name, tensors, config)
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


@pytest.mark.parametrize(("name", "settings"), CASES)
def test_update_rule_keeps_float32(name, settings):
    rule = build_update_rule(OptimizerConfig(name=name, **settings))
    w = np.ones((3, 2), dtype=np.float32)
    state = rule.init_state(w)
    rule.update(w, np.full_like(w, 0.5), state, lr=0.1)
    assert w.dtype == np.float32
    assert all(v.dtype == np.float32 for k, v in state.items() if k != "step")
    assert np.all(w < 1)


def test_update_rule_state_is_per_parameter_and_named_as_in_torch():
    def slots(name, **settings):
        return set(build_update_rule(OptimizerConfig(name=name, **settings)).init_state(w))

    w = np.zeros(2)
    assert slots("sgd") == set()
    assert slots("sgd", momentum=0.9) == slots("momentum") == {"momentum_buffer"}
    assert slots("adam") == slots("radam") == {"step", "exp_avg", "exp_avg_sq"}
    assert slots("adam", amsgrad=True) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert slots("adamax") == {"step", "exp_avg", "exp_inf"}
    assert slots("nadam") == {"step", "mu_product", "exp_avg", "exp_avg_sq"}
    assert slots("rmsprop") == {"square_avg"}
    assert slots("rmsprop", momentum=0.5, centered=True) == {
        "square_avg",
        "momentum_buffer",
        "grad_avg",
    }
    assert slots("adagrad") == {"sum"}
    assert slots("adadelta") == {"square_avg", "acc_delta"}


@pytest.mark.parametrize(
    ("optimizer", "message"),
    [
        ({"name": "nesterov", "momentum": 0.0}, "optimizer.momentum: nesterov needs"),
        ({"name": "sgd", "nesterov": True}, "optimizer.momentum: nesterov needs"),
        (
            {"name": "sgd", "momentum": 0.9, "nesterov": True, "dampening": 0.1},
            "optimizer.dampening: nesterov needs optimizer.dampening: 0",
        ),
    ],
)
def test_nesterov_as_torch_allows_it_or_a_config_error(optimizer, message):
    with pytest.raises(ConfigError, match=message):
        build_config({"optimizer": optimizer})


def test_every_registered_optimizer_has_a_torch_optim_oracle_here():
    assert set(OPTIMIZERS) == set(TORCH_OPTIMIZERS) == set(SETTINGS)


def test_every_hyperparameter_default_is_torch_optims():
    for name, entry in OPTIMIZERS.items():
        cls, preset = TORCH_OPTIMIZERS[name]
        defaults = cls([torch.zeros(1, requires_grad=True)]).defaults
        if name in ("momentum", "nesterov"):  # presets: SGD with momentum 0.9
            defaults |= {"momentum": 0.9}
        assert entry.lr == defaults["lr"], name
        for hyperparameter in entry.hyperparameters:
            assert hyperparameter.default == defaults[hyperparameter.name], (name, hyperparameter)
        assert preset.keys() <= defaults.keys()


@pytest.mark.parametrize(("name", "settings"), CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_rule_that_stacks_steps_k_models_as_k_separate_calls(name, settings, dtype):
    # a stacked sweep steps K models in one call: (K, P) arrays, rates and counts as (K, 1)
    # columns. Each row must move as its own call moves it, at its own rate; the rules that
    # do not stack are stepped one model at a time, so only their flag is checked.
    rule = build_update_rule(OptimizerConfig(name=name, **settings))
    if not rule.stacks:
        slots = rule.init_state(np.zeros(2)).values()
        assert any(v.ndim == 0 for v in slots), f"{name} keeps no count: nothing stops it stacking"
        return
    rng = np.random.default_rng(1)
    k, p = 3, 7
    w = rng.standard_normal((k, p)).astype(dtype)
    separate = [row.copy() for row in w]
    fresh = rule.init_state(w[0])
    stacked_state = {
        slot: np.zeros((k, *(v.shape or (1,))), v.dtype) + v for slot, v in fresh.items()
    }
    states = [rule.init_state(row) for row in separate]
    for step in range(12):
        rates = np.array([0.05, 0.01, 0.002]) * 0.9 ** (step // 4)
        dw = gradient(w, rng.standard_normal((k, p)) * 0.1).astype(dtype)
        grads = [row.copy() for row in dw]
        rule.update(w, dw, stacked_state, rates[:, None])
        for row, grad, state, rate in zip(separate, grads, states, rates, strict=True):
            rule.update(row, grad, state, float(rate))
        assert w.dtype == dtype
        # bit for bit, float32 too: a column is cast as NumPy casts a separate call's float
        np.testing.assert_array_equal(w, np.stack(separate))
    for slot, column in stacked_state.items():
        kept = np.stack([np.reshape(state[slot], column.shape[1:]) for state in states])
        np.testing.assert_array_equal(column, kept)


@pytest.mark.parametrize(("name", "settings"), CASES)
def test_torch_updates_keep_their_state_under_torch_optims_own_names(name, settings):
    # checkpoints store the torch backend's optimizer state as opt/<param>/<slot>: the slots
    # must be the ones torch.optim itself keeps for the same settings, named as it names them
    config = OptimizerConfig(name=name, lr=0.05, **settings)
    param = torch.zeros(3, requires_grad=True)
    optimizer = torch_optim(name, [param], config)
    param.grad = torch.ones(3)
    optimizer.step()
    kept = {slot for slot, value in optimizer.state[param].items() if value is not None}
    assert {slot for slot in torch_update(config).slots if slot} == kept


@pytest.mark.parametrize("build", [build_update_rule, torch_update], ids=["numpy", "torch"])
def test_settings_naming_no_registered_optimizer_are_one_line(build):
    """The entries read any object with name, lr and hyperparameters (not only a validated
    config): one naming an optimizer that is not registered gets the config's error."""
    from types import SimpleNamespace

    settings = SimpleNamespace(name="adamm", lr=0.1, hyperparameters={})
    with pytest.raises(ConfigError) as refused:
        build(settings)
    assert str(refused.value) == (
        "optimizer.name: unknown optimizer 'adamm'; one of sgd, momentum, nesterov, adam, "
        "adamw, adamax, nadam, radam, rmsprop, adagrad, adadelta"
    )
