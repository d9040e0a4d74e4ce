"""`mlpx backprop`: the exercise's network by hand, any network against torch, bad files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from mlpx.backends.numpy import layers
from mlpx.cli import app

runner = CliRunner()


def backprop_json(tmp_path, *args: str) -> tuple[str, dict]:
    """Run `mlpx backprop ARGS --json FILE`; return what it printed and the JSON."""
    out = tmp_path / "backprop.json"
    result = runner.invoke(app, ["backprop", *args, "--json", str(out)], terminal_width=160)
    assert result.exit_code == 0, result.output
    return result.output, json.loads(out.read_text())


def values(data: dict) -> dict[str, np.ndarray]:
    """Every quantity of the JSON by name."""
    entries = [*data["forward"], data["loss"], *data["backward"], *data["gradients"]]
    return {entry["name"]: np.array(entry["value"]) for entry in entries}


def test_the_default_network_reproduces_the_derivatives_computed_by_hand(tmp_path):
    output, data = backprop_json(tmp_path)
    got = values(data)
    # by hand: z = x W + b with x = [1, -1] and W's columns (1, -1): every z_j = 1 + 1 = 2
    s = 1 / (1 + math.exp(-2))  # sigma(2), every hidden unit
    # scores: each output sums h over V's column (1, -1, -1): s - s - s = -s, for both
    p = [0.5, 0.5]  # equal scores
    loss = math.log(2)  # -log p_0
    dscores = [p[0] - 1, p[1]]  # softmax - one-hot(0)
    # dh_i = sum_j V_ij dscores_j = V_i0 * (-1/2) + V_i1 * (1/2) = 0, since V_i0 = V_i1
    expected = {
        "z1": [[2, 2, 2]],
        "h1": [[s, s, s]],
        "z2": [[-s, -s]],
        "p": [p],
        "L": loss,
        "dL/dz2": [dscores],
        "dL/dh1": [[0, 0, 0]],
        "dL/dz1": [[0, 0, 0]],  # s (1 - s) * 0
        "dL/dW": [[0, 0, 0], [0, 0, 0]],  # x_i * dz_j
        "dL/db": [0, 0, 0],
        "dL/dV": [[s * dscores[0], s * dscores[1]]] * 3,  # h_i * dscores_j
        "dL/dc": dscores,
    }
    assert list(got) == list(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=0, atol=1e-12, err_msg=name)
    assert data["failed"] == 0
    assert all(check["passed"] for e in data["gradients"] for check in e["checks"])
    assert {c["oracle"] for c in data["gradients"][0]["checks"]} == {
        "torch autograd",
        "finite differences",
    }
    # the table shows them too
    for text in ("dL/dV", "-0.440398539", "0.880797078", "0.6931471806", "all 16 checks passed"):
        assert text in output


def test_the_shipped_config_is_the_default_network(tmp_path):
    _, default = backprop_json(tmp_path / "a")
    _, shipped = backprop_json(tmp_path / "b", "configs/backprop.yaml")
    assert shipped == default
    assert shipped["network"]["layers"][1] == {"V": [[1, 1], [-1, -1], [-1, -1]], "c": [0, 0]}


NETWORK = """\
x: [[0.5, -1.2, 2.0], [1.5, 0.3, -0.7], [-2.0, 0.1, 0.4], [0.2, 0.2, 0.2]]
y: [2, 0, 1, 2]
activation: {activation}
layers:
  - A: {a}
    a: [0.1, -0.2, 0.3, 0.0]
  - B: {b}
    bb: [0.05, -0.05]
  - C: [[1.0, -2.0, 0.5], [0.7, 0.3, -1.1]]
    c: [0.0, 0.2, -0.2]
