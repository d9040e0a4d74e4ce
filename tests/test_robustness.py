"""Nothing lost: real signals to a real `mlpx train`, resume, divergence, hostile configs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO, read_json, read_jsonl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BASE = {
    "name": "sig",
    "data": {"name": "digits"},
    "model": {"hidden": [64]},
    "train": {"epochs": 16, "batch_size": 32},
    "output": {"plots": True},
}


def start_training(config: Path, runs_dir: Path) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "mlpx", "train", str(config), "--runs-dir", str(runs_dir)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for_epochs(runs_dir: Path, epochs: int, process: subprocess.Popen) -> Path:
    """Poll until the run has written ``epochs`` metrics lines; return its directory."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        runs = list(runs_dir.glob("*-sig")) if runs_dir.exists() else []
        metrics = runs[0] / "metrics.jsonl" if runs else None
        if metrics and metrics.exists() and len(metrics.read_text().splitlines()) >= epochs:
            return runs[0]
        time.sleep(0.02)
    raise AssertionError("the run did not reach the epoch in time")


def files_are_whole(run: Path) -> int:
    """Every line of metrics.jsonl and steps.csv complete, JSON and npz readable; epochs."""
    metrics = read_jsonl(run / "metrics.jsonl")
    assert [m["epoch"] for m in metrics] == list(range(1, len(metrics) + 1))
    steps = (run / "steps.csv").read_text()
    assert steps.endswith("\n")
    assert all(len(line.split(",")) == 3 for line in steps.splitlines())
    read_json(run / "summary.json")
    with np.load(run / "checkpoint.npz") as checkpoint:
        assert 1 <= int(checkpoint["epoch"]) <= len(metrics)  # resume cuts metrics back to it
    return len(metrics)


def same_run(a: Path, b: Path) -> None:
    """Two runs with identical per-epoch numbers, per-batch losses and final weights."""
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(read_jsonl(a / "metrics.jsonl")) == strip(read_jsonl(b / "metrics.jsonl"))
    assert (a / "steps.csv").read_text() == (b / "steps.csv").read_text()
    with np.load(a / "checkpoint.npz") as x, np.load(b / "checkpoint.npz") as y:
        for key in x.files:
            if not key.startswith("rng/"):
                np.testing.assert_array_equal(x[key], y[key], err_msg=key)


EPOCHS = {"torch": 16, "numpy": 300}
"""Epochs per backend, so that a signal sent a few epochs in lands while training still runs:
a NumPy epoch of this model takes milliseconds, and 16 of them would be over before the kill
(a resume with nothing left to train cannot see lost optimizer state)."""


def config_for(backend: str) -> dict:
    return BASE | {"backend": backend, "train": BASE["train"] | {"epochs": EPOCHS[backend]}}


