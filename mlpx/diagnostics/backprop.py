"""One forward and one backward pass through a tiny network given with its weights.

The course exercise "implement the network drawn, including the weights; one forward pass up
to the loss, one backward pass; report the derivatives on all weights, including biases":
the network, its inputs and targets come from a small YAML file (``configs/backprop.yaml``
is the exercise's network and the default), the passes run with the NumPy backend's own
layers (:mod:`mlpx.backends.numpy.layers`, the loss of :mod:`mlpx.losses.cross_entropy`), and
every number is checked against PyTorch autograd on the same arrays and every parameter
gradient also against centred finite differences, all in float64.

The file::

    x: [[1, -1]]             # inputs, one row per sample (a flat list is one sample)
    y: [0]                   # target class of each sample (a number is one sample)
    activation: sigmoid      # of every hidden layer: relu | sigmoid | tanh
    layers:                  # affine layers, input side first; the last gives the scores
      - W: [[1, 1, 1], [-1, -1, -1]]   # weights (inputs x units): row i holds input i's
        b: [0, 0, 0]                   # biases (units); both named as you like
      - V: [[1, 1], [-1, -1], [-1, -1]]
        c: [0, 0]

The scores go through softmax into the mean cross-entropy over the samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mlpx.backends.numpy.layers import ACTIVATIONS, affine_backward, affine_forward
from mlpx.errors import ConfigError, shown
from mlpx.losses.cross_entropy import logsumexp, softmax_cross_entropy

TORCH_TOLERANCE = 1e-12
"""Largest ``|mlpx - torch| / max(1, |torch|)`` that passes: the same float64 arithmetic."""

FD_TOLERANCE = 1e-7
"""Largest ``|mlpx - finite difference| / max(1, |fd|)`` that passes (the step's error is
about ``FD_STEP**2`` plus rounding ``1e-16 / FD_STEP``)."""

FD_STEP = 1e-5
"""Step of the centred finite differences."""

TORCH = "torch autograd"
FINITE_DIFFERENCES = "finite differences"

KEYS = ("x", "y", "activation", "layers")


@dataclass(frozen=True)
class Layer:
    """An affine layer ``h @ weight + bias``: weight (D, M), bias (M,), with their names."""

    weight_name: str
    weight: np.ndarray
    bias_name: str
    bias: np.ndarray


@dataclass(frozen=True)
class Network:
    """The network and its data: x (N, D), y (N,) classes, hidden activation, the layers."""

    x: np.ndarray
    y: np.ndarray
    activation: str
    layers: tuple[Layer, ...]

    def param_names(self) -> list[str]:
        """Every parameter's name, input side first, weight before bias."""
        return [name for layer in self.layers for name in (layer.weight_name, layer.bias_name)]

    def params(self) -> dict[str, np.ndarray]:
        """Every parameter by name (the arrays themselves, not copies)."""
        return {
            name: value
            for layer in self.layers
            for name, value in ((layer.weight_name, layer.weight), (layer.bias_name, layer.bias))
        }


EXERCISE_NETWORK = Network(
    x=np.array([[1.0, -1.0]]),
    y=np.array([0]),
    activation="sigmoid",
    layers=(
        Layer("W", np.array([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]]), "b", np.zeros(3)),
        Layer("V", np.array([[1.0, 1.0], [-1.0, -1.0], [-1.0, -1.0]]), "c", np.zeros(2)),
    ),
)
"""The exercise's network (``configs/backprop.yaml``): x = [1, -1], class 0 of 2; 3 sigmoid
units with W = [[1, 1, 1], [-1, -1, -1]], b = 0; 2 outputs with V = [[1, 1], [-1, -1],
[-1, -1]], c = 0."""


@dataclass(frozen=True)
class Check:
    """One number array compared with one oracle: the largest scaled difference."""

    oracle: str
    error: float
    tolerance: float

    @property
    def passed(self) -> bool:
        return self.error <= self.tolerance


@dataclass(frozen=True)
class Quantity:
    """A named array of the passes (a pre-activation, a gradient, ...) and its checks."""

    name: str
    meaning: str
    value: np.ndarray
    checks: tuple[Check, ...]

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)


