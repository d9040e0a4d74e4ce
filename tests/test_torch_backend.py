"""The torch backend's update rules against ``torch.optim``, and what a torch run imports."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import mlpx_imports
from test_numpy_optim import CASES, torch_optim

from mlpx.backends import create_backend
from mlpx.backends.torch.optim import UpdateRule
from mlpx.config import OptimizerConfig, build_config
from mlpx.errors import BackendError
from mlpx.model import ModelSpec, init_params
from mlpx.optimizers import OPTIMIZERS, TorchUpdate, torch_update

OPTIMIZER_NAMES = list(OPTIMIZERS)


def torch_optim_runs_fused(name: str, config: OptimizerConfig, dtype: torch.dtype) -> bool:
    """Whether ``torch.optim`` itself steps this optimizer with ``fused=True`` here."""
    w = torch.zeros(1, dtype=dtype, requires_grad=True)
    try:
        optimizer = torch_optim(name, [w], config, fused=True)
        w.grad = torch.ones_like(w)
        optimizer.step()
    except (RuntimeError, TypeError):
        return False
    return True


def gradient(w: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """A gradient that depends on the parameter, so that errors compound over steps."""
    return torch.sin(3 * w) + w**3 * 0.1 + noise


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("name", "settings"), CASES)
def test_update_rule_is_torch_optim_bit_for_bit(name, settings, dtype):
    config = OptimizerConfig(name=name, lr=0.05, **settings)
    generator = torch.Generator().manual_seed(0)
    ours = [torch.randn(4, 3, generator=generator, dtype=dtype) for _ in range(2)]
    ours += [torch.randn(3, generator=generator, dtype=dtype)]
    theirs = [w.clone().requires_grad_() for w in ours]
    rule = UpdateRule(torch_update(config), [w.requires_grad_() for w in ours])
    optimizer = torch_optim(name, theirs, config, **rule.kernel)
    assert rule.fused == torch_optim_runs_fused(name, config, dtype)
    for step in range(20):
        rule.lr = config.lr * 0.9 ** (step // 5)  # what lr_decay does between epochs
        for group in optimizer.param_groups:
            group["lr"] = rule.lr
        noises = [torch.randn(w.shape, generator=generator, dtype=dtype) * 0.1 for w in ours]
        rule.step([gradient(w.detach(), noise) for w, noise in zip(ours, noises, strict=True)])
        for t, noise in zip(theirs, noises, strict=True):
            t.grad = gradient(t.detach(), noise)
        optimizer.step()
        for w, t in zip(ours, theirs, strict=True):
            assert torch.equal(w, t)
    for index, t in enumerate(theirs):
        state = rule.param_state(index)
        assert state.keys() == optimizer.state[t].keys()
        for slot, value in optimizer.state[t].items():
            assert state[slot].dtype == value.dtype and state[slot].device == value.device
            assert torch.equal(state[slot], value)


def test_a_rule_without_any_kernel_is_a_backend_error():
    def unsupported(*args, **kwargs):
        raise RuntimeError("no kernel for this device")

    with pytest.raises(BackendError, match="no fused or foreach unsupported update"):
        UpdateRule(TorchUpdate(unsupported, ("step",), {}), [torch.zeros(2)])


def small_backend(name: str, init_seed: int):
    """A torch backend with batch norm and dropout on 40 random samples (the same for every
    ``init_seed``; only the initial weights differ)."""
    config = build_config({"backend": "torch", "device": "cpu", "optimizer": {"name": name}})
    spec = ModelSpec((4, 8, 3), kind="complex", batchnorm=True, dropout=0.2)
    params = init_params(spec, "kaiming", 0.01, init_seed, "float32")
    backend = create_backend(config, spec, params)
    rng = np.random.default_rng(0)
    backend.set_data("train", rng.random((40, 4), dtype=np.float32), rng.integers(0, 3, 40))
    return backend


def train_epoch(backend, epoch: int) -> None:
    backend.start_epoch(np.random.default_rng(epoch).permutation(40))
    for start in range(0, 40, 16):
        backend.train_step(start, min(start + 16, 40), 0.01 * 0.9**epoch)
    backend.end_epoch()


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_state_round_trip_resumes_bit_for_bit(name):
    uninterrupted = small_backend(name, init_seed=0)
    for epoch in range(4):
        if epoch == 2:
            checkpoint = uninterrupted.state()
        train_epoch(uninterrupted, epoch)
    resumed = small_backend(name, init_seed=1)  # dropout draws from torch's global generator,
    resumed.load_state(checkpoint)  # so this one starts only after the first has finished
    for epoch in range(2, 4):
        train_epoch(resumed, epoch)
    after = uninterrupted.state()
    assert after.keys() == resumed.state().keys() == checkpoint.keys()
    for key, value in resumed.state().items():
        np.testing.assert_array_equal(value, after[key], err_msg=key)
    slots = {key.split("/")[-1] for key in checkpoint if key.startswith("opt/W1/")}
    assert (
        slots
        == {
            "sgd": set(),
            "momentum": {"momentum_buffer"},
            "nesterov": {"momentum_buffer"},
            "adam": {"step", "exp_avg", "exp_avg_sq"},
            "adamw": {"step", "exp_avg", "exp_avg_sq"},
            "adamax": {"step", "exp_avg", "exp_inf"},
            "nadam": {"step", "mu_product", "exp_avg", "exp_avg_sq"},
            "radam": {"step", "exp_avg", "exp_avg_sq"},
            "rmsprop": {"step", "square_avg"},
            "adagrad": {"step", "sum"},
            "adadelta": {"step", "square_avg", "acc_delta"},
        }[name]
    )


def test_a_torch_run_never_imports_dynamo(tmp_path):
    # torch.optim.Optimizer imports torch._dynamo (seconds) when it is built or stepped.
    args = ["train", "configs/digits.yaml", "-s", "train.epochs=2", "--runs-dir", str(tmp_path)]
    stdout, imported = mlpx_imports(*args)
    assert "completed" in stdout
    assert "torch" in imported and "torch._dynamo" not in imported
