"""How the NumPy backend runs any update rule fast, behind the rule's own contract.

Three tricks, none of which a rule needs to know about:

- **flat buffers**: every parameter, gradient and piece of optimizer state is a view of one
  flat array, so a rule runs once per step over all of them instead of once per parameter;
- **steps inside backprop**: a rule that steps each element on its own
  (:attr:`UpdateRule.elementwise`) steps each big layer as soon as backprop has finished its
  gradient, while that gradient is still in cache;
- **-lr folded**: for plain SGD (:attr:`UpdateRule.folds_lr`) the backward pass computes
  ``-lr * grad`` directly (backprop is linear in the loss's gradient), so the step is one
  ``W += grad``.

Gradient clipping needs every gradient before any step (the global norm), so with a clip
the rule steps once after backprop, on the clipped gradients, and nothing is folded.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mlpx.model import ModelSpec
from mlpx.optimizers import UpdateRule

StateRows = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
"""Where a stepper keeps an update rule's state: fresh state in, the arrays to use out."""

FUSED_UPDATE_MIN = 1 << 16
"""Parameters a layer needs for its step to run inside the backward pass, right after its
gradients are computed (while they are in cache); smaller layers join the next such step,
so a small network still takes one update call per training step."""


def pack(
    arrays: dict[str, np.ndarray], dtype: np.dtype, out: np.ndarray | None = None
) -> tuple[np.ndarray, dict[str, slice]]:
    """Copy ``arrays`` into one flat buffer (``out``, or a new one) and replace each by a
    view of it (in place).

    A matrix's view is the transpose of a C-contiguous (columns, rows) block: a weight
    W (fan_in, fan_out) lies in memory like PyTorch's (fan_out, fan_in), the layout in which
    BLAS computes both ``x @ W`` and the weight gradient ``dout.T @ x`` fastest.

    Returns the buffer and each array's slice of it.
    """
    flat = np.empty(sum(a.size for a in arrays.values()), dtype) if out is None else out
    parts, offset = {}, 0
    for name, value in arrays.items():
        parts[name] = slice(offset, offset + value.size)
        view = flat_view(flat, parts[name], value.shape)
        view[...] = value
        arrays[name] = view
        offset += value.size
    return flat, parts


def flat_view(flat: np.ndarray, part: slice, shape: tuple[int, ...]) -> np.ndarray:
    """The array of ``shape`` that :func:`pack` placed at ``flat[part]``; of a stack of
    such buffers, flat (K, P), the K arrays as one (K, *shape)."""
    lead = flat.shape[:-1]
    if len(shape) == 2:
        return np.swapaxes(flat[..., part].reshape(*lead, *shape[::-1]), -1, -2)
    return flat[..., part].reshape(*lead, *shape)


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


class FlatStepper:
    """An update rule over a network's parameters, packed into flat buffers.

    Parameters
    ----------
    spec : the architecture.
    params, grads : the network's arrays by name; each is replaced (in place, in these
        dicts) by a view of this stepper's flat buffers.
    rule : the update rule.
    dtype : of the buffers.
    clip : clips the flat gradients (P,) in place before each step, or None.
    rows : the flat buffers (P,) to keep the parameters and the gradients in (rows of a
        stack's, :mod:`mlpx.backends.numpy.stacked`); new ones when None.
    state_rows : given the rule's fresh state, the arrays to keep it in instead, holding
        the same values (a stack's rows); None keeps the fresh arrays.

    Attributes
    ----------
    state : each parameter's optimizer state, ``state[name][slot]``, views of the flat
        state (a 0-d slot, Adam's step count, is shared by every parameter).
    segments : affine layer -> the slice stepped when its backward pass ends; empty when the
        rule steps once after backprop (a rule that is not elementwise, or a clip).
    lr : the rate of the current step.
    """

    def __init__(
        self,
        spec: ModelSpec,
        params: dict[str, np.ndarray],
        grads: dict[str, np.ndarray],
        rule: UpdateRule,
        dtype: np.dtype,
        clip: Callable[[np.ndarray], None] | None = None,
        rows: tuple[np.ndarray, np.ndarray] | None = None,
        state_rows: StateRows | None = None,
    ):
        self.rule = rule
        self.clip = clip
        flat_params, flat_grads = rows or (None, None)
        self.params, parts = pack(params, dtype, flat_params)
        self.grads, _ = pack(grads, dtype, flat_grads)
        self._state = rule.init_state(self.params)
        if state_rows is not None:
            self._state = state_rows(self._state)
        self.state = {
            name: {
                slot: flat if flat.ndim == 0 else flat_view(flat, part, params[name].shape)
                for slot, flat in self._state.items()
            }
            for name, part in parts.items()
        }
        fused = rule.elementwise and clip is None
        self.segments = update_segments(spec, parts, self.params.size) if fused else {}
        self._segment_state = {
            i: {slot: flat[part] for slot, flat in self._state.items()}
            for i, part in self.segments.items()
        }
        self.folds_lr = rule.folds_lr and clip is None
        self.lr = 0.0

    @property
    def gradient_scale(self) -> float:
        """What the backward pass multiplies every gradient by: ``-lr`` when it is folded."""
        return -self.lr if self.folds_lr else 1.0

    def after_layer(self, layer: int) -> None:
        """Backprop's callback once layer ``layer``'s gradients are final: step the segment
        that ends there, if any."""
        part = self.segments.get(layer)
        if part is None:
            return
        w, dw = self.params[part], self.grads[part]
        if self.folds_lr:  # the gradient already is -lr * dL/dw
            w += dw
        else:
            self.rule.update(w, dw, self._segment_state[layer], self.lr)

    def step(self) -> None:
        """One step of every parameter after backprop (when there are no segments), on the
        clipped gradients when there is a clip."""
        if self.clip is not None:
            self.clip(self.grads)
        self.rule.update(self.params, self.grads, self._state, self.lr)
