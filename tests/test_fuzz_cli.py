"""Issue 18, item 6: the whole command line fuzzed. Hypothesis hands every command hostile
arguments, hostile files (configs, .npz data, checkpoints, model files, summaries) and hostile
file-system states (read-only places, a full disk); whatever happens, the exit code is one of
0, 1, 2 and 130, no output holds a traceback, and no file the user had is changed.

Bounded for CI: the commands run in-process (Typer's CliRunner), training runs are of the toy
set for one epoch, a sweep only plans (``--dry-run``), the cross-entropy demo draws two
batches, and the example counts are small and derandomised (the same examples every run).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from fake_datasets import write_challenge
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_no_traceback import forged_npz, read_only
from typer.testing import CliRunner

from mlpx.cli import app

EXIT_CODES = {0, 1, 2, 130}
FUZZ = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
TOY = {
    "name": "toy",
    "backend": "numpy",
    "dtype": "float64",
    "data": {"name": "toy", "val_fraction": 0.0, "normalize": "none"},
    "model": {"hidden": [10]},
    "optimizer": {"name": "sgd", "lr": 0.1},
    "train": {"epochs": 1, "batch_size": 5},
    "output": {"plots": False},
}


def snapshot(folder: Path) -> dict[Path, str]:
    """Every file under ``folder`` (links not followed) with a hash of its bytes."""
    files = {}
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with contextlib.suppress(OSError):
                files[path] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files


@pytest.fixture(scope="module")
def user(tmp_path_factory):
    """A user's folder full of hostile things, and a trained run in it; the tests run there
    (so that default output places are inside it)."""
    home = tmp_path_factory.mktemp("user")
    (home / "toy.yaml").write_text(yaml.safe_dump(TOY))
    (home / "dup.yaml").write_text("train: {epochs: 1}\ntrain: {epochs: 2}\n")
    (home / "bomb.yaml").write_text("a: &a [1,1,1,1,1,1,1,1,1,1]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 10)}]\n"
        for i in range(6)
    ))  # fmt: skip
    (home / "deep.yaml").write_text("model: {hidden: " + "[" * 3000 + "]" * 3000 + "}\n")
    (home / "text.npz").write_text("data_x,data_y\n1,2\n")
    forged_npz(home / "header.npz", (100_000_000_000, 5))
    np.savez(home / "toy-data.npz", data_x=np.random.default_rng(0).standard_normal((6, 4)))
    write_challenge(home / "challenge.npz", n=40, n_test=5, features=4, classes=3)
    (home / "afile").write_text("mine\n")
    (home / "folder").mkdir()
    (home / "locked").mkdir()
    (home / "loop").symlink_to(home / "loop")
    os.mkfifo(home / "fifo")
    runner = CliRunner()
    cwd = Path.cwd()
    os.chdir(home)
    try:
        result = runner.invoke(app, ["train", "toy.yaml", "--runs-dir", "runs"])
        assert result.exit_code == 0, result.output
        yield home, next((home / "runs").iterdir())
    finally:
        os.chdir(cwd)


PATHS = [
    "toy.yaml", "dup.yaml", "bomb.yaml", "deep.yaml", "text.npz", "header.npz",
    "toy-data.npz", "challenge.npz", "afile", "afile/x.csv", "folder", "folder/x.png",
    "locked/x.csv", "loop", "loop/x.csv", "fifo", "/dev/zero", "/proc/x.json", "missing.yaml",
    "runs", "RUN", "RUN/config.yaml", "RUN/checkpoint.npz", "x.csv", "x.npy", "x.png",
    "n" * 300 + ".csv", "",
]  # fmt: skip
OPTIONS = [
    "--resume", "--runs-dir", "--out", "--data", "--json", "--plot", "--epochs", "--tol",
    "--seed", "--batch-size", "--classes", "--dtype", "--range", "-s", "--values", "--config",
    "--print-config", "--force", "--against", "--seeds", "--jobs", "--executor", "-c",
]  # fmt: skip
VALUES = [
    "0", "-1", "1", "2", "nan", "inf", "-inf", "1e400", "99999999999999999999", "abc", "0,1",
    "1,0", "nan,1", "torch", "float16", "lr", "hidden", "0.1,0.01", "[64],[64,64]",
    "optimizer.lr=.inf", "optimizer.lr=-1", "name=a/b", "name=" + "n" * 300, "threads=0",
    "model.hidden=[100000000]", "train.epochs=0", "data.path=/dev/zero", "x.y=1", "=",
    "model=3", "data.name=npz", "model.hidden=" + "[" * 200 + "]" * 200,
]  # fmt: skip
BOUNDS = {
    "train": [],
    "sweep": ["--dry-run"],
    "gradcheck": [],
    "predict": [],
    "runs": [],
    "crossentropy-demo": ["--iterations", "2"],
}
"""Appended to every fuzzed command line so that no example trains or measures for long."""

tokens = st.lists(
    st.one_of(st.sampled_from(OPTIONS), st.sampled_from(VALUES), st.sampled_from(PATHS)),
    max_size=6,
)


def invoke(args: list[str]):
    result = CliRunner().invoke(app, args)
    assert result.exit_code in EXIT_CODES, (args, result.output, result.exception)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args}: {result.exception!r}\n{result.output}")
    assert "Traceback" not in result.output, (args, result.output)
    return result


def check_unchanged(before: dict[Path, str], code: int, run: Path) -> None:
    """No file the user had is changed (a run a command succeeded in resuming aside)."""
    after = snapshot(run.parent.parent)
    for path, digest in before.items():
        if code == 0 and path.is_relative_to(run):
            continue
        assert after.get(path) == digest, f"{path} changed"


def run_args(args: list[str], run: Path) -> list[str]:
    return [arg.replace("RUN", str(run)) if arg.startswith("RUN") else arg for arg in args]


@FUZZ
@given(command=st.sampled_from(list(BOUNDS)), args=tokens)
def test_hostile_arguments(user, monkeypatch, command, args):
    home, run = user
    monkeypatch.chdir(home)
    line = [command, *run_args(args, run), *BOUNDS[command]]
    if command == "train" and "--resume" not in args:
        line += ["-s", "train.epochs=1"]  # a config that validates trains one epoch
    before = snapshot(home)
    result = invoke(line)
    check_unchanged(before, result.exit_code, run)


RUN_FILES = ["checkpoint.npz", "model.npz", "normalization.npz", "config.yaml", "summary.json"]
damage = st.one_of(
    st.binary(max_size=300).map(lambda b: ("bytes", b)),
    st.floats(0, 1).map(lambda f: ("truncate", f)),
    st.sampled_from([("bytes", b""), ("bytes", b"PK\x03\x04" + b"\0" * 40)]),
)


@FUZZ
@given(name=st.sampled_from(RUN_FILES), how=damage, command=st.sampled_from(["predict", "resume"]))
def test_hostile_files_in_a_run_directory(user, tmp_path_factory, name, how, command):
    home, run = user
    broken = Path(shutil.copytree(run, tmp_path_factory.mktemp("broken") / run.name))
    target = broken / name
    kind, value = how
    data = target.read_bytes() if target.exists() else b""
    target.write_bytes(value if kind == "bytes" else data[: int(len(data) * value)])
    before = snapshot(home)
    out = tmp_path_factory.mktemp("out") / "labels.csv"
    if command == "predict":
        invoke(["predict", str(broken), "--data", str(home / "challenge.npz"), "--out", str(out)])
    else:
        invoke(["train", "--resume", str(broken)])
    check_unchanged(before, 1, run)


@FUZZ
@given(text=st.one_of(st.text(max_size=200), st.binary(max_size=200).map(bytes.hex)))
def test_hostile_data_files(user, tmp_path_factory, text):
    home, run = user
    data = tmp_path_factory.mktemp("data") / "data.npz"
    data.write_bytes(text.encode("utf-8", "surrogatepass")[:400])
    before = snapshot(home)
    invoke(["predict", str(run), "--data", str(data), "--out", str(data.with_suffix(".csv"))])
    invoke(["train", str(home / "toy.yaml"), "-s", "data.name=npz", "-s", f"data.path={data}",
            "--runs-dir", str(data.parent / "runs")])  # fmt: skip
    check_unchanged(before, 1, run)


# --- file-system states: read-only places and a full disk ------------------------------------


COMMANDS_WRITING = {
    "predict": lambda home, run, place: [
        "predict", str(run), "--data", str(home / "challenge.npz"), "--out", str(place / "p.csv")
    ],
    "crossentropy-demo": lambda home, run, place: [
        "crossentropy-demo", "--iterations", "2", "--json", str(place / "ce.json"),
        "--plot", str(place / "ce.png"),
    ],
    "train": lambda home, run, place: [
        "train", str(home / "toy.yaml"), "--runs-dir", str(place / "runs")
    ],
    "sweep": lambda home, run, place: [
        "sweep", "lr", "--values", "0.1", "--config", str(home / "toy.yaml"), "--runs-dir",
        str(place / "runs"),
    ],
}  # fmt: skip


@pytest.mark.parametrize("command", list(COMMANDS_WRITING))
def test_a_read_only_place(user, tmp_path, command):
    home, run = user
    place = tmp_path / "place"
    place.mkdir()
    before = snapshot(home)
    with read_only(place):
        result = invoke(COMMANDS_WRITING[command](home, run, place))
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1].startswith("error: ")
    assert list(place.iterdir()) == []
    check_unchanged(before, 2, run)


def test_predict_without_out_on_a_read_only_run(user):
    home, run = user
    before = snapshot(home)
    with read_only(run):
        result = invoke(["predict", str(run), "--data", str(home / "challenge.npz")])
    assert result.exit_code == 2 and f"cannot write in {run}" in result.output
    check_unchanged(before, 2, run)


@pytest.mark.parametrize("command", ["predict", "crossentropy-demo", "train", "sweep"])
def test_a_full_disk_simulated(user, tmp_path, monkeypatch, command):
    """Every atomic write of mlpx fsyncs its file: a full disk fails there."""
    import mlpx.atomic

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    home, run = user
    before = snapshot(home)
    monkeypatch.setattr(mlpx.atomic.os, "fsync", full)
    result = invoke(COMMANDS_WRITING[command](home, run, tmp_path))
    assert result.exit_code == 1, result.output
    assert "the disk is full; free some space" in result.output.strip().splitlines()[-1]
    check_unchanged(before, 1, run)
    assert not list(tmp_path.rglob(".*.tmp"))  # no temporary file left behind


def test_a_full_tmpfs(user, tmp_path):
    """A real full disk where the machine lets us mount a small tmpfs."""
    home, run = user
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], capture_output=True
    )
    if mount.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        with contextlib.suppress(OSError), open(disk / "filler", "wb") as filler:
            filler.write(b"\0" * 200_000)
        result = invoke(COMMANDS_WRITING["crossentropy-demo"](home, run, disk))
        assert result.exit_code in (1, 2), result.output
        assert "Traceback" not in result.output
        assert result.output.strip().splitlines()[-1].startswith("error: ")
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_sweep_resume_on_a_read_only_sweep(user, tmp_path, monkeypatch):
    home, run = user
    monkeypatch.chdir(home)  # data.path relative to here: sweep.yaml records it absolute
    npz = ["-s", "data.name=npz", "-s", "data.path=challenge.npz", "-s", "data.val_fraction=0.2"]
    result = invoke([*COMMANDS_WRITING["sweep"](home, run, tmp_path), *npz])
    assert result.exit_code == 0, result.output
    (sweep,) = (tmp_path / "runs").iterdir()
    base = yaml.safe_load((sweep / "sweep.yaml").read_text())["base"]
    assert base["data"]["path"] == str(home / "challenge.npz")
    before = snapshot(sweep)
    with read_only(sweep):
        result = invoke(["sweep", "--resume", str(sweep)])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1].startswith("error: ")
    assert snapshot(sweep) == before
