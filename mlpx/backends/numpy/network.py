"""The simple and the complex MLP of the NumPy backend, composed from the layers' pairs.

simple:  Linear - act - ... - Linear
complex: [Linear - BatchNorm (if ``spec.batchnorm``) - act - Dropout (if ``spec.dropout``)] * k
         - Linear

Activations and gradients live in buffers allocated once for the largest batch seen; a
smaller batch (the last of an epoch) uses their leading rows, so a training step allocates
only small temporaries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlpx.backends.numpy.layers import (
    ACTIVATIONS,
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    dropout_mask,
)
from mlpx.losses import NumpyLoss
from mlpx.losses.cross_entropy import softmax_cross_entropy
from mlpx.model import ModelSpec


@dataclass
class _HiddenCache:
    """What the backward pass of one hidden block needs from its forward pass."""

    affine: tuple[np.ndarray, np.ndarray]
    batchnorm: tuple[np.ndarray, np.ndarray, np.ndarray] | None
    activation: np.ndarray
    mask: np.ndarray | None


class MLP:
    """An MLP with hand-written backprop, its loss, parameters, gradients and L1/L2 penalty.

    Parameters
    ----------
    spec : the architecture.
    params : initial arrays for every name in ``spec.param_names() + spec.buffer_names()``
        (as :func:`mlpx.model.init_params` returns them); copied, cast to ``dtype``.
    dtype : float32 or float64, kept end to end.
    l1, l2 : penalty ``l2 * sum(W**2) + l1 * sum(|W|)`` over the weights (not biases,
        not gamma/beta), added to the loss and its gradient.
    loss : the data loss and its gradient with respect to the scores (an entry's
        ``numpy`` of :mod:`mlpx.losses`; softmax cross-entropy by default).

    Attributes
    ----------
    params : learned arrays by name, updated in place by the optimizer.
    buffers : batch-norm running statistics by name.
    grads : gradients by parameter name, overwritten by every :meth:`forward_backward`.
    """

    def __init__(
        self,
        spec: ModelSpec,
        params: dict[str, np.ndarray],
        dtype: str | np.dtype = "float64",
        l1: float = 0.0,
        l2: float = 0.0,
        loss: NumpyLoss = softmax_cross_entropy,
    ):
        self.spec = spec
        self.loss = loss
        self.dtype = np.dtype(dtype)
        self.l1 = l1
        self.l2 = l2
        self.params = {
            name: np.array(params[name], dtype=self.dtype) for name in spec.param_names()
        }
        self.buffers = {
            name: np.array(params[name], dtype=self.dtype) for name in spec.buffer_names()
        }
        self.grads = {name: np.zeros_like(value) for name, value in self.params.items()}
        self._activation_forward, self._activation_backward = ACTIVATIONS[spec.activation]
        self._capacity = 0
        self._hidden_caches: list[_HiddenCache] | None = None
        self._output_cache: tuple[np.ndarray, np.ndarray] | None = None

    def _reserve(self, n: int) -> None:
        """Make sure the activation and gradient buffers hold at least ``n`` rows (per model
        of a stack: the parameters' leading axes lead every buffer too)."""
        if n <= self._capacity:
            return
        lead = self.params["b1"].shape[:-1]
        widths = self.spec.sizes[1:-1]
        self._hidden = [np.empty((*lead, n, m), self.dtype) for m in widths]
        self._dhidden = [np.empty((*lead, n, m), self.dtype) for m in widths]
        if self.spec.uses_batchnorm:
            self._xhat = [np.empty((*lead, n, m), self.dtype) for m in widths]
        if self.spec.uses_dropout:
            self._mask = [np.empty((*lead, n, m), self.dtype) for m in widths]
            self._dropped = [np.empty((*lead, n, m), self.dtype) for m in widths]
        self._scores = np.empty((*lead, n, self.spec.sizes[-1]), self.dtype)
        self._capacity = n

    def forward(
        self, x: np.ndarray, train: bool, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """Class scores for a batch.

        Parameters
        ----------
        x : (N, D) inputs of the network's dtype.
        train : batch norm with batch statistics (updating the running ones) and dropout
            on; otherwise running statistics and no dropout.
        rng : the generator dropout masks are drawn from (train mode with dropout only).

        Returns
        -------
        (N, C) scores: a view of an internal buffer, valid until the next forward.
        """
        n = x.shape[-2]
        self._reserve(n)
        spec, p = self.spec, self.params
        hidden_caches = []
        h = x
        for i in range(1, spec.n_layers):
            out = self._hidden[i - 1][..., :n, :]
            z, affine_cache = affine_forward(h, p[f"W{i}"], p[f"b{i}"], out=out)
            bn_cache = None
            if spec.uses_batchnorm:
                z, bn_cache = batchnorm_forward(
                    z,
                    p[f"gamma{i}"],
                    p[f"beta{i}"],
                    self.buffers[f"running_mean{i}"],
                    self.buffers[f"running_var{i}"],
                    train,
                    out=z,
                    xhat=self._xhat[i - 1][..., :n, :],
                )
            h, activation_cache = self._activation_forward(z, out=z)
            mask = None
            if spec.uses_dropout and train:
                mask = self.draw_mask(rng, out=self._mask[i - 1][..., :n, :])
                h, _ = dropout_forward(h, mask, out=self._dropped[i - 1][..., :n, :])
            hidden_caches.append(_HiddenCache(affine_cache, bn_cache, activation_cache, mask))
        last = spec.n_layers
        out = self._scores[..., :n, :]
        scores, output_cache = affine_forward(h, p[f"W{last}"], p[f"b{last}"], out=out)
        self._hidden_caches = hidden_caches if train else None
        self._output_cache = output_cache if train else None
        return scores

    def draw_mask(self, rng: np.random.Generator | None, out: np.ndarray) -> np.ndarray:
        """A dropout mask (N, M) for one hidden block from ``rng``, into ``out``; a stack of
        models (:mod:`mlpx.backends.numpy.stacked`) draws each model's from its own."""
        return dropout_mask(self.spec.dropout, rng, out=out)

    def backward(
        self,
        dscores: np.ndarray,
        penalty_scale: float | None = None,
        after_layer: Callable[[int], None] | None = None,
    ) -> None:
        """Gradients into :attr:`grads` from ``dscores`` (N, C), last layer first.

        Needs the caches of the preceding train-mode :meth:`forward`. The pass is linear in
        ``dscores``: ``s * dscores`` gives ``s`` times every gradient.

        Parameters
        ----------
        dscores : gradient of the (possibly scaled) data loss with respect to the scores.
        penalty_scale : if given, each weight's gradient also gets the penalty's gradient
            ``2 * l2 * W + l1 * sign(W)`` times this factor, the one ``dscores`` carries;
            if None, only the data loss's gradients are computed.
        after_layer : called with ``i`` as soon as every gradient of affine layer ``i`` (and
            of its batch norm) is final. Nothing later in the pass reads layer ``i``'s
            parameters, so the callback may update them while their gradients are in cache.
        """
        if self._hidden_caches is None or self._output_cache is None:
            raise RuntimeError("backward needs a preceding forward in train mode")
        n = dscores.shape[-2]
        g, last = self.grads, self.spec.n_layers
        dh = dscores
        for i in range(last, 0, -1):
            cache = self._hidden_caches[i - 1] if i < last else None
            if cache is not None:
                if cache.mask is not None:
                    dropout_backward(dh, cache.mask, out=dh)
                self._activation_backward(dh, cache.activation, out=dh)
                if cache.batchnorm is not None:
                    batchnorm_backward(
                        dh, cache.batchnorm, dx=dh, dgamma=g[f"gamma{i}"], dbeta=g[f"beta{i}"]
                    )
            dh, _, _ = affine_backward(
                dh,
                self._output_cache if cache is None else cache.affine,
                dx=self._dhidden[i - 2][..., :n, :] if i > 1 else None,
                dw=g[f"W{i}"],
                db=g[f"b{i}"],
                need_dx=i > 1,
            )
            if penalty_scale is not None and (self.l1 or self.l2):
                self.add_penalty_grad(f"W{i}", penalty_scale)
            if after_layer is not None:
                after_layer(i)

    def penalty(self) -> float:
        """``l2 * sum(W**2) + l1 * sum(|W|)`` over the weight matrices."""
        total = 0.0
        for name in self.spec.weight_names() if self.l1 or self.l2 else ():
            w = self.params[name]
            if self.l2:
                total += self.l2 * float(np.vdot(w, w))
            if self.l1:
                total += self.l1 * float(np.abs(w).sum())
        return total

    def add_penalty_grad(self, name: str, scale: float) -> None:
        """Add ``scale * (2 * l2 * W + l1 * sign(W))`` to the gradient of weight ``name``."""
        w, dw = self.params[name], self.grads[name]
        if self.l2:
            dw += (2 * self.l2 * scale) * w
        if self.l1:
            dw += (self.l1 * scale) * np.sign(w)

    def forward_backward(
        self,
        x: np.ndarray,
        y: np.ndarray,
        rng: np.random.Generator | None = None,
        scale: float = 1.0,
        after_layer: Callable[[int], None] | None = None,
    ) -> tuple[float, np.ndarray]:
        """One training pass: forward in train mode, loss, and every gradient into :attr:`grads`.

        Parameters
        ----------
        x : (N, D) inputs; y : (N,) integer labels; rng : the dropout generator.
        scale : the gradients written are ``scale`` times the objective's (plain SGD passes
            ``-lr``, so that its update is a single ``W += grad``).
        after_layer : see :meth:`backward`; the penalty is evaluated before any callback.

        Returns
        -------
        loss : mean data loss + penalty (the objective the gradients are of).
        scores : (N, C) train-mode scores, valid until the next forward.
        """
        scores = self.forward(x, train=True, rng=rng)
        data_loss, dscores = self.loss(scores, y)
        loss = data_loss + self.penalty()
        if scale != 1.0:
            dscores *= scale
        self.backward(dscores, penalty_scale=scale, after_layer=after_layer)
        return loss, scores

    @property
    def dropout_masks(self) -> list[np.ndarray | None]:
        """The (N, M) mask each hidden block applied in the last train-mode forward (or None).

        Lets a check rebuild the same computation elsewhere (e.g. in PyTorch).
        """
        if self._hidden_caches is None:
            raise RuntimeError("no train-mode forward has run yet")
        return [cache.mask for cache in self._hidden_caches]
