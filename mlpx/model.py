"""The architecture both backends build, and its initial weights.

Parameters are named the same way in every backend and in every file mlpx writes:
``W{i}`` (fan_in, fan_out) and ``b{i}`` (fan_out,) for affine layer ``i`` (1-based), and,
for the hidden layers of a complex MLP with batch norm, ``gamma{i}``/``beta{i}`` (learned)
and ``running_mean{i}``/``running_var{i}`` (buffers). Initial values are drawn once here,
with NumPy's seeded generator, so that every backend can start from identical weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from mlpx.config import Config


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to build an MLP, independent of the backend.

    ``sizes`` lists every layer width, input first and classes last: a 64-32-10 net is
    ``(64, 32, 10)``.
    """

    sizes: tuple[int, ...]
    kind: str = "simple"
    activation: str = "relu"
    dropout: float = 0.0
    batchnorm: bool = False

    @property
    def n_layers(self) -> int:
        """Number of affine layers (hidden layers + the output layer)."""
        return len(self.sizes) - 1

    @property
    def uses_batchnorm(self) -> bool:
        return self.kind == "complex" and self.batchnorm

    @property
    def uses_dropout(self) -> bool:
        return self.kind == "complex" and self.dropout > 0

    def weight_names(self) -> list[str]:
        """Names of the parameters that L1/L2 penalties apply to (weights, not biases)."""
        return [f"W{i}" for i in range(1, self.n_layers + 1)]

    def param_names(self) -> list[str]:
        """Names of every learned parameter, in a fixed order."""
        names = []
        for i in range(1, self.n_layers + 1):
            names += [f"W{i}", f"b{i}"]
            if self.uses_batchnorm and i < self.n_layers:
                names += [f"gamma{i}", f"beta{i}"]
        return names

    def buffer_names(self) -> list[str]:
        """Names of the non-learned state (batch-norm running statistics)."""
        if not self.uses_batchnorm:
            return []
        return [
            name
            for i in range(1, self.n_layers)
            for name in (f"running_mean{i}", f"running_var{i}")
        ]

    def n_params(self) -> int:
        """Number of learned scalars."""
        total = sum(a * b + b for a, b in zip(self.sizes[:-1], self.sizes[1:], strict=True))
        if self.uses_batchnorm:
            total += 2 * sum(self.sizes[1:-1])
        return total

    def flops_per_sample(self) -> int:
        """Multiply-adds x 2 of one training step per sample: forward, weight gradients, and
        input gradients of every layer but the first."""
        pairs = list(zip(self.sizes[:-1], self.sizes[1:], strict=True))
        forward = sum(2 * a * b for a, b in pairs)
        return 2 * forward + sum(2 * a * b for a, b in pairs[1:])

    def describe(self) -> str:
        """A short human description, e.g. ``64-32-10 relu simple``."""
        return f"{'-'.join(map(str, self.sizes))} {self.activation} {self.kind}"


def model_spec(config: Config, n_features: int, n_classes: int) -> ModelSpec:
    """The architecture ``config.model`` describes for data of ``n_features`` inputs and
    ``n_classes`` classes (the one place a config becomes a :class:`ModelSpec`)."""
    m = config.model
    return ModelSpec(
        sizes=(n_features, *m.hidden, n_classes),
        kind=m.kind,
        activation=m.activation,
        dropout=m.dropout,
        batchnorm=m.batchnorm,
    )


