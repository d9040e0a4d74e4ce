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
