"""`mlpx crossentropy-demo`: run the command, read the JSON it wrote, check the lesson's numbers."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from mlpx.cli import app
from mlpx.diagnostics.crossentropy import TOLERANCE, batch_losses, compare

runner = CliRunner()
STABLE = ("torch_cross_entropy", "torch_logsumexp", "max_shift")
NAIVE = ("softmax", "naive_logsumexp")


def run_demo(tmp_path, *args: str) -> tuple[str, dict]:
    """Run the command with ``--json``; return what it printed and the JSON it wrote."""
    out = tmp_path / "ce.json"
    result = runner.invoke(app, ["crossentropy-demo", *args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    # Strict JSON: NaN and inf are written as strings, never as bare NaN/Infinity.
    data = json.loads(out.read_text(), parse_constant=pytest.fail)
    return result.stdout, data


def by_range(data: dict) -> dict[tuple[float, float], dict]:
    return {(r["lo"], r["hi"]): r["ways"] for r in data["ranges"]}


@pytest.fixture(scope="module")
def float32_defaults(tmp_path_factory) -> tuple[str, dict]:
    """The defaults (float32, ranges 0..1 and 0..100, 64x10 batches), 200 batches per range."""
    return run_demo(tmp_path_factory.mktemp("float32"), "--iterations", "200")


def test_float32_naive_ways_break_above_exp_overflow(float32_defaults):
    output, data = float32_defaults
    assert data["parameters"] == {
        "ranges": [[0.0, 1.0], [0.0, 100.0]],
        "batch_size": 64,
        "classes": 10,
        "iterations": 200,
        "seed": 0,
        "dtype": "float32",
        "tolerance": TOLERANCE,
    }
    ranges = by_range(data)
    for stats in ranges[(0.0, 1.0)].values():
        assert stats["agreement_percent"] == 100.0
        assert stats["nan_inf"] == 0
        assert stats["max_abs_diff"] < 1e-5
    wide = ranges[(0.0, 100.0)]
    for way in NAIVE:
        assert wide[way]["agreement_percent"] < 50.0
        assert wide[way]["nan_inf"] > 100
    for way in STABLE:
        assert wide[way]["agreement_percent"] == 100.0
        assert wide[way]["nan_inf"] == 0
    assert data["ranges"][1]["exp_overflow"] > 0
    text = " ".join(data["conclusion"])
    for label in ("(b) softmax, -log p_y", "(c) naive log-sum-exp"):
        assert f"{label} breaks from 0..100 on" in text
    assert "Why 0..100:" in text and "overflowed to inf" in text
    assert "(d) torch.logsumexp and (e) max-shift log-sum-exp never broke" in text
    assert "Why 0..1:" not in text
    assert "(e) max-shift log-sum-exp" in output and "0..100" in output


def test_float64_holds_0_to_100_and_says_so(tmp_path):
    output, data = run_demo(tmp_path, "--dtype", "float64", "--iterations", "100")
    for ways in by_range(data).values():
        for stats in ways.values():
            assert stats["agreement_percent"] == 100.0
            assert stats["nan_inf"] == 0
    text = " ".join(data["conclusion"])
    assert "(c) naive log-sum-exp agrees with (a) F.cross_entropy on every range" in text
    assert "breaks" not in text
    assert "In float32" in text and "0..100 would overflow" in text
    assert "breaks" not in output


@pytest.mark.parametrize("scores", [[1000.0, 1000.0, 1000.0], [-1000.0, -1000.0, -1000.0]])
def test_equal_scores_give_log3_only_for_stable_ways(float32_defaults, scores):
    _, data = float32_defaults
    (case,) = [c for c in data["illustration"] if c["scores"] == scores]
    values = case["values"]
    assert case["expected"] == pytest.approx(math.log(3))
    for way in STABLE:
        assert values[way] == pytest.approx(math.log(3), abs=1e-4)
    assert values["softmax"] == "nan"  # inf / inf, or 0 / 0
    assert values["naive_logsumexp"] == ("inf" if scores[0] > 0 else "-inf")  # log(inf), log(0)


def test_numpy_ways_compute_in_float32_when_asked():
    # exp(89) overflows float32 but not float64: an upcast would hide the failure.
    scores = np.array([[89.0, 0.0, 0.0]])
    labels = np.array([1])
    in_float32 = batch_losses(scores.astype(np.float32), labels)
    in_float64 = batch_losses(scores, labels)
    assert in_float32["naive_logsumexp"] == math.inf
    assert in_float64["naive_logsumexp"] == pytest.approx(89.0)
    assert in_float32["max_shift"] == pytest.approx(89.0)


def test_agreement_means_closer_than_half_a_thousandth():
    reference = np.ones(5)
    losses = np.array([1.0, 1.0004, 1.0006, math.nan, math.inf])
    stats = compare(losses, reference)
    assert stats.agreement_percent == 40.0  # 1.0 and 1.0004
    assert stats.nan_inf == 2
    assert stats.max_abs_diff == pytest.approx(0.0006)


def test_plot_is_a_png_with_a_sweep_of_ranges(tmp_path):
    import matplotlib.image

    plot = tmp_path / "agreement.png"
    args = ["--iterations", "20", "--plot", str(plot)]
    for hi in ("1", "10", "100", "1000"):
        args += ["--range", f"0,{hi}"]
    result = runner.invoke(app, ["crossentropy-demo", *args])
    assert result.exit_code == 0, result.output
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    image = matplotlib.image.imread(plot)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_refuses_to_overwrite_unless_forced(tmp_path):
    out = tmp_path / "ce.json"
    out.write_text("keep me")
    args = ["crossentropy-demo", "--iterations", "2", "--json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: --json {out}: file exists; pass --force to overwrite it"
    ]
    assert out.read_text() == "keep me"
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
    assert json.loads(out.read_text())["parameters"]["iterations"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--range", "1,0"], "--range '1,0': lo must be smaller than hi"),
        (["--range", "5,5"], "--range '5,5': lo must be smaller than hi"),
        (["--range", "0,1,2"], "--range '0,1,2': expected two numbers lo,hi"),
        (["--range", "zero,1"], "--range 'zero,1': expected two numbers lo,hi"),
        (["--range", "0,nan"], "--range '0,nan': lo and hi must be finite"),
        (["--batch-size", "0"], "--batch-size 0: must be a positive integer"),
        (["--classes", "-3"], "--classes -3: must be a positive integer"),
        (["--iterations", "0"], "--iterations 0: must be a positive integer"),
        (["--dtype", "float16"], "--dtype 'float16': allowed are float32, float64"),
        (["--plot", "ce.jpg"], "--plot ce.jpg: the file name must end in .png"),
    ],
)
def test_bad_options_give_one_line_and_exit_2(args, message):
    result = runner.invoke(app, ["crossentropy-demo", *args])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {message}")
    assert result.stdout == ""


def test_help_and_import_stay_light():
    code = (
        "import sys, mlpx.cli, mlpx.diagnostics.crossentropy; "
        "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    result = runner.invoke(app, ["crossentropy-demo", "--help"])
    assert result.exit_code == 0
    assert "Example: mlpx crossentropy-demo" in result.stdout
