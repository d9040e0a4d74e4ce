"""Check the NumPy backend's hand-written gradients against independent oracles.

Every parameter's analytic gradient (loss = the mean of a registered loss, softmax
cross-entropy by default, + L1/L2 penalty; batch norm in train mode, dropout with a fixed
mask) is compared elementwise with centred finite differences and, when asked, with PyTorch
autograd run on the same arrays. Everything runs in float64 on small batches, in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from mlpx.backends.numpy.network import MLP
from mlpx.data import toy
from mlpx.losses import LOSSES
from mlpx.model import ModelSpec, init_params, model_spec

if TYPE_CHECKING:
    from mlpx.config import Config

TOY_INITIAL_LOSS = 1.30378789133
"""Initial loss of the classic two-layer net (cs231n) on the toy data: 4-10-3 relu,
``W = 0.1 * randn`` from seed 0, L2 0.05."""

TOY_LOSS_TOLERANCE = 1e-10
TOY_L2 = 0.05
DEFAULT_TOLERANCE = 1e-7

STEP = 1e-5
"""Finite-difference step: balances truncation (~STEP**2) and rounding (~1e-16 / STEP)."""

TINY = 1e-3
"""Floor of the relative error's denominator. Centred differences in float64 are accurate to
about 1e-11 absolute, so gradients smaller than this are compared in absolute terms (to
``tol * TINY``); otherwise noise-level gradients, such as the exactly-zero gradient of a bias
followed by batch norm, would fail on rounding alone."""

MAX_CHECKED = 50
"""Elements of one parameter compared by finite differences; larger ones are sampled."""

MASK_SEED = 0
"""Seed of the generator that draws the (fixed) dropout masks on every forward pass."""

DEFAULT_SETTINGS = SimpleNamespace(huber_delta=0.5)
"""The loss settings of the default set: a Huber delta that the outputs' errors straddle,
so that both of its branches are checked."""

REGRESSION_OUTPUTS = 2
"""Targets per sample of the regression problems (several, to check the mean over all)."""
FINITE_DIFFERENCES = "finite differences"
TORCH_AUTOGRAD = "torch autograd"


@dataclass(frozen=True)
class GradcheckRow:
    """One parameter of one model compared with one oracle.

    ``max_rel_error`` is the maximum over the compared elements of
    ``|a - b| / max(|a|, |b|, TINY)``, a the analytic and b the oracle's gradient.
    """

    model: str
    parameter: str
    shape: tuple[int, ...]
    oracle: str
    checked: int
    max_rel_error: float
    passed: bool


@dataclass(frozen=True)
class GradcheckReport:
    """All rows, and for the toy data the initial loss next to the classic reference."""

    rows: list[GradcheckRow] = field(default_factory=list)
    initial_loss: float | None = None
    reference_loss: float | None = None
    initial_loss_l2: float | None = None

    @property
    def loss_passed(self) -> bool:
        """Whether the initial loss matches the reference (true when there is none)."""
        if self.reference_loss is None or self.initial_loss is None:
            return True
        return abs(self.initial_loss - self.reference_loss) <= TOY_LOSS_TOLERANCE

    @property
    def passed(self) -> bool:
        return self.loss_passed and all(row.passed for row in self.rows)


@dataclass
class _Problem:
    """A model at fixed weights on a fixed batch, the unit a gradient check works on."""

    spec: ModelSpec
    params: dict[str, np.ndarray]
    x: np.ndarray
    y: np.ndarray
    l1: float
    l2: float
    loss: str = "cross_entropy"
    task: str = "classification"
    settings: Any = None

    def network(self, l2: float | None = None) -> MLP:
        """The NumPy network at these weights, in float64 (with penalty ``l2`` if given)."""
        l2 = self.l2 if l2 is None else l2
        loss = LOSSES[self.loss].numpy_loss(self.task, self.settings)
        return MLP(self.spec, self.params, "float64", self.l1, l2, loss)


def toy_data() -> tuple[np.ndarray, np.ndarray]:
    """The classic toy problem (:mod:`mlpx.data.toy`): X (5, 4) and y (5,)."""
    source = toy.load(None)
    return source.x, source.y.astype(np.int64)


def run_gradcheck(
    config: Config | None = None, tol: float = DEFAULT_TOLERANCE, against_torch: bool = False
) -> GradcheckReport:
    """Compare the analytic gradient of every parameter with finite differences (and torch).

    Parameters
    ----------
    config : check this config's architecture and penalties, on the toy data when
        ``data.name`` is ``toy`` and on a small random batch otherwise. Without a config, a
        fixed set is checked: simple and complex (batch norm, dropout 0.3) MLPs with two
        hidden layers, each activation, L1 and L2 on.
    tol : a row passes when its max relative error is at most ``tol``.
    against_torch : also compare with PyTorch autograd on the same arrays.

    Returns
    -------
    The report; for the toy data it carries the initial loss and, for the classic toy
    setup, the reference :data:`TOY_INITIAL_LOSS`.
    """
    problems = _default_problems() if config is None else [_config_problem(config)]
    rows = []
    for problem in problems:
        rows += _check(problem, tol, against_torch)
    if config is None or config.data.name != "toy":
        return GradcheckReport(rows)
    problem = problems[0]
    # The reference was computed with l2 = 0.05 (the assignment's check), whatever l2 the
    # config trains with; so the classic architecture is compared at that penalty.
    classic = _is_classic_toy(config)
    l2 = TOY_L2 if classic else problem.l2
    initial_loss = _objective(problem.network(l2), problem)
    return GradcheckReport(rows, initial_loss, TOY_INITIAL_LOSS if classic else None, l2)


def _default_problems() -> list[_Problem]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 5))
    y = rng.integers(0, 3, size=8)
    problems = []
    for kind in ("simple", "complex"):
        for activation in ("relu", "sigmoid", "tanh"):
            dropout = 0.3 if kind == "complex" else 0.0
            spec = ModelSpec((5, 7, 6, 3), kind, activation, dropout, batchnorm=kind == "complex")
            params = init_params(spec, "kaiming", std=0.0, seed=0)
            problems.append(_Problem(spec, params, x, y, l1=0.01, l2=0.02))
    # every other registered loss, on the simple ReLU net, for each task it applies to
    simple = problems[0]
    targets = rng.standard_normal((8, REGRESSION_OUTPUTS))
    spec = ModelSpec((5, 7, 6, REGRESSION_OUTPUTS))
    regression_params = init_params(spec, "kaiming", std=0.0, seed=0)
    for name, entry in LOSSES.items():
        if "classification" in entry.tasks and name != simple.loss:
            problems.append(_Problem(simple.spec, simple.params, x, y, 0.01, 0.02, name))
        if "regression" in entry.tasks:
            problems.append(
                _Problem(spec, regression_params, x, targets, 0.01, 0.02, name, "regression",
                         DEFAULT_SETTINGS)
            )  # fmt: skip
    return problems


def _config_problem(config: Config) -> _Problem:
    if config.data.name == "toy":
        x, y = toy_data()
        n_classes = 3
    else:
        rng = np.random.default_rng(config.seed)
        n_classes = 4
        x = rng.standard_normal((16, 8))
        y = rng.integers(0, n_classes, size=16)
        if config.task == "regression":
            n_classes = REGRESSION_OUTPUTS
            y = rng.standard_normal((16, n_classes))
    model = config.model
    spec = model_spec(config, x.shape[1], n_classes)
    params = init_params(spec, model.init, model.init_std, seed=config.seed)
    reg = config.regularization
    return _Problem(spec, params, x, y, reg.l1, reg.l2, config.loss, config.task, config)


def _is_classic_toy(config: Config) -> bool:
    """Whether the config is the setup :data:`TOY_INITIAL_LOSS` was computed for."""
    model, reg = config.model, config.regularization
    return (
        config.data.name == "toy"
        and config.seed == 0
        and model.kind == "simple"
        and model.hidden == [10]
        and model.activation == "relu"
        and model.init == "normal"
        and model.init_std == 0.1
        and reg.l1 == 0.0
        and config.loss == "cross_entropy"
    )


def _describe(problem: _Problem) -> str:
    spec, extras = problem.spec, []
    if spec.uses_batchnorm:
        extras.append("batchnorm")
    if spec.uses_dropout:
        extras.append(f"dropout {spec.dropout:g}")
    if problem.loss != "cross_entropy":
        extras.append(f"loss {problem.loss}")
    if problem.task == "regression":
        extras.append("regression")
    return " ".join([spec.describe(), *extras])


def _objective(net: MLP, problem: _Problem) -> float:
    """Loss in train mode with the fixed dropout masks: mean data loss + penalty."""
    scores = net.forward(problem.x, train=True, rng=np.random.default_rng(MASK_SEED))
    return net.loss(scores, problem.y)[0] + net.penalty()


def _check(problem: _Problem, tol: float, against_torch: bool) -> list[GradcheckRow]:
    net = problem.network()
    net.forward_backward(problem.x, problem.y, np.random.default_rng(MASK_SEED))
    analytic = {name: grad.copy() for name, grad in net.grads.items()}
    masks = [None if mask is None else mask.copy() for mask in net.dropout_masks]
    oracles = {FINITE_DIFFERENCES: _finite_differences(net, problem)}
    if against_torch:
        oracles[TORCH_AUTOGRAD] = _torch_gradients(problem, masks)
    rows = []
    for oracle, gradients in oracles.items():
        for name, grad in analytic.items():
            numeric, where = gradients[name]
            error = _max_relative_error(grad.reshape(-1)[where], numeric)
            rows.append(
                GradcheckRow(
                    _describe(problem),
                    name,
                    grad.shape,
                    oracle,
                    len(numeric),
                    error,
                    error <= tol,
                )
            )
    return rows


def _finite_differences(net: MLP, problem: _Problem) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Centred differences of the objective for (a sample of) every parameter's elements.

    Returns, per parameter, the numeric gradient of the checked elements and their flat
    indices. The step is capped at half an element's distance to 0, so that it never crosses
    the kink of ``|w|`` (L1).
    """
    pick = np.random.default_rng(0)
    result = {}
    for name, value in net.params.items():
        flat = value.reshape(-1)
        where = np.arange(flat.size)
        if flat.size > MAX_CHECKED:
            where = np.sort(pick.choice(flat.size, MAX_CHECKED, replace=False))
        numeric = np.empty(len(where))
        for k, i in enumerate(where):
            old = flat[i]
            step = min(STEP, abs(old) / 2) if old else STEP
            flat[i] = old + step
            above = _objective(net, problem)
            flat[i] = old - step
            below = _objective(net, problem)
            flat[i] = old
            numeric[k] = (above - below) / (2 * step)
        result[name] = (numeric, where)
    return result