"""


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_a_deeper_network_equals_torch_autograd_written_in_the_test(tmp_path, activation):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    path = tmp_path / "net.yaml"
    path.write_text(NETWORK.format(activation=activation, a=a.tolist(), b=b.tolist()))
    _, data = backprop_json(tmp_path, str(path))
    got = values(data)

    act = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[activation]
    x = torch.tensor(data["network"]["x"], dtype=torch.float64)
    params = {
        name: torch.tensor(value, dtype=torch.float64, requires_grad=True)
        for layer in data["network"]["layers"]
        for name, value in layer.items()
    }
    h1 = act(x @ params["A"] + params["a"])
    h2 = act(h1 @ params["B"] + params["bb"])
    scores = h2 @ params["C"] + params["c"]
    loss = torch.nn.CrossEntropyLoss()(scores, torch.tensor([2, 0, 1, 2]))
    loss.backward()
    np.testing.assert_allclose(got["h1"], h1.detach(), atol=1e-12)
    np.testing.assert_allclose(got["z3"], scores.detach(), atol=1e-12)
    np.testing.assert_allclose(got["p"], torch.softmax(scores, 1).detach(), atol=1e-12)
    np.testing.assert_allclose(got["L"], loss.item(), atol=1e-12)
    for name, param in params.items():
        np.testing.assert_allclose(got[f"dL/d{name}"], param.grad, atol=1e-12, err_msg=name)
    assert [e["name"] for e in data["backward"]] == [
        "dL/dz3",
        "dL/dh2",
        "dL/dz2",
        "dL/dh1",
        "dL/dz1",
    ]


def test_a_wrong_backward_pass_fails_the_checks(tmp_path, monkeypatch):
    forward, _ = layers.ACTIVATIONS["sigmoid"]

    def wrong_backward(dout, cache, out=None):  # forgets the (1 - s) factor
        return dout * cache

    monkeypatch.setitem(layers.ACTIVATIONS, "sigmoid", (forward, wrong_backward))
    path = tmp_path / "net.yaml"
    path.write_text(
        NETWORK.format(
            activation="sigmoid", a=np.eye(3, 4).tolist(), b="[[1, 0], [0, 1], [1, 1], [2, -1]]"
        )
    )
    result = runner.invoke(app, ["backprop", str(path), "--json", str(tmp_path / "out.json")])
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output
    data = json.loads((tmp_path / "out.json").read_text())
    checks = {e["name"]: {c["oracle"]: c["passed"] for c in e["checks"]} for e in data["gradients"]}
    assert checks["dL/dA"] == {"torch autograd": False, "finite differences": False}
    assert checks["dL/dC"] == {"torch autograd": True, "finite differences": True}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x: [[1, -1]]\ny: [0]\n", "layers: missing; a network needs x, y and layers"),
        (
            "x: [[1, -1]]\ny: [0]\nlayers:\n  - {W: [[1, 1]], b: [0, 0]}\n",
            "layers[1].W: has 1 rows; expected 2 (one per input)",
        ),
        (
            "x: [[1, -1]]\ny: [0]\nlayers:\n  - {W: [[1, 1], [1, 1]], b: [0]}\n",
            "layers[1].b: has 1 values; expected 2 (one per column of W)",
        ),
        (
            "x: [[1, -1]]\ny: [2]\nlayers:\n  - {W: [[1, 1], [1, 1]], b: [0, 0]}\n",
            "y: [2] is not allowed; expected 1 class index(es) in 0..1, one per row of x",
        ),
        (
            "x: [[1, -1]]\ny: [0]\nactivation: softplus\n"
            "layers:\n  - {W: [[1, 1], [1, 1]], b: [0, 0]}\n",
            "activation: 'softplus' is not allowed; allowed: relu, sigmoid, tanh",
        ),
        (
            "x: [[1, -1]]\ny: [0]\nlayers:\n  - {W: [[1, 1], [1, 1]], W2: [[0, 0]]}\n",
            "layers[1]: expected a list of layers, each {W: [[...]], b: [...]}",
        ),
        (
            "x: [[1, -1]]\ny: [0]\nlayers:\n  - {W: [[1, 1], [1, 1]], b: [0, 0]}\n"
            "  - {W: [[1, 1], [1, 1]], c: [0, 0]}\n",
            "layers[2].W: the name is used twice",
        ),
        ("x: [[1, x]]\ny: [0]\nlayers: []\n", "x: [[1, 'x']] is not allowed"),
        ("inputs: [1]\n", "inputs: unknown key; allowed: x, y, activation, layers"),
        ("- [1, 2]\n", "expected a mapping with x, y, activation and layers"),
        ("x: [[1, -1]\n", "invalid YAML"),
        (
            "x: [[1, -1]]\ny: [0]\nactivation: [relu]\n"
            "layers:\n  - {W: [[1, 1], [1, 1]], b: [0, 0]}\n",
            "activation: ['relu'] is not allowed; allowed: relu, sigmoid, tanh",
        ),
        (
            "x: [[1, .nan]]\ny: [0]\nlayers:\n  - {W: [[1, 1], [1, 1]], b: [0, 0]}\n",
            "x: [[1, nan]] is not allowed",
        ),
    ],
)
def test_a_bad_network_file_is_one_line_and_exit_2(tmp_path, text, message):
    path = tmp_path / "net.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["backprop", str(path)], terminal_width=200)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_a_missing_network_file_is_one_line(tmp_path):
    result = runner.invoke(app, ["backprop", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {tmp_path / 'nope.yaml'}: no such network file; give a YAML file like "
        "configs/backprop.yaml"
    )


def test_an_existing_json_file_is_kept_without_force(tmp_path):
    out = tmp_path / "mine.json"
    out.write_text("precious")
    result = runner.invoke(app, ["backprop", "--json", str(out)])
    assert result.exit_code == 2
    assert "file exists; pass --force" in result.output
    assert out.read_text() == "precious"
    result = runner.invoke(app, ["backprop", "--json", str(out), "--force"])
    assert result.exit_code == 0
    assert json.loads(out.read_text())["loss"]["value"] == pytest.approx(math.log(2), abs=1e-15)


def test_json_to_stdout():
    result = runner.invoke(app, ["backprop", "--json", "-"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["gradients"][3]["value"] == [-0.5, 0.5]