@dataclass(frozen=True)
class BackpropResult:
    """The forward pass (pre-activations, activations, scores, probabilities), the loss, the
    gradients of the pre-activations and activations (backward) and of every parameter."""

    network: Network
    forward: tuple[Quantity, ...]
    loss: Quantity
    backward: tuple[Quantity, ...]
    gradients: tuple[Quantity, ...]

    @property
    def quantities(self) -> tuple[Quantity, ...]:
        return (*self.forward, self.loss, *self.backward, *self.gradients)

    @property
    def failed(self) -> int:
        """Number of checks that did not pass."""
        return sum(not check.passed for q in self.quantities for check in q.checks)

    def to_dict(self) -> dict[str, Any]:
        """Every number, as plain JSON-able data."""

        def entry(q: Quantity) -> dict[str, Any]:
            return {
                "name": q.name,
                "meaning": q.meaning,
                "value": q.value.tolist(),
                "checks": [
                    {"oracle": c.oracle, "error": c.error, "tolerance": c.tolerance}
                    | {"passed": c.passed}
                    for c in q.checks
                ],
            }

        net = self.network
        return {
            "network": {
                "x": net.x.tolist(),
                "y": net.y.tolist(),
                "activation": net.activation,
                "layers": [
                    {
                        layer.weight_name: layer.weight.tolist(),
                        layer.bias_name: layer.bias.tolist(),
                    }
                    for layer in net.layers
                ],
            },
            "forward": [entry(q) for q in self.forward],
            "loss": entry(self.loss),
            "backward": [entry(q) for q in self.backward],
            "gradients": [entry(q) for q in self.gradients],
            "failed": self.failed,
        }


def read_network(path: Path | None) -> Network:
    """The network of a YAML file (see the module docstring), or the exercise's without one.

    Raises
    ------
    ConfigError
        One line naming the file, the key and what is allowed.
    """
    if path is None:
        return EXERCISE_NETWORK
    from mlpx.config import parse_yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"{path}: no such network file; give a YAML file like configs/backprop.yaml"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it as UTF-8 text ({exc})") from None
    return parse_network(parse_yaml(text, str(path)), str(path))


