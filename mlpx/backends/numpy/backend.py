"""The NumPy backend: the :class:`~mlpx.backends.Backend` interface over :class:`MLP`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from mlpx.backends import Backend, EpochStats, Evaluation, cpu_threads
from mlpx.backends.numpy.layers import softmax_cross_entropy
from mlpx.backends.numpy.network import MLP
from mlpx.backends.numpy.optim import build_update_rule
from mlpx.errors import BackendError

if TYPE_CHECKING:
    from mlpx.config import Config
    from mlpx.model import ModelSpec

EVAL_CHUNK = 1024
"""Rows per forward pass when evaluating or predicting (bounds the activation buffers)."""

RNG_STATE_KEY = "rng/dropout"
"""Key of the dropout generator's state (JSON text in a 0-d str array) in :meth:`state`."""


FUSED_UPDATE_MIN = 1 << 16
"""Parameters a layer needs for its step to run inside the backward pass, right after its
gradients are computed (while they are in cache); smaller layers join the next such step,
so a small network still takes one update call per training step."""


def pack(arrays: dict[str, np.ndarray], dtype: np.dtype) -> tuple[np.ndarray, dict[str, slice]]:
    """Copy ``arrays`` into one flat buffer and replace each by a view of it (in place).

    A matrix's view is the transpose of a C-contiguous (columns, rows) block: a weight
    W (fan_in, fan_out) lies in memory like PyTorch's (fan_out, fan_in), the layout in which
    BLAS computes both ``x @ W`` and the weight gradient ``dout.T @ x`` fastest.

    Returns the buffer and each array's slice of it.
    """
    flat = np.empty(sum(a.size for a in arrays.values()), dtype)
    parts, offset = {}, 0
    for name, value in arrays.items():
        parts[name] = slice(offset, offset + value.size)
        view = flat_view(flat, parts[name], value.shape)
        view[...] = value
        arrays[name] = view
        offset += value.size
    return flat, parts


def flat_view(flat: np.ndarray, part: slice, shape: tuple[int, ...]) -> np.ndarray:
    """The array of ``shape`` that :func:`pack` placed at ``flat[part]``."""
    if len(shape) == 2:
        return flat[part].reshape(shape[::-1]).T
    return flat[part].reshape(shape)


def update_segments(spec: ModelSpec, parts: dict[str, slice], size: int) -> dict[int, slice]:
    """Where the step runs inside the backward pass: affine layer ``i`` -> the slice of the
    flat parameters to step once layer ``i``'s gradients are final.

    Backprop finishes the layers last to first, and :func:`pack` lays each layer's
    parameters out together in order, so a segment runs from layer ``i``'s first parameter
    to the start of the previous segment. A layer with fewer than :data:`FUSED_UPDATE_MIN`
    parameters joins the segment of the layer before it; layer 1 ends the pass.
    """
    segments, end = {}, size
    for i in range(spec.n_layers, 0, -1):
        start = parts[f"W{i}"].start
        if i == 1 or end - start >= FUSED_UPDATE_MIN:
            segments[i] = slice(start, end)
            end = start
    return segments


