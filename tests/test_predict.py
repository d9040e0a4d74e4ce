"""`mlpx predict`: a trained run predicts an .npz file, checked against the run's own files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import read_json
from fake_datasets import write_challenge
from oracles import documented_split, standard_stats
from test_datasets import one_error_line

QUICK = ("train.epochs=5", "output.plots=false")


@pytest.fixture
def challenge_run(cli, tmp_path):
    """A run trained on a prediction-challenge file with 60 unlabeled test_x rows."""
    data = write_challenge(tmp_path / "challenge.npz", n=300, n_test=60, classes=3)
    cli.train("configs/npz-challenge.yaml", f"data.path={data}", *QUICK)
    return cli.last_run(), data


def numpy_forward(run, x: np.ndarray, data: Path, val_fraction: float = 0.2) -> np.ndarray:
    """Labels of a simple ReLU MLP from the run's model.pt, with inputs standardised by the
    statistics of the training rows of ``data`` (the documented seed-0 split, computed here:
    not the run's normalization.npz, so a wrong stored normalisation would show)."""
    weights = {k: v.numpy() for k, v in torch.load(run / "model.pt", weights_only=True).items()}
    with np.load(data) as arrays:
        rows = arrays["data_x"].reshape(len(arrays["data_x"]), -1)
        if val_fraction:
            rows = rows[documented_split(arrays["data_y"], val_fraction, seed=0)[0]]
    mean, std = standard_stats(rows)
    h = ((x.reshape(len(x), -1) - mean) / std).astype(np.float32)
    layers = len(weights) // 2
    for i in range(1, layers + 1):
        h = h @ weights[f"W{i}"] + weights[f"b{i}"]
        if i < layers:
            h = np.maximum(h, 0)
    return h.argmax(axis=1)


def test_predict_round_trips_test_x(cli, challenge_run):
    run, data = challenge_run
    result = cli("predict", run, "--data", data)
    out = run / "predictions-challenge.csv"
    assert f"wrote 60 predictions of test_x to {out}" in result.output
    rows = out.read_text().splitlines()
    assert len(rows) == 60 and all(row in {"0", "1", "2"} for row in rows)
    # the same model predicted test_x at the end of training
    assert rows == (run / "predictions.csv").read_text().splitlines()
    with np.load(data) as arrays:
        assert [int(r) for r in rows] == numpy_forward(run, arrays["test_x"], data).tolist()


def test_a_run_trained_on_a_gpu_predicts_on_this_cpu(cli, challenge_run):
    run, data = challenge_run
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["device"] = "cuda"  # as a run trained on a GPU machine records it
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    cli("predict", run, "--data", data, "--out", run / "here.csv")
    assert (run / "here.csv").read_text() == (run / "predictions.csv").read_text()


def test_predict_takes_a_file_of_test_x_alone(cli, challenge_run, tmp_path):
    """A challenge's test set often comes as a file of its own: test_x (and test_y) without
    data_x, which predict refused ('no data_x in the file')."""
    run, data = challenge_run
    with np.load(data) as arrays:
        test_x = arrays["test_x"]
    alone = tmp_path / "test-only.npz"
    np.savez(alone, test_x=test_x)
    out = tmp_path / "p.csv"
    result = cli("predict", run, "--data", alone, "--out", out)
    assert f"wrote 60 predictions of test_x to {out}" in result.output
    assert out.read_text().splitlines() == (run / "predictions.csv").read_text().splitlines()
    expected = numpy_forward(run, test_x, data)
    labelled = tmp_path / "test-labelled.npz"
    np.savez(labelled, test_x=test_x, test_y=expected)
    result = cli("predict", run, "--data", labelled, "--out", tmp_path / "q.csv")
    assert "accuracy against test_y: 1.0000 (60/60)" in result.output
    for arrays, line in [
        ({"data_y": expected}, "no data_x or test_x in the file (it has data_y); expected the "
         "inputs to predict as test_x (with test_y, optional) or data_x (with data_y, optional)"),
        ({"test_x": test_x, "data_y": expected},
         "data_y without data_x; data_y labels the samples of data_x"),
    ]:  # fmt: skip
        bad = tmp_path / "bad.npz"
        np.savez(bad, **arrays)
        got = one_error_line(
            cli("predict", run, "--data", bad, "--out", tmp_path / "r.csv", expect=2)
        )
        assert got == f"error: {bad}: {line}"


def test_predict_writes_npy(cli, challenge_run, tmp_path):
    run, data = challenge_run
    cli("predict", run, "--data", data, "--out", tmp_path / "labels.npy")
    labels = np.load(tmp_path / "labels.npy")
    assert labels.dtype == np.int64 and labels.shape == (60,)
    assert labels.tolist() == [int(r) for r in (run / "predictions.csv").read_text().split()]


def test_predict_on_labelled_data_prints_the_accuracy(cli, tmp_path):
    data = write_challenge(tmp_path / "train.npz", n=300, classes=4, test=False)
    no_val = ("data.val_fraction=0", "train.early_stopping=null")
    cli.train("configs/npz-challenge.yaml", f"data.path={data}", *no_val, *QUICK)
    run = cli.last_run()
    result = cli("predict", run, "--data", data, "--out", tmp_path / "p.csv")
    with np.load(data) as arrays:
        expected = numpy_forward(run, arrays["data_x"], data, val_fraction=0)
        correct = int(np.sum(expected == arrays["data_y"]))
    assert correct > 150  # well above chance (25%): the labels line up with the inputs
    assert f"accuracy against data_y: {correct / 300:.4f} ({correct}/300)" in result.output
    rows = (tmp_path / "p.csv").read_text().split()
    assert [int(r) for r in rows] == expected.tolist()


def test_predict_never_overwrites_without_force(cli, challenge_run, tmp_path):
    run, data = challenge_run
    out = tmp_path / "labels.csv"
    out.write_text("keep me\n")
    line = one_error_line(cli("predict", run, "--data", data, "--out", out, expect=2))
    assert f"--out {out}: exists; pass --force" in line
    assert out.read_text() == "keep me\n"
    cli("predict", run, "--data", data, "--out", out, "--force")
    assert len(out.read_text().splitlines()) == 60
    # the default path is protected the same way
    cli("predict", run, "--data", data)
    one_error_line(cli("predict", run, "--data", data, expect=2))


def test_predict_mistakes_are_one_line(cli, challenge_run, tmp_path):
    run, data = challenge_run
    cases = {
        "suffix": (("predict", run, "--data", data, "--out", tmp_path / "p.txt"), "write .csv"),
        "no dir": (
            ("predict", run, "--data", data, "--out", tmp_path / "no" / "p.csv"),
            "does not exist",
        ),
        "not a run": (
            ("predict", tmp_path, "--data", data),
            "no config.yaml; give a run directory",
        ),
        "no data": (("predict", run, "--data", tmp_path / "none.npz"), "no such file"),
    }
    wide = tmp_path / "wide.npz"
    np.savez(wide, test_x=np.zeros((3, 13)), data_x=np.zeros((3, 13)))
    cases["features"] = (("predict", run, "--data", wide), "test_x has 13 features per sample but")
    labels = tmp_path / "labels.npz"
    np.savez(labels, data_x=np.zeros((3, 12)), data_y=np.array([0, 1, 7]))
    cases["labels"] = (
        ("predict", run, "--data", labels),
        "data_y has label 7 but the model knows 3",
    )
    for name, (args, expected) in cases.items():
        assert expected in one_error_line(cli(*args, expect=2)), name
    (run / "model.pt").rename(run / "model.bak")
    line = one_error_line(cli("predict", run, "--data", data, expect=2))
    assert line == f"error: {run}: no model.pt, though the run completed; was it moved or deleted?"


def load_error(load, path: Path) -> str:
    """How ``load(path)`` fails, as a message names it: ``Type: text``."""
    from mlpx.data.vision import one_line

    try:
        load(path)
    except Exception as exc:
        return f"{type(exc).__name__}: {one_line(exc)}"
    raise AssertionError(f"{path} loaded")


def test_predict_names_a_damaged_run_file_in_one_line(cli, challenge_run):
    """The whole line, the loader's own error (torch's, numpy's) in it."""
    run, data = challenge_run
    model = (run / "model.pt").read_bytes()
    (run / "model.pt").write_bytes(b"not a torch file")
    line = one_error_line(cli("predict", run, "--data", data, expect=2))
    why = load_error(lambda p: torch.load(p, weights_only=True), run / "model.pt")
    assert line == f"error: {run}: cannot read model.pt ({why})"
    (run / "model.pt").write_bytes(model)
    (run / "normalization.npz").write_bytes(b"PK\x03\x04 torn")
    line = one_error_line(cli("predict", run, "--data", data, expect=2))
    why = load_error(lambda p: np.load(p, allow_pickle=False), run / "normalization.npz")
    assert line == f"error: {run}: cannot read normalization.npz ({why})"
    # an object array would be unpickled (code run) if allowed: refused, in the inputs'
    # statistics or in the targets' (a regression's; the second was a traceback)
    norm = run / "normalization.npz"
    good = {"method": np.array("standard"), "shift": np.zeros(12), "scale": np.ones(12)}
    for bad in (
        {"shift": np.array([{}], dtype=object)},
        {"target_shift": np.array([{}], dtype=object), "target_scale": np.ones(1)},
    ):
        np.savez(norm, **(good | bad))
        line = one_error_line(cli("predict", run, "--data", data, expect=2))
        why = load_error(lambda p: dict(np.load(p, allow_pickle=False)), norm)
        assert why.startswith("ValueError: Object arrays cannot be loaded when allow_pickle=False")
        assert line == f"error: {run}: cannot read normalization.npz ({why})"
    norm.unlink()
    line = one_error_line(cli("predict", run, "--data", data, expect=2))
    assert line == f"error: {run}: no normalization.npz; not a complete run directory"


def test_a_completed_run_summary_names_its_predictions(challenge_run):
    run, _ = challenge_run
    assert read_json(run / "summary.json")["test_predictions"] == "predictions.csv"


def test_predict_with_a_numpy_backend_run(cli, tmp_path):
    data = write_challenge(tmp_path / "challenge.npz", n=300, n_test=40, classes=3)
    cli.train("configs/npz-challenge.yaml", f"data.path={data}", "backend=numpy", *QUICK)
    run = cli.last_run()
    assert (run / "model.npz").is_file()
    cli("predict", run, "--data", data, "--out", tmp_path / "numpy.csv")
    rows = (tmp_path / "numpy.csv").read_text().splitlines()
    assert len(rows) == 40
    assert rows == (run / "predictions.csv").read_text().splitlines()


def test_predict_and_run_directories_do_not_import_the_trainer():
    code = "import sys, mlpx.predict, mlpx.runs; print('mlpx.train' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_run_directory_of_the_old_optimizer_schema_still_predicts(cli, challenge_run):
    # mlpx before issue 13 wrote every key of one optimizer schema, whatever the optimizer
    run, data = challenge_run
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["optimizer"] = {
        "name": "adam",
        "lr": 0.001,
        "momentum": 0.9,
        "weight_decay": 0.0,
        "lr_decay": 1.0,
    }
    (run / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    cli("predict", run, "--data", data, "--out", run / "old.csv")
    assert (run / "old.csv").read_text() == (run / "predictions.csv").read_text()


def test_predict_on_a_run_without_its_model_says_how_far_it_got(cli, tmp_path):
    """What a run without model.npz is: stopped after its checkpoint's epochs (resume it),
    or stopped before any epoch, read from its own files (in this process: mutmut's copy
    saw only a subprocess test of it)."""
    import json

    data = write_challenge(tmp_path / "train.npz", n=200, classes=3, test=False)
    cli.train("configs/npz-challenge.yaml", f"data.path={data}", "backend=numpy",
              "train.epochs=3", "output.plots=false")  # fmt: skip
    run = cli.last_run()
    (run / "model.npz").unlink()
    summary = json.loads((run / "summary.json").read_text())
    (run / "summary.json").write_text(json.dumps(summary | {"status": "interrupted"}))
    line = one_error_line(cli("predict", run, "--data", data, expect=2))
    assert line == (
        f"error: {run}: no model.npz: the run stopped before writing its model (killed or "
        f"crashed after 3 epoch(s) of its checkpoint.npz); finish it with: mlpx train "
        f"--resume {run}"
    )
    for checkpoint in ({"W1": np.zeros(2)}, None):  # no epoch in it, or none at all
        (run / "checkpoint.npz").unlink(missing_ok=True)
        if checkpoint is not None:
            np.savez(run / "checkpoint.npz", **checkpoint)
        line = one_error_line(cli("predict", run, "--data", data, expect=2))
        assert line == f"error: {run}: no model.npz; the run did not complete an epoch"
