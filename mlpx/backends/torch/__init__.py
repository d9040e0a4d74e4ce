"""The PyTorch backend: ``nn.Module`` MLPs, ``torch.optim``'s update rules, data on the device once.

Batches are slices of the epoch's permuted copy of the training tensors (one gather per
epoch, no per-sample Dataset). Per-batch losses and correct counts stay on the device and are
read once per epoch, so a CUDA run does not synchronise per batch. The loss is torch's own,
named by the config's entry in :mod:`mlpx.losses`; the update rules are ``torch.optim``'s
functional ones, named by the entries of :mod:`mlpx.optimizers` (see
:mod:`mlpx.backends.torch.optim`), so a run never imports ``torch._dynamo``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from mlpx.backends import Backend, EpochStats, Evaluation, cpu_threads
from mlpx.backends.torch.clipping import gradient_clip
from mlpx.backends.torch.optim import UpdateRule
from mlpx.errors import BackendError
from mlpx.losses import LOSSES
from mlpx.model import ModelSpec
from mlpx.optimizers import torch_update

EVAL_CHUNK = 8192
ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class MLP(nn.Module):
    """Simple (Linear-act-...-Linear) or complex (Linear-BatchNorm-act-Dropout blocks) MLP."""

    def __init__(self, spec: ModelSpec):
        super().__init__()
        self.spec = spec
        self.linears = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(spec.sizes[:-1], spec.sizes[1:], strict=True)
        )
        hidden = spec.sizes[1:-1]
        self.norms = nn.ModuleList(nn.BatchNorm1d(w) for w in hidden if spec.uses_batchnorm)
        self.activation = ACTIVATIONS[spec.activation]()
        self.dropout = nn.Dropout(spec.dropout) if spec.uses_dropout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, C) for inputs x (N, D)."""
        for i, linear in enumerate(self.linears[:-1]):
            x = linear(x)
            if self.norms:
                x = self.norms[i](x)
            x = self.activation(x)
            if self.dropout is not None:
                x = self.dropout(x)
        return self.linears[-1](x)

    def named_tensors(self, transpose: bool = True) -> dict[str, torch.Tensor]:
        """Parameters and buffers under mlpx's names.

        With ``transpose`` W is a (fan_in, fan_out) view as mlpx stores it; without, the
        (fan_out, fan_in) leaf parameter itself, which is what optimizers need.
        """
        named: dict[str, torch.Tensor] = {}
        for i, linear in enumerate(self.linears, start=1):
            named[f"W{i}"] = linear.weight.T if transpose else linear.weight
            named[f"b{i}"] = linear.bias
            if self.norms and i < len(self.linears):
                norm = self.norms[i - 1]
                named[f"gamma{i}"] = norm.weight
                named[f"beta{i}"] = norm.bias
                named[f"running_mean{i}"] = norm.running_mean
                named[f"running_var{i}"] = norm.running_var
        return named