class NumpyBackend(Backend):
    """An MLP trained with hand-written backprop and update rules, on the CPU.

    Dropout masks come from ``np.random.default_rng(config.seed)``; its state is part of
    :meth:`state`, so a resumed run draws the same masks as an uninterrupted one.
    """

    name = "numpy"
    model_filename = "model.npz"

    def __init__(self, config: Config, spec: ModelSpec, params: dict[str, np.ndarray]):
        super().__init__(config, spec, params)
        if config.device.startswith("cuda"):
            raise BackendError(
                f"device: {config.device!r} is not available to the numpy backend, which runs "
                "on the CPU only; use device: cpu or backend: torch"
            )
        # BLAS is process-wide: the limit holds while this process trains
        threadpool_limits(cpu_threads(config, spec))
        self.dtype = np.dtype(config.dtype)
        self.net = MLP(spec, params, self.dtype, config.regularization.l1, config.regularization.l2)
        self.rule = build_update_rule(config.optimizer)
        # Every parameter (and gradient) is a view of one flat buffer, so the update rule
        # runs once per step over all of them instead of once per parameter; each
        # parameter's optimizer state is likewise a view of the rule's flat state.
        self._flat_params, parts = pack(self.net.params, self.dtype)
        self._flat_grads, _ = pack(self.net.grads, self.dtype)
        self._flat_state = self.rule.init_state(self._flat_params)
        self.opt_state = {
            name: {
                # a 0-d slot (Adam's step count) is shared by every parameter
                slot: flat if flat.ndim == 0 else flat_view(flat, part, self.net.params[name].shape)
                for slot, flat in self._flat_state.items()
            }
            for name, part in parts.items()
        }
        # Rules that step each element on its own step each layer's parameters inside the
        # backward pass; plain SGD also folds -lr into the gradients (one pass: W += grad).
        self._segments = (
            update_segments(spec, parts, self._flat_params.size) if self.rule.elementwise else {}
        )
        self._segment_state = {
            i: {slot: flat[part] for slot, flat in self._flat_state.items()}
            for i, part in self._segments.items()
        }
        self.rng = np.random.default_rng(config.seed)
        self._x: dict[str, np.ndarray] = {}
        self._y: dict[str, np.ndarray | None] = {}
        self._xbatch = np.empty((0, spec.sizes[0]), self.dtype)
        self._ybatch = np.empty(0, np.int64)
        self._order = np.empty(0, np.int64)
        self._lr = 0.0
        self._losses: list[float] = []
        self._correct = 0

    @property
    def device(self) -> str:
        return "cpu"

    def set_data(self, split: str, x: np.ndarray, y: np.ndarray | None) -> None:
        self._x[split] = np.ascontiguousarray(x, dtype=self.dtype)
        self._y[split] = None if y is None else np.ascontiguousarray(y, dtype=np.int64)

    def start_epoch(self, order: np.ndarray, lr: float) -> None:
        n_train = len(self._x["train"])
        if len(order) and (order.min() < 0 or order.max() >= n_train):
            raise BackendError(f"batch order: indices must lie in [0, {n_train})")
        self._order = np.asarray(order, dtype=np.int64)
        self._lr = lr
        self._losses = []
        self._correct = 0

    def train_step(self, start: int, stop: int) -> None:
        n = stop - start
        if self.spec.uses_batchnorm and n < 2:
            raise BackendError(
                f"batch norm needs at least 2 samples per training batch, got a batch of {n} "
                f"(rows {start}:{stop}); change train.batch_size or drop the last batch"
            )
        if n > len(self._xbatch):
            self._xbatch = np.empty((n, self.spec.sizes[0]), self.dtype)
            self._ybatch = np.empty(n, np.int64)
        rows = self._order[start:stop]
        # mode="clip" lets take() write straight into the buffer (mode="raise" copies);
        # start_epoch has checked that every index is in range.
        x = self._x["train"].take(rows, axis=0, out=self._xbatch[:n], mode="clip")
        y = self._y["train"].take(rows, out=self._ybatch[:n], mode="clip")
        # overflow is how a diverging run ends: the loop reports the non-finite loss once,
        # so NumPy's per-operation warnings would only bury that message
        with np.errstate(over="ignore", invalid="ignore"):
            if self._segments:
                scale = -self._lr if self.rule.folds_lr else 1.0
                loss, scores = self.net.forward_backward(x, y, self.rng, scale, self._step_layer)
            else:
                loss, scores = self.net.forward_backward(x, y, self.rng)
                self.rule.update(self._flat_params, self._flat_grads, self._flat_state, self._lr)
        self._losses.append(loss)
        self._correct += int(np.count_nonzero(scores.argmax(axis=1) == y))

    def _step_layer(self, layer: int) -> None:
        """The update of the segment that ends the backward pass of ``layer``, if any."""
        part = self._segments.get(layer)
        if part is None:
            return
        w, dw = self._flat_params[part], self._flat_grads[part]
        if self.rule.folds_lr:  # the gradient already is -lr * dL/dw
            w += dw
        else:
            self.rule.update(w, dw, self._segment_state[layer], self._lr)

    def end_epoch(self) -> EpochStats:
        return EpochStats(np.array(self._losses, dtype=np.float64), self._correct)

    def evaluate(self, split: str) -> Evaluation:
        x, y = self._x[split], self._y[split]
        predictions = np.empty(len(x), dtype=np.int64)
        total_loss = 0.0
        for start in range(0, len(x), EVAL_CHUNK):
            stop = min(start + EVAL_CHUNK, len(x))
            scores = self.net.forward(x[start:stop], train=False)
            np.argmax(scores, axis=1, out=predictions[start:stop])
            if y is not None:
                total_loss += softmax_cross_entropy(scores, y[start:stop])[0] * (stop - start)
        if y is None or len(x) == 0:
            return Evaluation(None, None, predictions)
        accuracy = float(np.count_nonzero(predictions == y)) / len(x)
        return Evaluation(total_loss / len(x), accuracy, predictions)

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=self.dtype)
        predictions = np.empty(len(x), dtype=np.int64)
        for start in range(0, len(x), EVAL_CHUNK):
            scores = self.net.forward(x[start : start + EVAL_CHUNK], train=False)
            np.argmax(scores, axis=1, out=predictions[start : start + EVAL_CHUNK])
        return predictions

    def params(self) -> dict[str, np.ndarray]:
        return {name: value.copy() for name, value in (self.net.params | self.net.buffers).items()}

    def state(self) -> dict[str, np.ndarray]:
        state = self.params()
        for name, slots in self.opt_state.items():
            for slot, value in slots.items():
                state[f"opt/{name}/{slot}"] = value.copy()
        state[RNG_STATE_KEY] = np.array(json.dumps(self.rng.bit_generator.state))
        return state

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        for name, value in (self.net.params | self.net.buffers).items():
            np.copyto(value, state[name])
        for name, slots in self.opt_state.items():
            for slot, value in slots.items():
                np.copyto(value, state[f"opt/{name}/{slot}"])
        self.rng.bit_generator.state = json.loads(str(state[RNG_STATE_KEY]))

    def save_model(self, path: Path) -> None:
        # A file object, not a name: np.savez would append ".npz" to a temporary name.
        with open(path, "wb") as file:
            np.savez(file, **self.params())

    @staticmethod
    def load_model(path: Path) -> dict[str, np.ndarray]:
        with np.load(path, allow_pickle=False) as arrays:
            return {name: arrays[name] for name in arrays.files}
