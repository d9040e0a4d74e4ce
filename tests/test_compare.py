"""``mlpx compare``: the keys in which runs differ, their metrics, one figure of their curves."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import REPO, Cli, read_json

QUICK = ("train.epochs=3", "output.plots=false")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    cli = Cli(tmp_path_factory.mktemp("compare") / "runs")
    cli.train(REPO / "configs/digits.yaml", *QUICK, "name=a", "optimizer.lr=1e-3")
    cli.train(REPO / "configs/digits.yaml", *QUICK, "name=b", "optimizer.lr=1e-2",
              "model.hidden=[16]")  # fmt: skip
    return sorted(cli.runs_dir.iterdir(), key=lambda p: p.name.endswith("-b"))


def cells(output: str, first: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.strip("│ ").startswith(first))
    return [cell.strip() for cell in line.strip().strip("│").split("│")]


def test_compare_shows_the_differing_keys_and_the_metrics_and_draws_the_curves(
    cli, two_runs, tmp_path
):
    a, b = two_runs
    out = tmp_path / "both.png"
    result = cli("compare", a, b, "--out", out).output
    assert cells(result, "optimizer.lr") == ["optimizer.lr", "0.001", "0.01"]
    assert cells(result, "model.hidden") == ["model.hidden", "[32]", "[16]"]
    shown = {line.strip("│ ").split()[0] for line in result.splitlines() if "│" in line}
    assert not {"seed", "name", "train.epochs", "data.name"} & shown  # equal keys left out
    for name, keys in [
        ("final val acc", ("final", "val_acc")),
        ("best val loss", ("best_val_loss",)),
    ]:
        expected = [read_json(run / "summary.json") for run in (a, b)]
        for key in keys:
            expected = [e[key] for e in expected]
        assert cells(result, name)[1:] == [f"{v:.4f}" for v in expected]
    from matplotlib.image import imread

    image = imread(out)
    assert image.shape[0] > 300 and image.shape[1] > 800
    assert np.unique(image.reshape(-1, image.shape[-1]), axis=0).shape[0] > 50  # not blank
    assert "exists; pass --force" in cli("compare", a, b, "--out", out, expect=2).output
    cli("compare", a, b, "--out", out, "--force")


def test_compare_shows_each_runs_status_r2_for_a_regression_and_settings_as_yaml(cli, tmp_path):
    """A regression showed no score at all (only accuracy rows, all —), no row said which run
    had failed, and settings read None / False (Python) beside config.yaml's null / false."""
    cli.train(REPO / "configs/synth-regression.yaml", *QUICK, "backend=numpy")
    regression = cli.last_run()
    cli.train(REPO / "configs/digits.yaml", *QUICK, "backend=numpy", "optimizer.name=sgd",
              "optimizer.lr=1e6", "train.restore_best=true", expect=1)  # fmt: skip
    diverged = cli.last_run()
    result = cli("compare", regression, diverged, "--out", tmp_path / "c.png").output
    assert cells(result, "status") == ["status", "completed", "diverged"]
    summary = read_json(regression / "summary.json")
    assert cells(result, "final val R²")[1:] == [f"{summary['final']['val_r2']:.4f}", "—"]
    assert cells(result, "test R²")[1:] == [f"{summary['test']['r2']:.4f}", "—"]
    assert cells(result, "train.restore_best") == ["train.restore_best", "false", "true"]
    assert "None" not in result and "False" not in result


def test_a_sweep_stands_for_its_trials(cli, tmp_path):
    runs = tmp_path / "runs"
    cli("sweep", "lr", "--values", "0.1,0.01", "--jobs", "1", "-s", "train.epochs=2",
        "-s", "output.plots=false", "--runs-dir", runs)  # fmt: skip
    (sweep,) = runs.iterdir()
    result = cli("compare", sweep, "--out", tmp_path / "sweep.png").output
    assert cells(result, "optimizer.lr") == ["optimizer.lr", "0.1", "0.01"]
    assert "0.1-seed0" in result and "0.01-seed0" in result


def test_bad_arguments_are_one_line(cli, two_runs, tmp_path):
    a, _ = two_runs
    for args, says in [
        ((a,), "compare needs at least two runs; 1 found"),
        ((a, tmp_path), f"{tmp_path}: not a run directory (no config.yaml), sweep"),
        ((a, a, "--out", tmp_path / "x.jpg"), "write a .png file"),
        ((a, a, "--out", tmp_path / "no" / "x.png"), "does not exist"),
    ]:
        output = cli("compare", *args, expect=2).output
        assert says in output and len(output.strip().splitlines()) == 1
