"""Issue 18, item 1: a resume checks what it resumes. A run records the config, the data and
the model it started with; `mlpx train --resume` refuses (exit 2, one line naming what
changed) anything else, accepts more epochs with --epochs N, and one resume at a time."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO, read_json, read_jsonl
from fake_datasets import write_challenge
from test_robustness import same_run

CONFIG = {
    "name": "sig",
    "backend": "numpy",
    "data": {"name": "npz", "path": "npz/big.npz"},
    "model": {"hidden": [32]},
    "train": {"epochs": 30, "batch_size": 8},
    "output": {"plots": False},
}


def mlpx(*args: object, cwd: Path) -> subprocess.Popen:
    env = os.environ | {"PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "mlpx", *map(str, args)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> tuple[int, str]:
    out, err = process.communicate(timeout=300)
    assert "Traceback" not in out + err
    return process.returncode, err.strip()


def one_line(process: subprocess.Popen, code: int = 2) -> str:
    returncode, err = finish(process)
    assert returncode == code, err
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    return err


def project(folder: Path, seed: int) -> Path:
    """A folder holding config.yaml and the relative npz/big.npz it names."""
    (folder / "npz").mkdir(parents=True)
    write_challenge(folder / "npz" / "big.npz", n=800, features=16, classes=3, seed=seed)
    (folder / "config.yaml").write_text(yaml.safe_dump(CONFIG))
    return folder


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """An uninterrupted run and an interrupted one of the same config, in project folder A."""
    root = tmp_path_factory.mktemp("resume")
    a = project(root / "A", seed=0)
    code, err = finish(mlpx("train", "config.yaml", "--runs-dir", "reference", cwd=a))
    assert code == 0, err
    process = mlpx("train", "config.yaml", "--runs-dir", "runs", cwd=a)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        metrics = list((a / "runs").glob("*-sig/metrics.jsonl"))
        if metrics and len(metrics[0].read_text().splitlines()) >= 2:
            break
        time.sleep(0.01)
    process.send_signal(signal.SIGINT)
    assert finish(process)[0] == 130
    (interrupted,) = (a / "runs").glob("*-sig")
    (reference,) = (a / "reference").glob("*-sig")
    return a, interrupted, reference


@pytest.fixture
def run(started, tmp_path):
    """A copy of the interrupted run, to resume or break."""
    return Path(shutil.copytree(started[1], tmp_path / "run"))


def edit_config(run: Path, **changes) -> None:
    config = yaml.safe_load((run / "config.yaml").read_text())
    for key, value in changes.items():
        section, name = key.split("__")
        config[section][name] = value
    (run / "config.yaml").write_text(yaml.safe_dump(config))


def test_config_yaml_names_the_data_file_absolutely(started):
    a, interrupted, _ = started
    config = yaml.safe_load((interrupted / "config.yaml").read_text())
    assert config["data"]["path"] == str(a / "npz" / "big.npz")
    record = read_json(interrupted / "summary.json")["started_with"]
    assert record["data_file"]["path"] == str((a / "npz" / "big.npz").resolve())
    assert record["config"]["data"]["path"] == str(a / "npz" / "big.npz")
    assert len(record["config_sha256"]) == 64 and len(record["data_digest"]) == 32


def test_a_resume_from_another_folder_trains_on_the_run_s_own_file(started, run, tmp_path):
    _, _, reference = started
    elsewhere = project(tmp_path / "B", seed=1)  # a different npz/big.npz
    code, err = finish(mlpx("train", "--resume", run, cwd=elsewhere))
    assert code == 0, err
    assert read_json(run / "summary.json")["status"] == "completed"
    same_run(reference, run)  # bit for bit the uninterrupted run, on A's file


def test_a_changed_data_file_is_refused(started, run):
    a, _, _ = started
    data = a / "npz" / "big.npz"
    kept = data.read_bytes()
    try:
        write_challenge(data, n=800, features=16, classes=3, seed=7)
        line = one_line(mlpx("train", "--resume", run, cwd=a))
    finally:
        data.write_bytes(kept)
    assert f"data.path {data.resolve()} holds other data than when the run started" in line
    assert line.endswith("; a run resumes on its own data")
    assert read_json(run / "summary.json")["status"] == "interrupted"


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"optimizer__lr": 0.5}, "optimizer.lr: 0.001 -> 0.5"),
        ({"model__hidden": [16]}, "model.hidden: [32] -> [16]"),
        ({"data__path": "npz/big.npz"}, "data.path: "),
    ],
)
def test_an_edited_config_is_refused_naming_the_change(started, run, changes, named):
    before = (run / "metrics.jsonl").read_text()
    edit_config(run, **changes)
    line = one_line(mlpx("train", "--resume", run, cwd=started[0]))
    assert f"config.yaml changed since the run started ({named}" in line
    assert (run / "metrics.jsonl").read_text() == before


def test_a_backend_change_is_refused(started, run):
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["backend"] = "torch"
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    line = one_line(mlpx("train", "--resume", run, cwd=started[0]))
    assert "backend: 'numpy' -> 'torch'" in line


def test_epochs_change_only_through_the_epochs_option(started, run):
    edit_config(run, train__epochs=2)
    line = one_line(mlpx("train", "--resume", run, cwd=started[0]))
    assert "train.epochs is 2 in config.yaml but the run planned 30" in line
    assert "pass --epochs N" in line
    edit_config(run, train__epochs=30)
    line = one_line(mlpx("train", "--resume", run, "--epochs", 10, cwd=started[0]))
    assert "--epochs 10: the run plans 30 epochs; --epochs only adds epochs" in line

    done = read_json(run / "summary.json")["epochs_completed"]
    code, err = finish(mlpx("train", "--resume", run, "--epochs", 33, cwd=started[0]))
    assert code == 0, err
    summary = read_json(run / "summary.json")
    assert summary["status"] == "completed" and summary["epochs_planned"] == 33
    assert summary["epochs_extended"] == [{"from": 30, "to": 33, "after_epoch": done}]
    assert [r["epoch"] for r in read_jsonl(run / "metrics.jsonl")] == list(range(1, 34))
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["epochs"] == 33


def test_runs_dir_with_resume_is_refused(started, run, tmp_path):
    line = one_line(mlpx("train", "--resume", run, "--runs-dir", tmp_path / "x", cwd=started[0]))
    assert f"--runs-dir: a resumed run stays where it is ({run}); drop --runs-dir" in line
    assert not (tmp_path / "x").exists()
    line = one_line(mlpx("train", "config.yaml", "--epochs", 3, cwd=started[0]))
    assert "--epochs: only with --resume" in line


def test_a_second_live_resume_is_refused(started, run):
    with open(run / ".lock", "a+") as held:  # another mlpx is resuming the run
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("4242\n")
        held.flush()
        line = one_line(mlpx("train", "--resume", run, cwd=started[0]))
    assert "another mlpx (process 4242) is resuming this run; wait for it or stop it" in line
    both = [mlpx("train", "--resume", run, cwd=started[0]) for _ in range(2)]
    results = sorted((finish(p) for p in both), key=lambda r: r[0])
    assert [code for code, _ in results] == [0, 2], results
    assert "is resuming this run" in results[1][1] or "still running" in results[1][1]
    assert read_json(run / "summary.json")["resumed"] == 1


@pytest.mark.parametrize("damage", ["truncated", "random bytes"])
def test_a_damaged_checkpoint_is_called_damaged(started, run, damage):
    checkpoint = run / "checkpoint.npz"
    data = checkpoint.read_bytes()
    if damage == "truncated":
        checkpoint.write_bytes(data[: len(data) // 2])
    else:
        checkpoint.write_bytes(np.random.default_rng(0).bytes(len(data)))
    line = one_line(mlpx("train", "--resume", run, cwd=started[0]))
    assert "checkpoint.npz is damaged" in line and "no epoch had completed" not in line


def test_a_model_change_in_an_older_run_is_refused_not_a_crash(started, run):
    summary = read_json(run / "summary.json")
    del summary["started_with"]  # as mlpx before issue 18 wrote it
    (run / "summary.json").write_text(json.dumps(summary))
    edit_config(run, model__hidden=[16])
    line = one_line(mlpx("train", "--resume", run, cwd=started[0]))
    assert "checkpoint.npz does not hold the model of config.yaml (16-16-3 relu simple)" in line
    assert "W1 has shape (16, 32) in the file, (16, 16) by the config" in line


def test_predict_on_a_killed_run_says_it_was_killed_and_how_to_finish(started, tmp_path):
    a = started[0]
    process = mlpx("train", "config.yaml", "--runs-dir", tmp_path / "killed", cwd=a)
    deadline = time.monotonic() + 120
    while not list((tmp_path / "killed").glob("*-sig/checkpoint.npz")):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.01)
    process.kill()
    process.communicate(timeout=60)
    (run,) = (tmp_path / "killed").glob("*-sig")
    line = one_line(mlpx("predict", run, "--data", a / "npz" / "big.npz", cwd=a))
    assert "no model.npz: the run stopped before writing its model (killed or crashed" in line
    assert f"finish it with: mlpx train --resume {run}" in line
    assert "did not complete an epoch" not in line


def test_predict_after_editing_hidden_is_one_line(started, tmp_path):
    a, _, reference = started
    run = Path(shutil.copytree(reference, tmp_path / "done"))
    edit_config(run, model__hidden=[16])
    line = one_line(mlpx("predict", run, "--data", a / "npz" / "big.npz", cwd=a))
    assert "model.npz does not hold the model of config.yaml (16-16-3 relu simple)" in line
    assert (
        "W1 has shape (16, 32) in the file, (16, 16) by the config; was config.yaml edited?" in line
    )


@pytest.mark.parametrize("text", ["[1, 2, 3]", "{", '{"status": {}}'])
def test_a_damaged_summary_is_refused_not_a_crash(started, run, text):
    (run / "summary.json").write_text(text)
    line = one_line(mlpx("train", "--resume", run, cwd=started[0]))
    assert "summary.json is missing or damaged, so what the run started with cannot be" in line