def parse_network(data: Any, where: str) -> Network:
    """Check and convert a network mapping read from YAML (see the module docstring)."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{where}: expected a mapping with x, y, activation and layers (see "
            "configs/backprop.yaml)"
        )
    unknown = [key for key in data if key not in KEYS]
    if unknown:
        raise ConfigError(f"{where}: {unknown[0]}: unknown key; allowed: {', '.join(KEYS)}")
    missing = [key for key in ("x", "y", "layers") if key not in data]
    if missing:
        raise ConfigError(f"{where}: {missing[0]}: missing; a network needs x, y and layers")
    x = _array(data["x"], f"{where}: x", "a list of numbers or a list of rows of numbers")
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.size == 0:
        raise ConfigError(
            f"{where}: x: expected a non-empty list of rows of numbers, e.g. [[1, -1]]"
        )
    activation = data.get("activation", "sigmoid")
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ConfigError(
            f"{where}: activation: {activation!r} is not allowed; allowed: {', '.join(ACTIVATIONS)}"
        )
    layers = _layers(data["layers"], where, x.shape[1])
    y = _targets(data["y"], where, len(x), layers[-1].bias.size)
    return Network(x, y, activation, layers)


def _array(value: Any, where: str, expected: str) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {shown(value)} is not allowed; expected {expected}") from None
    if array.dtype == object or not np.all(np.isfinite(array)) or isinstance(value, bool):
        raise ConfigError(f"{where}: {shown(value)} is not allowed; expected {expected} (finite)")
    return array


def _layers(value: Any, where: str, n_inputs: int) -> tuple[Layer, ...]:
    expected = "a list of layers, each {W: [[...]], b: [...]}: one 2-D weight, one 1-D bias"
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: layers: expected {expected}")
    layers, names, fan_in = [], set(), n_inputs
    for i, entry in enumerate(value, start=1):
        at = f"{where}: layers[{i}]"
        if not isinstance(entry, dict) or len(entry) != 2:
            raise ConfigError(f"{at}: expected {expected}")
        arrays = {
            str(name): _array(v, f"{at}.{name}", "a list of numbers or of rows of numbers")
            for name, v in entry.items()
        }
        weights = [name for name, a in arrays.items() if a.ndim == 2]
        biases = [name for name, a in arrays.items() if a.ndim == 1]
        if len(weights) != 1 or len(biases) != 1:
            raise ConfigError(f"{at}: expected {expected}")
        (w_name,), (b_name,) = weights, biases
        weight, bias = arrays[w_name], arrays[b_name]
        for name in (w_name, b_name):
            if name in names:
                raise ConfigError(f"{at}.{name}: the name is used twice; give every array its own")
            names.add(name)
        if weight.shape[0] != fan_in:
            raise ConfigError(
                f"{at}.{w_name}: has {weight.shape[0]} rows; expected {fan_in} "
                f"(one per {'input' if i == 1 else 'unit of the layer before'})"
            )
        if bias.size != weight.shape[1]:
            raise ConfigError(
                f"{at}.{b_name}: has {bias.size} values; expected {weight.shape[1]} "
                f"(one per column of {w_name})"
            )
        layers.append(Layer(w_name, weight, b_name, bias))
        fan_in = weight.shape[1]
    if fan_in < 2:
        raise ConfigError(
            f"{where}: layers: the last layer gives {fan_in} score; expected 2 or more classes"
        )
    return tuple(layers)


def _targets(value: Any, where: str, n: int, classes: int) -> np.ndarray:
    items = value if isinstance(value, list) else [value]
    ok = all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < classes for v in items)
    if not ok or len(items) != n:
        raise ConfigError(
            f"{where}: y: {shown(value)} is not allowed; expected {n} class index(es) "
            f"in 0..{classes - 1}, one per row of x"
        )
    return np.array(items, dtype=np.int64)


def run_backprop(network: Network) -> BackpropResult:
    """One forward and one backward pass, every number checked against torch autograd and
    every parameter gradient also against centred finite differences.

    Returns
    -------
    The result: for L layers, forward ``z1, h1, ..., z{L} (scores), p``, the loss, backward
    ``dL/dz{L}, dL/dh{L-1}, dL/dz{L-1}, ..., dL/dz1`` and ``dL/d<name>`` for every parameter.
    """
    ours = _numpy_passes(network)
    theirs = _torch_passes(network)
    numeric = _finite_differences(network)

    def quantity(name: str, meaning: str, fd: bool = False) -> Quantity:
        value = ours[name]
        checks = [Check(TORCH, _error(value, theirs[name]), TORCH_TOLERANCE)]
        if fd:
            checks.append(Check(FINITE_DIFFERENCES, _error(value, numeric[name]), FD_TOLERANCE))
        return Quantity(name, meaning, value, tuple(checks))

    n_layers = len(network.layers)
    forward, backward = [], []
    for i, layer in enumerate(network.layers, start=1):
        inputs = "x" if i == 1 else f"h{i - 1}"
        if i < n_layers:
            forward.append(
                quantity(
                    f"z{i}", f"pre-activation {inputs} @ {layer.weight_name} + {layer.bias_name}"
                )
            )
            forward.append(quantity(f"h{i}", f"activation {network.activation}(z{i})"))
        else:
            forward.append(
                quantity(f"z{i}", f"scores {inputs} @ {layer.weight_name} + {layer.bias_name}")
            )
    forward.append(quantity("p", f"probabilities softmax(z{n_layers})"))
    loss = quantity("L", "loss: mean cross-entropy -log p[y]")
    for i in range(n_layers, 0, -1):
        if i < n_layers:
            backward.append(quantity(f"dL/dh{i}", f"gradient of the activation h{i}"))
        backward.append(quantity(f"dL/dz{i}", f"gradient of the pre-activation z{i}"))
    gradients = [
        quantity(f"dL/d{name}", f"gradient of {name}", fd=True) for name in network.param_names()
    ]
    return BackpropResult(network, tuple(forward), loss, tuple(backward), tuple(gradients))


def _numpy_passes(network: Network) -> dict[str, np.ndarray]:
    """The passes with the NumPy backend's layers; every intermediate by name."""
    act_forward, act_backward = ACTIVATIONS[network.activation]
    values: dict[str, np.ndarray] = {}
    h, caches = network.x, []
    n_layers = len(network.layers)
    for i, layer in enumerate(network.layers, start=1):
        z, affine_cache = affine_forward(h, layer.weight, layer.bias)
        values[f"z{i}"] = z.copy()
        act_cache = None
        if i < n_layers:
            h, act_cache = act_forward(z.copy())
            values[f"h{i}"] = h.copy()
        caches.append((affine_cache, act_cache))
    scores = values[f"z{n_layers}"]
    values["p"] = np.exp(scores - logsumexp(scores, axis=1)[:, None])
    loss, dout = softmax_cross_entropy(scores, network.y)
    values["L"] = np.array(loss)
    for i in range(n_layers, 0, -1):
        layer = network.layers[i - 1]
        affine_cache, act_cache = caches[i - 1]
        if i < n_layers:
            values[f"dL/dh{i}"] = dout.copy()
            dout = act_backward(dout, act_cache)
        values[f"dL/dz{i}"] = dout.copy()
        dout, dw, db = affine_backward(dout, affine_cache, need_dx=i > 1)
        values[f"dL/d{layer.weight_name}"] = dw
        values[f"dL/d{layer.bias_name}"] = db
    return values


