"""K NumPy MLPs of one architecture trained as one: batched matmuls on (K, B, D) arrays.

The stack keeps every model's parameters and gradients as rows of two flat (K, P) buffers,
laid out as :func:`~mlpx.backends.numpy.stepping.pack` lays out one model's, and batch-norm
running statistics as (K, M) arrays. :class:`StackedMLP` is the network of
:mod:`~mlpx.backends.numpy.network` over those arrays (its layers take the leading trial
axis); each model's view, :class:`StackedTrial`, is an ordinary :class:`NumpyBackend` whose
arrays are its rows, so evaluation, prediction, state, checkpoints and model files are a
separate run's code on the same numbers. What differs per model is done per model: the
batch gather (its own order and split), dropout masks (its own generator and rate) and the
penalty. The loss and the optimizer step run once for all models when they can, with the
arithmetic of separate calls: the loss when its registry entry has a stacked form
(``stacked_numpy``), the step when every model has the same rule, one that
:attr:`~mlpx.optimizers.UpdateRule.stacks`, and no clip (each model's own rate and step count
as a column); otherwise once per model.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from mlpx.backends import EpochStats, Stack, StackedView
from mlpx.backends.numpy.backend import NumpyBackend
from mlpx.backends.numpy.layers import dropout_mask
from mlpx.backends.numpy.network import MLP
from mlpx.backends.numpy.stepping import flat_view
from mlpx.errors import BackendError
from mlpx.losses import LOSSES
from mlpx.optimizers import UpdateRule, numpy_rule

if TYPE_CHECKING:
    from mlpx.config import Config
    from mlpx.model import ModelSpec


class StackedTrial(StackedView, NumpyBackend):
    """Model ``index`` of a :class:`NumpyStack`: records its epoch's steps, which the stack
    trains; everything else is :class:`NumpyBackend`'s over the stack's rows."""

    def __init__(
        self,
        config: Config,
        spec: ModelSpec,
        params: dict[str, np.ndarray],
        stack: NumpyStack,
        index: int,
    ):
        rows = (stack.params[index], stack.grads[index])
        state_rows = functools.partial(stack.state_rows, index, numpy_rule(config.optimizer))
        super().__init__(config, spec, params, rows=rows, state_rows=state_rows)
        self.index = index
        for name, value in self.net.buffers.items():
            stack.buffers[name][index] = value
            self.net.buffers[name] = stack.buffers[name][index]

    def train_step(self, start: int, stop: int, lr: float) -> None:
        self.check_batch(start, stop)
        super().train_step(start, stop, lr)


class StackedMLP(MLP):
    """:class:`MLP` over a stack's (K, ...) arrays; each model draws its own dropout masks."""

    def __init__(self, spec: ModelSpec, stack: NumpyStack):
        arrays = stack.param_views(stack.params) | stack.buffers
        super().__init__(spec, arrays, stack.dtype)
        self.params = arrays
        self.buffers = stack.buffers
        self.grads = stack.param_views(stack.grads)
        self.stack = stack

    def draw_mask(self, rng: np.random.Generator | None, out: np.ndarray) -> np.ndarray:
        """Each training model's mask (N, M) from its own generator and rate into ``out``
        (K, N, M); the rows of models not training are left as they are."""
        for k in self.stack.active:
            trial = self.stack.trials[k]
            dropout_mask(trial.spec.dropout, trial.rng, out=out[k])
        return out


