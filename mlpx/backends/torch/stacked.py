"""K torch MLPs of one architecture trained as one: batched matmuls on (K, B, D) tensors.

The stack keeps every parameter and buffer of all K models as one (K, ...) tensor in
torch's layout (a weight is (K, fan_out, fan_in)); each model's view,
:class:`TorchStackedTrial`, is an ordinary :class:`TorchBackend` whose module's parameters
and buffers share storage with its rows, so evaluation, prediction, state, checkpoints and
model files are a separate run's code on the same numbers. A training step runs the K
forward passes as ``baddbmm``, batch norm as one ``F.batch_norm`` over K x M channels, and
one backward pass of the sum of the K losses (each model's gradient is its own loss's). The
loss is one call for all models when its registry entry has a stacked form and no model has
a penalty, and the optimizer steps the models of one update, hyperparameters and rate in one
functional call (:func:`~mlpx.backends.torch.optim.step_together`); what differs per model
is done per model: dropout masks (drawn as ``nn.Dropout`` draws them, from the model's own
generator), penalties, clipping and the step of a clipped model.

On CUDA, ``nn.Dropout`` draws its masks with a fused kernel of its own, so a stacked model
with dropout is not bit-for-bit its separate run there (on the CPU it is).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from mlpx.backends import EpochStats, Stack, StackedView
from mlpx.backends.torch import TorchBackend
from mlpx.backends.torch.optim import step_together
from mlpx.errors import BackendError
from mlpx.losses import LOSSES

if TYPE_CHECKING:
    from mlpx.config import Config
    from mlpx.model import ModelSpec

ACTIVATIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}


class TorchStackedTrial(StackedView, TorchBackend):
    """Model ``index`` of a :class:`TorchStack`: records its epoch's steps, which the stack
    trains; everything else is :class:`TorchBackend`'s over the stack's rows."""

    def __init__(
        self,
        config: Config,
        spec: ModelSpec,
        params: dict[str, np.ndarray],
        stack: TorchStack,
        index: int,
    ):
        super().__init__(config, spec, params)
        self.index = index
        # dropout's generator, where a separate run's global one would be after building
        self.generator = torch.Generator(device=self._device)
        if self._device.type == "cuda":
            self.generator.set_state(torch.cuda.get_rng_state(self._device))
        else:
            self.generator.set_state(torch.get_rng_state())
        stack.adopt(self)
        self._bind_optimizer()

    def state(self) -> dict[str, np.ndarray]:
        state = super().state()
        key = "rng/cuda" if self._device.type == "cuda" else "rng/torch"
        state[key] = self.generator.get_state().numpy().copy()
        return state

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        super().load_state(state)
        key = "rng/cuda" if self._device.type == "cuda" else "rng/torch"
        if key in state:
            self.generator.set_state(torch.as_tensor(state[key]))


class TorchStack(Stack):
    """``size`` torch models of ``config``'s architecture (see :class:`~mlpx.backends.Stack`)."""

    def __init__(self, config: Config, size: int):
        self.size = size
        self.trials: list[TorchStackedTrial] = []
        self.tensors: dict[str, torch.Tensor] = {}
        loss = LOSSES[config.loss]
        stacked = loss.stacked_torch if config.task == "classification" else None
        self.stacked_loss = stacked() if stacked is not None else None

    def backend(
        self, config: Config, spec: ModelSpec, params: dict[str, np.ndarray]
    ) -> TorchStackedTrial:
        if len(self.trials) == self.size:
            raise BackendError(f"the stack holds {self.size} models, all taken")
        if self.trials and (
            spec.sizes != self.spec.sizes or spec.uses_dropout != self.spec.uses_dropout
        ):
            raise BackendError(
                f"model {spec.describe()} does not stack with {self.spec.describe()}"
            )
        trial = TorchStackedTrial(config, spec, params, self, len(self.trials))
        self.trials.append(trial)
        return trial

    def adopt(self, trial: TorchStackedTrial) -> None:
        """Copy ``trial``'s parameters and buffers into its rows of the stack and make its
        module's tensors views of those rows."""
        named = trial.model.named_tensors(transpose=False)
        if not self.tensors:
            self.spec = trial.spec
            self.tensors = {
                name: torch.zeros((self.size, *t.shape), dtype=t.dtype, device=t.device)
                for name, t in named.items()
            }
        k = trial.index
        with torch.no_grad():
            for name, tensor in named.items():
                self.tensors[name][k].copy_(tensor)
        rows = {name: tensor[k] for name, tensor in self.tensors.items()}
        for i, linear in enumerate(trial.model.linears, start=1):
            linear.weight = nn.Parameter(rows[f"W{i}"])
            linear.bias = nn.Parameter(rows[f"b{i}"])
        for i, norm in enumerate(trial.model.norms, start=1):
            norm.weight = nn.Parameter(rows[f"gamma{i}"])
            norm.bias = nn.Parameter(rows[f"beta{i}"])
            norm.running_mean = rows[f"running_mean{i}"]
            norm.running_var = rows[f"running_var{i}"]

    def train_epoch(self, active: list[int]) -> None:
        trials = [self.trials[k] for k in active]
        bounds = trials[0].bounds
        if any(trial.bounds != bounds for trial in trials):
            raise BackendError("stacked models must take the same batches (sizes) per epoch")
        device = trials[0]._device
        rows = torch.as_tensor(active, device=device)
        losses: list[torch.Tensor] = []  # per step, (K,) for the models training
        correct = torch.zeros(len(trials), dtype=torch.int64, device=device)
        for step, (start, stop) in enumerate(bounds):
            leaves = {
                name: self.tensors[name].detach().requires_grad_()
                for name in self.spec.param_names()
            }
            x = torch.zeros(
                (self.size, stop - start, self.spec.sizes[0]), dtype=trials[0].dtype, device=device
            )
            for trial in trials:
                x[trial.index] = trial._x_epoch[start:stop]
            logits = self._forward(x, leaves, trials)
            y = torch.stack([trial._y_epoch[start:stop] for trial in trials])
            own = logits[rows]
            per_model = self._losses(trials, own, y, leaves)
            # a weight's gradient comes out transposed (strided) from baddbmm; fused update
            # kernels read gradients as laid out like their parameters
            grads = [
                g.contiguous() for g in torch.autograd.grad(per_model.sum(), list(leaves.values()))
            ]
            with torch.no_grad():
                losses.append(per_model.detach())
                correct += (own.argmax(dim=2) == y).sum(dim=1)
            self._step(trials, grads, step)
        stacked = torch.stack(losses, dim=1) if losses else torch.zeros((len(trials), 0))
        counts = correct.tolist()
        for j, trial in enumerate(trials):
            trial.stats = EpochStats(stacked[j].to(dtype=torch.float64).cpu().numpy(), counts[j])

    def _losses(
        self,
        trials: list[TorchStackedTrial],
        logits: torch.Tensor,
        y: torch.Tensor,
        leaves: dict[str, torch.Tensor],
    ) -> torch.Tensor:
        """Each training model's loss with its penalty, (K,), from its logits (K, N, C)."""
        weights = self.spec.weight_names()
        penalized = [j for j, t in enumerate(trials) if t._l1 or t._l2]
        if self.stacked_loss is not None and not penalized:
            return self.stacked_loss(logits, y)
        return torch.stack(
            [
                trial.loss(logits[j], y[j])
                + trial._penalty([leaves[name][trial.index] for name in weights])
                for j, trial in enumerate(trials)
            ]
        )

    def _step(self, trials: list[TorchStackedTrial], grads: list[torch.Tensor], step: int) -> None:
        """Each model's optimizer step on its rows of ``grads``: models of the same update,
        hyperparameters and rate in one call (:func:`step_together`), a clipped one alone."""
        together: dict[tuple, list[TorchStackedTrial]] = {}
        for trial in trials:
            if trial.clip is None:
                key = (*trial.optimizer.together, trial.rates[step])
                together.setdefault(key, []).append(trial)
                continue
            own = [g[trial.index] for g in grads]
            trial.clip(own)
            trial.optimizer.lr = trial.rates[step]
            trial.optimizer.step(own)
        for group in together.values():
            step_together(
                [trial.optimizer for trial in group],
                [[g[trial.index] for g in grads] for trial in group],
                group[0].rates[step],
            )

    def _forward(
        self, x: torch.Tensor, leaves: dict[str, torch.Tensor], trials: list[TorchStackedTrial]
    ) -> torch.Tensor:
        """Logits (K, N, C) of every model for its inputs x (K, N, D), in train mode."""
        spec, activation = self.spec, ACTIVATIONS[self.spec.activation]
        h = x
        for i in range(1, spec.n_layers):
            h = torch.baddbmm(leaves[f"b{i}"][:, None, :], h, leaves[f"W{i}"].transpose(1, 2))
            if spec.uses_batchnorm:
                h = self._batchnorm(h, i, leaves)
            h = activation(h)
            if spec.uses_dropout:
                noise = torch.ones_like(h)
                for trial in trials:
                    keep = 1 - trial.spec.dropout
                    noise[trial.index].bernoulli_(keep, generator=trial.generator).div_(keep)
                h = h * noise
        last = spec.n_layers
        return torch.baddbmm(leaves[f"b{last}"][:, None, :], h, leaves[f"W{last}"].transpose(1, 2))

    def _batchnorm(self, h: torch.Tensor, i: int, leaves: dict[str, torch.Tensor]) -> torch.Tensor:
        """``nn.BatchNorm1d`` in train mode of every model: one batch norm over K x M
        channels, each normalised over its own model's batch."""
        k, n, m = h.shape
        out = functional.batch_norm(
            h.transpose(0, 1).reshape(n, k * m),
            self.tensors[f"running_mean{i}"].view(k * m),
            self.tensors[f"running_var{i}"].view(k * m),
            leaves[f"gamma{i}"].reshape(k * m),
            leaves[f"beta{i}"].reshape(k * m),
            training=True,
        )
        return out.reshape(n, k, m).transpose(0, 1)


STACK = TorchStack