def resolve_device(requested: str) -> torch.device:
    """``auto`` -> cuda when available else cpu; a missing cuda device is a BackendError."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise BackendError(
                f"device: {requested} was requested but no CUDA GPU is available to torch "
                f"{torch.__version__}; use device: cpu or auto"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise BackendError(
                f"device: {requested} does not exist; this machine has "
                f"{torch.cuda.device_count()} CUDA device(s) (cuda:0..)"
            )
    return device


class TorchBackend(Backend):
    """See the module docstring."""

    name = "torch"
    model_filename = "model.pt"

    def __init__(self, config, spec: ModelSpec, params: dict[str, np.ndarray]):
        super().__init__(config, spec, params)
        self._device = resolve_device(config.device)
        if self._device.type == "cpu":
            self.threads = cpu_threads(config, spec)
            torch.set_num_threads(self.threads)
        self.dtype = getattr(torch, config.dtype)
        torch.manual_seed(config.seed)
        self.model = MLP(spec).to(device=self._device, dtype=self.dtype)
        self._load_params(params)
        self._bind_optimizer()
        self.clip = gradient_clip(config.train)
        self.regression = config.task == "regression"
        self.loss = LOSSES[config.loss].torch_loss(config.task, config)
        self._l1, self._l2 = config.regularization.l1, config.regularization.l2
        self._data: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
        self._losses: list[torch.Tensor] = []
        self._correct = torch.zeros((), dtype=torch.int64, device=self._device)

    def _bind_optimizer(self) -> None:
        """Name the model's tensors and give its parameters a fresh optimizer state."""
        self._named = self.model.named_tensors()
        self._param_names = self.spec.param_names()
        leaves = self.model.named_tensors(transpose=False)
        self._weights = [leaves[name] for name in self.spec.weight_names()]
        self._leaves = [leaves[name] for name in self._param_names]
        self.optimizer = UpdateRule(torch_update(self.config.optimizer), self._leaves)

    @property
    def device(self) -> str:
        return str(self._device)

    def _load_params(self, params: dict[str, np.ndarray]) -> None:
        with torch.no_grad():
            for name, tensor in self.model.named_tensors().items():
                tensor.copy_(torch.as_tensor(params[name]))

    def set_data(self, split: str, x: np.ndarray, y: np.ndarray | None) -> None:
        x_t = torch.as_tensor(x).to(device=self._device, dtype=self.dtype)
        ytype = self.dtype if self.regression else torch.int64
        y_t = None if y is None else torch.as_tensor(y).to(device=self._device, dtype=ytype)
        self._data[split] = (x_t, y_t)

    def start_epoch(self, order: np.ndarray) -> None:
        x, y = self._data["train"]
        index = torch.as_tensor(order, device=self._device)
        self._x_epoch, self._y_epoch = x[index], y[index]
        self._losses = []
        self._correct.zero_()
        self.model.train()

    def _penalty(self, weights: list[torch.Tensor] | None = None) -> torch.Tensor | float:
        """The L1/L2 penalty of ``weights`` (fan_out, fan_in) (default: the model's)."""
        weights = self._weights if weights is None else weights
        penalty: torch.Tensor | float = 0.0
        if self._l2:
            penalty = penalty + self._l2 * sum(w.pow(2).sum() for w in weights)
        if self._l1:
            penalty = penalty + self._l1 * sum(w.abs().sum() for w in weights)
        return penalty

    def train_step(self, start: int, stop: int, lr: float) -> None:
        xb, yb = self._x_epoch[start:stop], self._y_epoch[start:stop]
        logits = self.model(xb)
        loss = self.loss(logits, yb) + self._penalty()
        self.optimizer.lr = lr
        grads = list(torch.autograd.grad(loss, self._leaves))
        if self.clip is not None:
            self.clip(grads)
        self.optimizer.step(grads)
        with torch.no_grad():
            self._losses.append(loss.detach())
            if not self.regression:
                self._correct += (logits.argmax(dim=1) == yb).sum()

    def end_epoch(self) -> EpochStats:
        losses = torch.stack(self._losses).to(dtype=torch.float64).cpu().numpy()
        return EpochStats(losses=losses, correct=int(self._correct.item()))

    def _forward_chunks(self, x: torch.Tensor) -> torch.Tensor:
        self.model.eval()
        with torch.inference_mode():
            chunks = [self.model(x[i : i + EVAL_CHUNK]) for i in range(0, len(x), EVAL_CHUNK)]
            logits = torch.cat(chunks)
        self.model.train()
        return logits

    def evaluate(self, split: str) -> Evaluation:
        x, y = self._data[split]
        logits = self._forward_chunks(x)
        if self.regression:
            outputs = logits.to(torch.float64).cpu().numpy()
            loss = None if y is None else self.loss(logits, y).item()
            return Evaluation(loss, None, outputs)
        predictions = logits.argmax(dim=1)
        if y is None:
            return Evaluation(None, None, predictions.cpu().numpy())
        loss = self.loss(logits, y).item()
        accuracy = (predictions == y).double().mean().item()
        return Evaluation(loss, accuracy, predictions.cpu().numpy())

    def predict(self, x: np.ndarray) -> np.ndarray:
        x_t = torch.as_tensor(x).to(device=self._device, dtype=self.dtype)
        outputs = self._forward_chunks(x_t)
        if self.regression:
            return outputs.to(torch.float64).cpu().numpy()
        return outputs.argmax(dim=1).cpu().numpy()

    def params(self) -> dict[str, np.ndarray]:
        return {name: t.detach().cpu().numpy().copy() for name, t in self._named.items()}

    def state(self) -> dict[str, np.ndarray]:
        state = self.params()
        for index, name in enumerate(self._param_names):
            for slot, value in self.optimizer.param_state(index).items():
                state[f"opt/{name}/{slot}"] = value.cpu().numpy().copy()
        state["rng/torch"] = torch.get_rng_state().numpy().copy()
        if self._device.type == "cuda":
            state["rng/cuda"] = torch.cuda.get_rng_state(self._device).numpy().copy()
        return state

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        self._load_params(state)
        for index, name in enumerate(self._param_names):
            prefix = f"opt/{name}/"
            entries = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
            self.optimizer.load_param_state(index, entries)
        torch.set_rng_state(torch.as_tensor(state["rng/torch"]))
        if "rng/cuda" in state and self._device.type == "cuda":
            torch.cuda.set_rng_state(torch.as_tensor(state["rng/cuda"]), self._device)

    def save_model(self, path: Path) -> None:
        torch.save({name: torch.as_tensor(a) for name, a in self.params().items()}, path)

    @staticmethod
    def load_model(path: Path) -> dict[str, np.ndarray]:
        tensors = torch.load(path, map_location="cpu", weights_only=True)
        return {name: t.numpy() for name, t in tensors.items()}


BACKEND = TorchBackend