class NumpyStack(Stack):
    """``size`` NumPy models of ``config``'s architecture (see :class:`~mlpx.backends.Stack`)."""

    def __init__(self, config: Config, size: int):
        self.size = size
        self.dtype = np.dtype(config.dtype)
        self.trials: list[StackedTrial] = []
        self.active: list[int] = []
        self._net: StackedMLP | None = None
        loss = LOSSES[config.loss]
        self.stacked_loss = loss.stacked_numpy if config.task == "classification" else None
        self.rule: UpdateRule | None = None
        """The update rule whose models keep their state in the stack's rows: the first
        model's, when it stacks (models of another rule keep theirs apart and step alone)."""
        self.state: dict[tuple, np.ndarray] = {}
        """That state: (slot, shape, dtype) -> (K, *shape) rows, a 0-d slot's as a (K, 1)
        column."""
        self.in_rows: set[int] = set()
        """The models whose state is in those rows."""

    def backend(
        self, config: Config, spec: ModelSpec, params: dict[str, np.ndarray]
    ) -> StackedTrial:
        if not self.trials:
            self._allocate(spec, params)
        elif spec.sizes != self.spec.sizes or spec.uses_dropout != self.spec.uses_dropout:
            raise BackendError(
                f"model {spec.describe()} does not stack with {self.spec.describe()}"
            )
        if len(self.trials) == self.size:
            raise BackendError(f"the stack holds {self.size} models, all taken")
        trial = StackedTrial(config, spec, params, self, len(self.trials))
        self.trials.append(trial)
        return trial

    def _allocate(self, spec: ModelSpec, params: dict[str, np.ndarray]) -> None:
        self.spec = spec
        self.shapes = {name: params[name].shape for name in spec.param_names()}
        self.parts, offset = {}, 0
        for name, shape in self.shapes.items():  # pack()'s layout, in the same order
            self.parts[name] = slice(offset, offset + int(np.prod(shape)))
            offset = self.parts[name].stop
        self.params = np.empty((self.size, offset), self.dtype)
        self.grads = np.zeros((self.size, offset), self.dtype)
        self.buffers = {
            name: np.empty((self.size, *params[name].shape), self.dtype)
            for name in spec.buffer_names()
        }

    def state_rows(
        self, index: int, rule: UpdateRule, fresh: dict[str, np.ndarray]
    ) -> dict[str, np.ndarray]:
        """Model ``index``'s rows of the stack's optimizer state, set to ``fresh``; or
        ``fresh`` itself for a model of another rule than :attr:`rule` (rows for every rule
        of an optimizer sweep would take memory no step uses)."""
        if self.rule is None and rule.stacks:
            self.rule = rule
        if rule != self.rule:
            return fresh
        self.in_rows.add(index)
        rows = {}
        for slot, value in fresh.items():
            key = (slot, value.shape, value.dtype.str)
            if key not in self.state:
                self.state[key] = np.zeros((self.size, *(value.shape or (1,))), value.dtype)
            row = self.state[key][index]
            rows[slot] = row.reshape(()) if not value.shape else row
            rows[slot][...] = value
        return rows

    def param_views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Every parameter of all models, (K, *shape), as views of ``flat`` (K, P)."""
        return {name: flat_view(flat, self.parts[name], s) for name, s in self.shapes.items()}

    def train_epoch(self, active: list[int]) -> None:
        trials = [self.trials[k] for k in active]
        bounds = trials[0].bounds
        if any(trial.bounds != bounds for trial in trials):
            raise BackendError("stacked models must take the same batches (sizes) per epoch")
        if self._net is None:
            self._net = StackedMLP(self.spec, self)
        self.active = active
        width = max((stop - start for start, stop in bounds), default=0)
        x = np.zeros((self.size, width, self.spec.sizes[0]), self.dtype)
        y = np.zeros((self.size, width), np.int64)
        dscores = np.zeros((self.size, width, self.spec.sizes[-1]), self.dtype)
        losses = np.empty((len(trials), len(bounds)))
        correct = np.zeros(len(trials), np.int64)
        penalized = [t for t in trials if t.net.l1 or t.net.l2]
        # the models trained, as a slice of the stack's rows when they are contiguous (views)
        rows = slice(active[0], active[-1] + 1) if _contiguous(active) else active
        at_once = self._steps_at_once(trials, rows)
        for step, (start, stop) in enumerate(bounds):
            n = stop - start
            for trial in trials:
                trial.gather(start, stop, x[trial.index, :n], y[trial.index, :n])
            # as in NumpyBackend.train_step: a diverging model ends on its non-finite loss
            with np.errstate(over="ignore", invalid="ignore"):
                scores = self._net.forward(x[:, :n], train=True)
                self._losses(trials, rows, scores, y[:, :n], dscores[:, :n], losses[:, step])
                correct += np.count_nonzero(scores[rows].argmax(axis=2) == y[rows, :n], axis=1)
                self._net.backward(dscores[:, :n])
                for trial in penalized:
                    for name in self.spec.weight_names():
                        trial.net.add_penalty_grad(name, 1.0)
                if at_once:
                    self._step_at_once(trials, rows, step)
                else:
                    for trial in trials:
                        trial.stepper.lr = trial.rates[step]
                        trial.stepper.step()
        for j, trial in enumerate(trials):
            trial.stats = EpochStats(losses[j], int(correct[j]))

    def _losses(
        self,
        trials: list[StackedTrial],
        rows: slice | list[int],
        scores: np.ndarray,
        y: np.ndarray,
        dscores: np.ndarray,
        out: np.ndarray,
    ) -> None:
        """Each training model's loss with its penalty into ``out`` (one per model), the
        loss's gradient into ``dscores`` (K, N, C)."""
        if self.stacked_loss is None:
            for j, trial in enumerate(trials):
                k = trial.index
                loss, dscores[k] = trial.loss(scores[k], y[k])
                out[j] = loss + trial.net.penalty()
            return
        data_losses, dscores[rows] = self.stacked_loss(scores[rows], y[rows])
        for j, trial in enumerate(trials):  # as a separate run adds them: float + float
            out[j] = float(data_losses[j]) + trial.net.penalty()

    def _steps_at_once(self, trials: list[StackedTrial], rows: slice | list[int]) -> bool:
        """Whether one update steps every training model: their rows contiguous, their
        state in the stack's rows (the same rule, one that stacks), and no clip."""
        return (
            isinstance(rows, slice)
            and all(trial.index in self.in_rows for trial in trials)
            and all(trial.stepper.clip is None for trial in trials)
        )

    def _step_at_once(self, trials: list[StackedTrial], rows: slice, step: int) -> None:
        """One update of the models ``rows``, each at its own rate of step ``step``."""
        stepper = trials[0].stepper
        state = {
            slot: self.state[(slot, value.shape, value.dtype.str)][rows]
            for slot, value in stepper._state.items()
        }
        rates = np.array([trial.rates[step] for trial in trials])[:, None]
        self.rule.update(self.params[rows], self.grads[rows], state, rates)


def _contiguous(indices: list[int]) -> bool:
    """Whether ``indices`` (ascending) are consecutive."""
    return indices == list(range(indices[0], indices[-1] + 1))


STACK = NumpyStack