def _loss(network: Network) -> float:
    """The mean cross-entropy of the network at its current parameters (NumPy layers)."""
    act_forward = ACTIVATIONS[network.activation][0]
    h = network.x
    for i, layer in enumerate(network.layers, start=1):
        h = affine_forward(h, layer.weight, layer.bias)[0]
        if i < len(network.layers):
            h = act_forward(h)[0]
    return softmax_cross_entropy(h, network.y)[0]


def _finite_differences(network: Network) -> dict[str, np.ndarray]:
    """``(L(w + step) - L(w - step)) / (2 step)`` for every element of every parameter."""
    copy = Network(
        network.x,
        network.y,
        network.activation,
        tuple(
            Layer(layer.weight_name, layer.weight.copy(), layer.bias_name, layer.bias.copy())
            for layer in network.layers
        ),
    )
    result = {}
    for name, value in copy.params().items():
        flat = value.reshape(-1)
        numeric = np.empty(flat.size)
        for k in range(flat.size):
            old = flat[k]
            flat[k] = old + FD_STEP
            above = _loss(copy)
            flat[k] = old - FD_STEP
            below = _loss(copy)
            flat[k] = old
            numeric[k] = (above - below) / (2 * FD_STEP)
        result[f"dL/d{name}"] = numeric.reshape(value.shape)
    return result


def _torch_passes(network: Network) -> dict[str, np.ndarray]:
    """The same passes written in PyTorch (float64), every gradient from autograd."""
    import torch
    import torch.nn.functional as F

    activation = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}
    params = {
        name: torch.tensor(value, dtype=torch.float64, requires_grad=True)
        for name, value in network.params().items()
    }
    kept: dict[str, Any] = {}
    h = torch.tensor(network.x, dtype=torch.float64)
    n_layers = len(network.layers)
    for i, layer in enumerate(network.layers, start=1):
        z = h @ params[layer.weight_name] + params[layer.bias_name]
        z.retain_grad()
        kept[f"z{i}"] = z
        if i < n_layers:
            h = activation[network.activation](z)
            h.retain_grad()
            kept[f"h{i}"] = h
    scores = kept[f"z{n_layers}"]
    loss = F.cross_entropy(scores, torch.from_numpy(network.y))
    loss.backward()
    values = {name: t.detach().numpy() for name, t in kept.items()}
    values["p"] = torch.softmax(scores, dim=1).detach().numpy()
    values["L"] = loss.detach().numpy()
    for name, t in kept.items():
        values[f"dL/d{name}"] = t.grad.numpy()
    for name, t in params.items():
        values[f"dL/d{name}"] = t.grad.numpy()
    return values


def _error(value: np.ndarray, oracle: np.ndarray) -> float:
    """``max |value - oracle| / max(1, |oracle|)``: absolute for small numbers (gradients of
    exactly 0 are common here), relative for large ones."""
    value, oracle = np.asarray(value), np.asarray(oracle)
    if value.size == 0:
        return 0.0
    return float(np.max(np.abs(value - oracle) / np.maximum(1.0, np.abs(oracle))))


def write_json(result: BackpropResult, path: Path) -> None:
    """Write :meth:`BackpropResult.to_dict` to ``path`` atomically."""
    from mlpx.atomic import write_json_atomic

    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, result.to_dict())