def init_params(
    spec: ModelSpec, init: str, std: float, seed: int, dtype: str = "float64"
) -> dict[str, np.ndarray]:
    """Draw initial parameters and buffers with NumPy's seeded legacy generator.

    ``np.random.RandomState(seed)`` is used on purpose: its stream is frozen across NumPy
    versions, so a config reproduces the same weights everywhere (and the classic cs231n
    two-layer check, ``W = std * randn(fan_in, fan_out)`` in layer order, holds exactly).

    Parameters
    ----------
    spec : the architecture.
    init : ``kaiming`` (normal, std sqrt(2 / fan_in)), ``xavier`` (normal, std
        sqrt(2 / (fan_in + fan_out))), ``normal`` (std ``std``) or ``uniform``
        (U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default for Linear).
    std : standard deviation for ``init: normal``.
    seed : seed of the generator.
    dtype : dtype of the returned arrays.

    Returns
    -------
    dict mapping every name of ``spec.param_names() + spec.buffer_names()`` to an array;
    biases and ``beta`` start at 0, ``gamma`` and running variances at 1.
    """
    rng = np.random.RandomState(seed)
    params: dict[str, np.ndarray] = {}
    layers = zip(spec.sizes[:-1], spec.sizes[1:], strict=True)
    for i, (fan_in, fan_out) in enumerate(layers, start=1):
        if init == "kaiming":
            w = np.sqrt(2.0 / fan_in) * rng.randn(fan_in, fan_out)
        elif init == "xavier":
            w = np.sqrt(2.0 / (fan_in + fan_out)) * rng.randn(fan_in, fan_out)
        elif init == "normal":
            w = std * rng.randn(fan_in, fan_out)
        elif init == "uniform":
            bound = 1.0 / np.sqrt(fan_in)
            w = rng.uniform(-bound, bound, size=(fan_in, fan_out))
        else:
            raise ValueError(f"unknown init {init!r}")
        params[f"W{i}"] = w.astype(dtype)
        params[f"b{i}"] = np.zeros(fan_out, dtype=dtype)
        if spec.uses_batchnorm and i < spec.n_layers:
            params[f"gamma{i}"] = np.ones(fan_out, dtype=dtype)
            params[f"beta{i}"] = np.zeros(fan_out, dtype=dtype)
            params[f"running_mean{i}"] = np.zeros(fan_out, dtype=dtype)
            params[f"running_var{i}"] = np.ones(fan_out, dtype=dtype)
    return params


def param_shapes(spec: ModelSpec) -> dict[str, tuple[int, ...]]:
    """The shape of every parameter and buffer :func:`init_params` draws, by name."""
    shapes: dict[str, tuple[int, ...]] = {}
    layers = zip(spec.sizes[:-1], spec.sizes[1:], strict=True)
    for i, (fan_in, fan_out) in enumerate(layers, start=1):
        shapes[f"W{i}"], shapes[f"b{i}"] = (fan_in, fan_out), (fan_out,)
        if spec.uses_batchnorm and i < spec.n_layers:
            for name in ("gamma", "beta", "running_mean", "running_var"):
                shapes[f"{name}{i}"] = (fan_out,)
    return shapes


def mismatched_shape(arrays: dict[str, np.ndarray], spec: ModelSpec) -> str | None:
    """Why ``arrays`` (a model file's or a checkpoint's) cannot hold ``spec``'s learned
    parameters,
    e.g. ``W1 has shape (64, 32) in the file, (64, 16) by the config``; None when they can."""
    shapes = param_shapes(spec)
    for name in spec.param_names():
        shape = shapes[name]
        if name not in arrays:
            return f"{name} is missing from the file"
        if tuple(arrays[name].shape) != shape:
            return (
                f"{name} has shape {tuple(arrays[name].shape)} in the file, {shape} by the config"
            )
    return None


def check_model_fits(spec: ModelSpec, batch_size: int, dtype: str, what: str) -> None:
    """Refuse (ConfigError) a model that cannot be trained in the memory there is: the
    weights, their gradients and two optimizer slots, the float64 draw of the largest layer,
    and a batch's activations. ``what`` names the setting in the message."""
    from mlpx.memory import check_fits

    itemsize = np.dtype(dtype).itemsize
    pairs = list(zip(spec.sizes[:-1], spec.sizes[1:], strict=True))
    largest = max(a * b for a, b in pairs)
    activations = 4 * batch_size * sum(spec.sizes) * itemsize
    needed = 4 * spec.n_params() * itemsize + 8 * largest + activations
    check_fits(needed, f"{what} ({spec.n_params():,} parameters)", "use a smaller model")