def _torch_gradients(
    problem: _Problem, masks: list[np.ndarray | None]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The same objective built from the same arrays in PyTorch, differentiated by autograd."""
    import torch
    import torch.nn.functional as F

    spec = problem.spec
    params = {
        name: torch.tensor(problem.params[name], dtype=torch.float64, requires_grad=True)
        for name in spec.param_names()
    }
    activation = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}
    h = torch.tensor(problem.x, dtype=torch.float64)
    for i in range(1, spec.n_layers):
        h = h @ params[f"W{i}"] + params[f"b{i}"]
        if spec.uses_batchnorm:
            h = F.batch_norm(
                h, None, None, params[f"gamma{i}"], params[f"beta{i}"], training=True, eps=1e-5
            )
        h = activation[spec.activation](h)
        if masks[i - 1] is not None:
            h = h * torch.from_numpy(masks[i - 1])
    last = spec.n_layers
    scores = h @ params[f"W{last}"] + params[f"b{last}"]
    loss_function = LOSSES[problem.loss].torch_loss(problem.task, problem.settings)
    loss = loss_function(scores, torch.from_numpy(problem.y))
    for name in spec.weight_names():
        w = params[name]
        loss = loss + problem.l2 * (w * w).sum() + problem.l1 * w.abs().sum()
    loss.backward()
    return {
        name: (value.grad.numpy().reshape(-1), np.arange(value.numel()))
        for name, value in params.items()
    }


def _max_relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``max |a - b| / max(|a|, |b|, TINY)`` over elements (0 for empty arrays)."""
    if a.size == 0:
        return 0.0
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), TINY)
    return float(np.max(np.abs(a - b) / scale))
