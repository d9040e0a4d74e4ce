"""The NumPy backend: the :class:`~mlpx.backends.Backend` interface over :class:`MLP`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from mlpx.backends import Backend, EpochStats, Evaluation, cpu_threads
from mlpx.backends.numpy.clipping import gradient_clip
from mlpx.backends.numpy.network import MLP
from mlpx.backends.numpy.stepping import FlatStepper, StateRows
from mlpx.errors import BackendError
from mlpx.losses import LOSSES
from mlpx.optimizers import numpy_rule

if TYPE_CHECKING:
    from mlpx.config import Config
    from mlpx.model import ModelSpec

EVAL_CHUNK = 1024
"""Rows per forward pass when evaluating or predicting (bounds the activation buffers)."""

RNG_STATE_KEY = "rng/dropout"
"""Key of the dropout generator's state (JSON text in a 0-d str array) in :meth:`state`."""


class NumpyBackend(Backend):
    """An MLP trained with hand-written backprop and update rules, on the CPU.

    Dropout masks come from ``np.random.default_rng(config.seed)``; its state is part of
    :meth:`state`, so a resumed run draws the same masks as an uninterrupted one.
    """

    name = "numpy"
    model_filename = "model.npz"

    def __init__(
        self,
        config: Config,
        spec: ModelSpec,
        params: dict[str, np.ndarray],
        rows: tuple[np.ndarray, np.ndarray] | None = None,
        state_rows: StateRows | None = None,
    ):
        """``rows``, ``state_rows``: where the parameters, gradients and optimizer state
        live (rows of a stack's arrays; see FlatStepper)."""
        super().__init__(config, spec, params)
        if config.device.startswith("cuda"):
            raise BackendError(
                f"device: {config.device!r} is not available to the numpy backend, which runs "
                "on the CPU only; use device: cpu or backend: torch"
            )
        # BLAS is process-wide: the limit holds while this process trains
        self.threads = cpu_threads(config, spec)
        threadpool_limits(self.threads)
        self.dtype = np.dtype(config.dtype)
        self.regression = config.task == "regression"
        self.loss = LOSSES[config.loss].numpy_loss(config.task, config)
        # labels (N,) int64, or real targets (N, outputs) of the run's dtype
        self._ytype = self.dtype if self.regression else np.dtype(np.int64)
        reg = config.regularization
        self.net = MLP(spec, params, self.dtype, reg.l1, reg.l2, self.loss)
        self.stepper = FlatStepper(
            spec,
            self.net.params,
            self.net.grads,
            numpy_rule(config.optimizer),
            self.dtype,
            gradient_clip(config.train),
            rows,
            state_rows,
        )
        self.rng = np.random.default_rng(config.seed)
        self._x: dict[str, np.ndarray] = {}
        self._y: dict[str, np.ndarray | None] = {}
        self._xbatch = np.empty((0, spec.sizes[0]), self.dtype)
        self._ybatch = np.empty((0, *self._target_shape), self._ytype)
        self._order = np.empty(0, np.int64)
        self._losses: list[float] = []
        self._correct = 0

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def _target_shape(self) -> tuple[int, ...]:
        """The shape of one sample's target: () for a label, (outputs,) for regression."""
        return (self.spec.sizes[-1],) if self.regression else ()

    def set_data(self, split: str, x: np.ndarray, y: np.ndarray | None) -> None:
        self._x[split] = np.ascontiguousarray(x, dtype=self.dtype)
        self._y[split] = None if y is None else np.ascontiguousarray(y, dtype=self._ytype)

    def start_epoch(self, order: np.ndarray) -> None:
        n_train = len(self._x["train"])
        if len(order) and (order.min() < 0 or order.max() >= n_train):
            raise BackendError(f"batch order: indices must lie in [0, {n_train})")
        self._order = np.asarray(order, dtype=np.int64)
        self._losses = []
        self._correct = 0

    def check_batch(self, start: int, stop: int) -> None:
        """Refuse a training batch that the model cannot take."""
        n = stop - start
        if self.spec.uses_batchnorm and n < 2:
            raise BackendError(
                f"batch norm needs at least 2 samples per training batch, got a batch of {n} "
                f"(rows {start}:{stop}); change train.batch_size or drop the last batch"
            )

    def gather(self, start: int, stop: int, x: np.ndarray, y: np.ndarray) -> None:
        """The batch ``order[start:stop]`` of the current epoch into x (n, D) and y (n,)
        (labels) or (n, outputs) (regression targets)."""
        rows = self._order[start:stop]
        # mode="clip" lets take() write straight into the buffer (mode="raise" copies);
        # start_epoch has checked that every index is in range.
        self._x["train"].take(rows, axis=0, out=x, mode="clip")
        self._y["train"].take(rows, axis=0, out=y, mode="clip")

    def train_step(self, start: int, stop: int, lr: float) -> None:
        self.check_batch(start, stop)
        n = stop - start
        if n > len(self._xbatch):
            self._xbatch = np.empty((n, self.spec.sizes[0]), self.dtype)
            self._ybatch = np.empty((n, *self._target_shape), self._ytype)
        x, y = self._xbatch[:n], self._ybatch[:n]
        self.gather(start, stop, x, y)
        # overflow is how a diverging run ends: the loop reports the non-finite loss once,
        # so NumPy's per-operation warnings would only bury that message
        stepper = self.stepper
        stepper.lr = lr
        with np.errstate(over="ignore", invalid="ignore"):
            if stepper.segments:  # the rule steps each layer inside the backward pass
                loss, scores = self.net.forward_backward(
                    x, y, self.rng, stepper.gradient_scale, stepper.after_layer
                )
            else:
                loss, scores = self.net.forward_backward(x, y, self.rng)
                stepper.step()
        self._losses.append(loss)
        if not self.regression:
            self._correct += int(np.count_nonzero(scores.argmax(axis=1) == y))

    def end_epoch(self) -> EpochStats:
        return EpochStats(np.array(self._losses, dtype=np.float64), self._correct)

    def evaluate(self, split: str) -> Evaluation:
        x, y = self._x[split], self._y[split]
        predictions = self._empty_predictions(len(x))
        total_loss = 0.0
        for start in range(0, len(x), EVAL_CHUNK):
            stop = min(start + EVAL_CHUNK, len(x))
            scores = self.net.forward(x[start:stop], train=False)
            self._store_predictions(scores, predictions[start:stop])
            if y is not None:
                total_loss += self.loss(scores, y[start:stop])[0] * (stop - start)
        if y is None or len(x) == 0:
            return Evaluation(None, None, predictions)
        if self.regression:
            return Evaluation(total_loss / len(x), None, predictions)
        accuracy = float(np.count_nonzero(predictions == y)) / len(x)
        return Evaluation(total_loss / len(x), accuracy, predictions)

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=self.dtype)
        predictions = self._empty_predictions(len(x))
        for start in range(0, len(x), EVAL_CHUNK):
            scores = self.net.forward(x[start : start + EVAL_CHUNK], train=False)
            self._store_predictions(scores, predictions[start : start + EVAL_CHUNK])
        return predictions

    def _empty_predictions(self, n: int) -> np.ndarray:
        """Labels (n,) int64, or outputs (n, outputs) float64 for regression."""
        if self.regression:
            return np.empty((n, self.spec.sizes[-1]), dtype=np.float64)
        return np.empty(n, dtype=np.int64)

    def _store_predictions(self, scores: np.ndarray, out: np.ndarray) -> None:
        if self.regression:
            out[...] = scores
        else:
            np.argmax(scores, axis=1, out=out)

    def params(self) -> dict[str, np.ndarray]:
        return {name: value.copy() for name, value in (self.net.params | self.net.buffers).items()}

    def state(self) -> dict[str, np.ndarray]:
        state = self.params()
        for name, slots in self.stepper.state.items():
            for slot, value in slots.items():
                state[f"opt/{name}/{slot}"] = value.copy()
        state[RNG_STATE_KEY] = np.array(json.dumps(self.rng.bit_generator.state))
        return state

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        for name, value in (self.net.params | self.net.buffers).items():
            np.copyto(value, state[name])
        for name, slots in self.stepper.state.items():
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