def assert_cut_short(run: Path, backend: str) -> int:
    """The race happened: the checkpoint is from before the last epoch; its epoch."""
    with np.load(run / "checkpoint.npz") as checkpoint:
        epoch = int(checkpoint["epoch"])
    assert epoch < EPOCHS[backend], f"training was over before the signal ({epoch} epochs)"
    return epoch


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run (per backend) every interrupted-then-resumed one must equal."""
    from typer.testing import CliRunner

    from mlpx.cli import app

    runs: dict[str, Path] = {}

    def get(backend: str) -> Path:
        if backend not in runs:
            tmp = tmp_path_factory.mktemp(f"reference-{backend}")
            (tmp / "config.yaml").write_text(yaml.safe_dump(config_for(backend)))
            args = ["train", str(tmp / "config.yaml"), "--runs-dir", str(tmp)]
            result = CliRunner().invoke(app, args)
            assert result.exit_code == 0, result.output
            runs[backend] = next(tmp.glob("*-sig"))
        return runs[backend]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "numpy"])
def test_ctrl_c_keeps_complete_epochs_and_resume_equals_uninterrupted(
    cli, write_config, reference, backend
):
    process = start_training(write_config(config_for(backend)), cli.runs_dir)
    run = wait_for_epochs(cli.runs_dir, 3, process)
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=60)[0]
    assert process.returncode == 130, output
    assert "mlpx train --resume" in output
    summary = read_json(run / "summary.json")
    assert summary["status"] == "interrupted"
    epochs = files_are_whole(run)
    assert 3 <= epochs < EPOCHS[backend] and summary["epochs_completed"] == epochs
    assert_cut_short(run, backend)
    model = "model.pt" if backend == "torch" else "model.npz"
    assert (run / "plots" / "loss.png").is_file() and (run / model).is_file()
    assert "interrupted" in cli("runs", cli.runs_dir).output

    cli("train", "--resume", run)
    summary = read_json(run / "summary.json")
    assert summary["status"] == "completed" and summary["resumed"] == 1
    same_run(reference(backend), run)


@pytest.mark.slow
@pytest.mark.parametrize(("backend", "after_epochs"), [("torch", 1), ("numpy", 4)])
def test_sigkill_leaves_whole_files_shows_crashed_and_resumes(
    cli, write_config, reference, backend, after_epochs
):
    process = start_training(write_config(config_for(backend)), cli.runs_dir)
    run = wait_for_epochs(cli.runs_dir, after_epochs, process)
    time.sleep(np.random.default_rng(after_epochs).uniform(0, 0.3))  # anywhere in an epoch
    process.kill()
    process.communicate(timeout=30)
    files_are_whole(run)
    assert_cut_short(run, backend)
    assert read_json(run / "summary.json")["status"] == "running"
    assert "crashed" in cli("runs", cli.runs_dir).output

    cli("train", "--resume", run)
    assert read_json(run / "summary.json")["status"] == "completed"
    same_run(reference(backend), run)


def test_sigterm_stops_like_ctrl_c(cli, write_config):
    process = start_training(write_config(BASE), cli.runs_dir)
    run = wait_for_epochs(cli.runs_dir, 1, process)
    process.terminate()
    process.communicate(timeout=60)
    assert process.returncode == 130
    assert read_json(run / "summary.json")["status"] == "interrupted"


def test_resume_refuses_what_it_cannot_resume(cli, tmp_path):
    cli.train("configs/digits.yaml", "train.epochs=1", "output.plots=false")
    done = cli.last_run()
    assert "already completed" in cli("train", "--resume", done, expect=2).output
    assert "not a run directory" in cli("train", "--resume", tmp_path, expect=2).output
    assert "alone" in cli("train", "configs/digits.yaml", "--resume", done, expect=2).output


def test_a_completed_run_trains_longer_with_epochs_as_if_planned_so_from_the_start(cli, tmp_path):
    base = ("configs/digits.yaml", "backend=numpy", "output.plots=false")
    cli.train(*base, "train.epochs=2")
    extended = cli.last_run()
    line = one_line_of(cli("train", "--resume", extended, "--epochs", "2", expect=2))
    assert line.endswith("the run has already completed; to train it longer, give --epochs N "
                         "with N > 2")  # fmt: skip
    cli("train", "--resume", extended, "--epochs", "4")
    cli.train(*base, "train.epochs=4")
    whole = cli.last_run()
    summary = read_json(extended / "summary.json")
    assert summary["status"] == "completed" and summary["epochs_completed"] == 4
    assert summary["epochs_extended"] == [{"from": 2, "to": 4, "after_epoch": 2}]
    keys = ("epoch", "train_loss", "val_loss", "val_acc")
    records = [[{k: r[k] for k in keys} for r in read_jsonl(run / "metrics.jsonl")]
               for run in (extended, whole)]  # fmt: skip
    assert records[0] == records[1]  # bit for bit on the CPU
    with np.load(extended / "model.npz") as a, np.load(whole / "model.npz") as b:
        assert all(np.array_equal(a[k], b[k]) for k in b.files)


def one_line_of(result) -> str:
    (line,) = result.output.strip().splitlines()
    return line


def test_diverged_run_keeps_its_files(cli):
    result = cli.train(
        "configs/digits.yaml",
        "optimizer.name=sgd",
        "optimizer.lr=1e4",
        "model.hidden=[256,256]",
        "train.epochs=5",
        expect=1,
    )
    run = cli.last_run()
    summary = read_json(run / "summary.json")
    assert summary["status"] == "diverged"
    assert "diverged at epoch" in result.output and "step" in summary["message"]
    losses = (run / "steps.csv").read_text().splitlines()[1:]
    assert not np.isfinite(float(losses[-1].split(",")[2]))  # the step that broke is kept
    assert all(np.isfinite(float(line.split(",")[2])) for line in losses[:-1])


# --- hostile configs: every input either validates or is exit 2 with one line ---------------

KEYS = [
    "name",
    "seed",
    "backend",
    "device",
    "dtype",
    "data",
    "model",
    "optimizer",
    "regularization",
    "train",
    "output",
    "lr",
    "hidden",
    "data.name",
    "data.val_fraction",
    "model.hidden",
    "model.dropout",
    "model.kind",
    "optimizer.lr",
    "optimizer.name",
    "train.epochs",
    "train.batch_size",
    "train.early_stopping",
    "output.runs_dir",
    "regularization.l2",
    "model.activation",
    "data.path",
    "x.y.z",
    "model.hidden.0",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["adam", "sgd", "relu", "complex", "npz", "cuda", "1e-3", "[64, 32]"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS + ["extra"]), inner, max_size=3)
    ),
    max_leaves=8,
)
yaml_documents = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), values, max_size=5).map(
        lambda d: yaml.safe_dump(d, allow_unicode=True)
    ),
    st.text(max_size=80),
    st.binary(max_size=80).map(lambda b: b.decode("latin-1")),
)
override_text = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEYS), st.text(max_size=15)),
    st.builds(lambda k, v: f"{k}={json.dumps(v)}", st.sampled_from(KEYS), values),
    st.text(max_size=20),
)


def check_one_line_or_ok(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code in (0, 2), result.output
    if result.exit_code == 2:
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
        assert "Traceback" not in result.output


@settings(max_examples=700, deadline=None, suppress_health_check=list(HealthCheck))
@given(document=yaml_documents, overrides=st.lists(override_text, max_size=3))
def test_fuzzed_configs_validate_or_fail_in_one_line(tmp_path_factory, document, overrides):
    from typer.testing import CliRunner

    from mlpx.cli import app

    path = tmp_path_factory.mktemp("fuzz") / "config.yaml"
    path.write_bytes(document.encode("utf-8", errors="surrogateescape"))
    sets = [item for o in overrides if not o.startswith("-") for item in ("-s", o)]
    result = CliRunner().invoke(app, ["train", str(path), "--print-config", *sets])
    check_one_line_or_ok(result)
    if result.exit_code == 0:  # what validated reloads to itself
        printed = path.with_name("printed.yaml")
        printed.write_text(result.output, encoding="utf-8")
        reloaded = CliRunner().invoke(app, ["train", str(printed), "--print-config"])
        assert reloaded.exit_code == 0, reloaded.output
        assert reloaded.output == result.output


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(raw=st.binary(min_size=1, max_size=60))
def test_non_utf8_and_binary_files_fail_in_one_line(tmp_path_factory, raw):
    from typer.testing import CliRunner

    from mlpx.cli import app

    path = tmp_path_factory.mktemp("bin") / "config.yaml"
    path.write_bytes(raw)
    check_one_line_or_ok(CliRunner().invoke(app, ["train", str(path), "--print-config"]))


def test_a_run_that_diverges_late_keeps_its_last_finite_model(cli):
    # plain momentum at lr 3 on digits survives a few epochs, then the loss overflows
    overrides = ("backend=numpy", "optimizer.name=momentum", "optimizer.lr=3", "train.epochs=20")
    cli.train("configs/digits.yaml", *overrides, expect=1)
    run = cli.last_run()
    summary = read_json(run / "summary.json")
    assert summary["status"] == "diverged" and summary["epochs_completed"] >= 1
    with np.load(run / "model.npz") as model:
        assert all(np.all(np.isfinite(model[key])) for key in model.files)
    assert (run / "plots" / "loss.png").is_file()


def test_ctrl_c_while_the_final_files_are_written_waits_for_them(cli, monkeypatch):
    """Training is over: an interrupt during the plots must not leave a run without its
    model, plots or final summary (it used to escape as 'interrupted before training')."""
    from mlpx import plots

    real_plot_run = plots.plot_run

    def interrupted_plot_run(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # delivered at once to this, the main thread
        return real_plot_run(*args, **kwargs)

    monkeypatch.setattr(plots, "plot_run", interrupted_plot_run)
    cli.train("configs/digits.yaml", "backend=numpy", "train.epochs=2")
    run = cli.last_run()
    assert read_json(run / "summary.json")["status"] == "completed"
    assert (run / "plots" / "loss.png").is_file() and (run / "model.npz").is_file()
