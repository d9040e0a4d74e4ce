"""The gradient check: the classic toy reference, the CLI, and that a wrong gradient fails."""

import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from mlpx.backends.numpy import layers, network
from mlpx.cli import app
from mlpx.config import build_config, load_config
from mlpx.diagnostics.gradcheck import run_gradcheck, toy_data

TOY_YAML = """\
name: toy
backend: numpy
dtype: float64
data:
  name: toy
  val_fraction: 0.0
  normalize: none
model:
  kind: simple
  hidden: [10]
  activation: relu
  init: normal
  init_std: 0.1
regularization:
  l2: 0.05
"""


@pytest.fixture
def toy_config(tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text(TOY_YAML)
    return path


CLASSIC_LOSS = 1.30378789133
"""The classic two-layer net's initial loss on its toy data, as the exercise states it."""


def classic_initial_loss() -> float:
    """The classic check's loss computed from scratch: W1 (4, 10) and W2 (10, 3) drawn as
    0.1 * randn from seed 0, zero biases, ReLU, softmax cross-entropy on the toy data, plus
    0.05 * (sum W1^2 + sum W2^2)."""
    np.random.seed(0)
    w1, w2 = 0.1 * np.random.randn(4, 10), 0.1 * np.random.randn(10, 3)
    np.random.seed(1)
    x, y = 10 * np.random.randn(5, 4), np.array([0, 1, 2, 2, 1])
    scores = np.maximum(x @ w1, 0) @ w2
    log_p = scores - scores.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    return -log_p[np.arange(5), y].mean() + 0.05 * ((w1**2).sum() + (w2**2).sum())


def test_the_reference_loss_is_what_the_classic_setup_computes():
    assert abs(classic_initial_loss() - CLASSIC_LOSS) < 1e-10


def test_toy_data_is_the_classic_draw():
    np.random.seed(1)
    expected = 10 * np.random.randn(5, 4)
    x, y = toy_data()
    np.testing.assert_array_equal(x, expected)
    np.testing.assert_array_equal(y, [0, 1, 2, 2, 1])


def test_toy_initial_loss_matches_the_reference_and_gradients_pass_at_1e_8(toy_config):
    report = run_gradcheck(load_config(toy_config), tol=1e-8)
    assert report.reference_loss == CLASSIC_LOSS
    assert abs(report.initial_loss - classic_initial_loss()) < 1e-12
    assert {row.parameter for row in report.rows} == {"W1", "b1", "W2", "b2"}
    assert all(row.max_rel_error < 1e-8 for row in report.rows)
    assert report.passed


def test_cli_gradcheck_on_the_toy_config_passes_and_prints_the_table(toy_config):
    result = CliRunner().invoke(
        app, ["gradcheck", "--config", str(toy_config), "--against", "torch"], terminal_width=120
    )
    assert result.exit_code == 0, result.output
    for text in ("4-10-3 relu simple", "W1", "4x10", "finite differences", "torch autograd"):
        assert text in result.output
    assert result.output.count("PASS") == 10  # 4 parameters x 2 oracles, the loss, the scores
    assert f"initial loss with the reference's l2 = 0.05: {CLASSIC_LOSS:.11f}" in result.output
    assert "FAIL" not in result.output
    # another setup on the toy data: its loss at its own penalty, no reference to meet
    result = CliRunner().invoke(
        app, ["gradcheck", "--config", str(toy_config), "-s", "seed=3"], terminal_width=120
    )
    assert result.exit_code == 0, result.output
    l2 = load_config(toy_config).regularization.l2
    assert f"initial loss with l2 = {l2:g}: " in result.output and "reference" not in result.output


def test_the_shipped_toy_config_reproduces_the_classic_reference():
    # configs/toy.yaml trains with l2 = 5e-6; the reference is at l2 = 0.05 by definition
    report = run_gradcheck(load_config("configs/toy.yaml"), tol=1e-8)
    assert report.initial_loss_l2 == 0.05
    assert abs(report.initial_loss - classic_initial_loss()) < 1e-12
    assert report.passed


def test_default_models_pass_against_finite_differences_and_torch():
    report = run_gradcheck(against_torch=True)
    models = {row.model for row in report.rows}
    # six architectures, then every other loss on the simple ReLU net for each of its tasks
    assert len(models) == 6 + 5
    for loss in ("nll", "mse"):
        assert f"5-7-6-3 relu simple loss {loss}" in models
    for loss in ("mse", "mae", "huber"):
        assert f"5-7-6-2 relu simple loss {loss} regression" in models
    assert any("batchnorm" in m and "dropout" in m for m in models)
    complex_params = {row.parameter for row in report.rows if "complex" in row.model}
    assert {"gamma1", "beta2", "W3"} <= complex_params
    assert report.initial_loss is None
    failed = [row for row in report.rows if not row.passed]
    assert not failed


def test_a_config_architecture_is_checked_on_a_random_batch():
    config = build_config(
        {
            "model": {"kind": "complex", "hidden": [40, 30], "activation": "sigmoid"},
            "regularization": {"l1": 0.01},
        }
    )
    report = run_gradcheck(config)
    assert report.passed
    assert report.initial_loss is None
    w2 = next(row for row in report.rows if row.parameter == "W2")
    assert w2.shape == (40, 30) and w2.checked == 50  # large parameters are sampled


def wrong_relu_backward(dout, cache, out=None):
    """Planted bug: passes the gradient through where ReLU was inactive."""
    return np.multiply(dout, 1.0, out=out)


def test_a_wrong_gradient_fails_the_check_and_the_cli_exits_1(toy_config, monkeypatch):
    monkeypatch.setitem(layers.ACTIVATIONS, "relu", (layers.relu_forward, wrong_relu_backward))
    result = CliRunner().invoke(app, ["gradcheck", "--config", str(toy_config)])
    assert result.exit_code == 1
    assert "FAIL" in result.output
    assert "failed" in result.output


def test_a_wrong_batchnorm_backward_fails_only_the_batchnorm_models(monkeypatch):
    def batchnorm_backward_without_mean_terms(dout, cache, dx=None, dgamma=None, dbeta=None):
        xhat, gamma, inv_std = cache
        dbeta = np.sum(dout, axis=0, out=dbeta)
        dgamma = np.sum(dout * xhat, axis=0, out=dgamma)
        return np.multiply(dout, gamma * inv_std, out=dx), dgamma, dbeta

    monkeypatch.setattr(network, "batchnorm_backward", batchnorm_backward_without_mean_terms)
    report = run_gradcheck()
    assert not report.passed
    assert all(row.passed for row in report.rows if "batchnorm" not in row.model)
    assert any(not row.passed for row in report.rows if row.parameter == "W1")


def test_cli_rejects_a_missing_config_with_one_line(tmp_path):
    result = CliRunner().invoke(app, ["gradcheck", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "no such config file" in result.output


def test_cli_help_has_an_example():
    result = CliRunner().invoke(app, ["gradcheck", "--help"])
    assert result.exit_code == 0
    assert "Example: mlpx gradcheck --config" in result.output


def test_importing_the_cli_imports_neither_torch_nor_the_numpy_backend():
    code = (
        "import sys, mlpx.cli; "
        "assert 'torch' not in sys.modules and 'mlpx.backends.numpy' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# The classic check's scores (cs231n's two-layer net), written out here from the assignment.
CLASSIC_SCORES = [
    [-0.81233741, -1.27654624, -0.70335995],
    [-0.17129677, -1.18803311, -0.47310444],
    [-0.51590475, -1.01354314, -0.8504215],
    [-0.15419291, -0.48629638, -0.52901952],
    [-0.00618733, -0.12435261, -0.15226949],
]


def test_cli_on_the_toy_config_prints_the_scores_and_their_difference_from_the_reference():
    result = CliRunner().invoke(app, ["gradcheck", "--config", "configs/toy.yaml"])
    assert result.exit_code == 0, result.output
    assert "scores before the loss:" in result.output
    assert "[[-0.8123374131 -1.2765462406 -0.7033599478]" in result.output
    line = next(x for x in result.output.splitlines() if "max |scores - reference scores|" in x)
    assert line.endswith("PASS")
    # the scores themselves, recomputed by the assignment's formula from the classic draws
    np.random.seed(0)
    w1, b1 = 0.1 * np.random.randn(4, 10), np.zeros(10)
    w2, b2 = 0.1 * np.random.randn(10, 3), np.zeros(3)
    x, _ = toy_data()
    scores = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    report = run_gradcheck(load_config("configs/toy.yaml"))
    np.testing.assert_allclose(report.scores, scores, rtol=0, atol=1e-14)
    assert np.max(np.abs(report.scores - np.array(CLASSIC_SCORES))) < 1e-7
    assert report.scores_passed


def test_wrong_scores_fail_the_check(monkeypatch):
    def leaky_relu_forward(x, out=None):  # planted bug: a leaky ReLU moves the scores
        out = np.maximum(x, 0.01 * x, out=out)
        return out, out

    monkeypatch.setitem(
        layers.ACTIVATIONS, "relu", (leaky_relu_forward, layers.ACTIVATIONS["relu"][1])
    )
    result = CliRunner().invoke(app, ["gradcheck", "--config", "configs/toy.yaml"])
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if "max |scores - reference scores|" in x)
    assert line.endswith("FAIL")


def test_gradcheck_takes_overrides_like_train():
    result = CliRunner().invoke(
        app, ["gradcheck", "-c", "configs/toy.yaml", "-s", "model.hidden=[6]", "--against", "torch"]
    )
    assert result.exit_code == 0, result.output
    assert "4-6-3 relu simple" in result.output
    assert "6x3" in result.output
    # another architecture: its own scores, no classic reference to compare with
    assert "scores before the loss:" in result.output
    assert "reference" not in result.output
    result = CliRunner().invoke(app, ["gradcheck", "-s", "model.activation=tanh"])
    assert result.exit_code == 0, result.output
    assert "tanh simple" in result.output


def test_a_bad_override_is_one_line_and_exit_2():
    result = CliRunner().invoke(app, ["gradcheck", "-c", "configs/toy.yaml", "-s", "model.hiden=4"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "error: model.hiden: unknown key; did you mean 'model.hidden'? allowed here: kind, "
        "hidden, activation, dropout, batchnorm, init, init_std"
    )
