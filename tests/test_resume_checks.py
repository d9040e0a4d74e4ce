"""Issue 18, item 1: a resume checks what it resumes. A run records the config, the data and
the model it started with; `mlpx train --resume` refuses (exit 2, one line naming what
changed) anything else, accepts more epochs with --epochs N, and one resume at a time.

The runs are made by a real `mlpx` process stopped with a real SIGINT; the resumes run
in-process (Typer's CliRunner), where mutation testing sees what they reach
(docs/MUTATION.md), except where two processes are the point."""

from __future__ import annotations

import fcntl
import hashlib
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

from mlpx.runs import RunDir, RunDirError
from mlpx.train import _config_changes, open_resume

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


@pytest.fixture
def resume(started, cli, monkeypatch):
    """``mlpx train --resume ARGS`` in this process, from project folder A."""
    monkeypatch.chdir(started[0])
    return lambda *args, expect=0: cli("train", "--resume", *args, expect=expect)


@pytest.fixture
def refusal(resume):
    """The one line ``mlpx train --resume ARGS`` exits 2 with."""

    def refused(*args) -> str:
        (line,) = resume(*args, expect=2).output.strip().splitlines()
        assert line.startswith("error: "), line
        return line

    return refused


def edit(path: Path, **changes) -> None:
    """Set ``section__key=value`` (or a top-level ``key=value``) in a YAML or JSON file."""
    load = json.loads if path.suffix == ".json" else yaml.safe_load
    data = load(path.read_text())
    for key, value in changes.items():
        *section, name = key.split("__")
        place = data[section[0]] if section else data
        if value is None:
            del place[name]
        else:
            place[name] = value
    text = json.dumps(data) if path.suffix == ".json" else yaml.safe_dump(data)
    path.write_text(text)


def edit_config(run: Path, **changes) -> None:
    edit(run / "config.yaml", **changes)


def test_config_yaml_names_the_data_file_absolutely(started):
    a, interrupted, _ = started
    config = yaml.safe_load((interrupted / "config.yaml").read_text())
    assert config["data"]["path"] == str(a / "npz" / "big.npz")
    record = read_json(interrupted / "summary.json")["started_with"]
    assert record["data_file"]["path"] == str((a / "npz" / "big.npz").resolve())
    assert record["config"]["data"]["path"] == str(a / "npz" / "big.npz")
    assert len(record["config_sha256"]) == 64 and len(record["data_digest"]) == 32


def test_a_resume_from_another_folder_trains_on_the_run_s_own_file(
    started, run, cli, tmp_path, monkeypatch
):
    _, _, reference = started
    before = read_json(run / "summary.json")
    assert before["status"] == "interrupted" and before["message"].startswith("interrupted")
    monkeypatch.chdir(project(tmp_path / "B", seed=1))  # a different npz/big.npz
    cli("train", "--resume", run)
    summary = read_json(run / "summary.json")
    assert summary["status"] == "completed" and summary["resumed"] == 1
    assert "message" not in summary  # the interruption's message went with it
    assert summary["epochs_completed"] == summary["epochs_planned"] == 30
    assert "epochs_extended" not in summary
    ran = summary["finished"] - summary["started"]  # this process's part
    assert summary["seconds"] == pytest.approx(before["seconds"] + ran, abs=1e-6)
    same_run(reference, run)  # bit for bit the uninterrupted run, on A's file


def checkpoint_epoch(run: Path) -> int:
    with np.load(run / "checkpoint.npz") as checkpoint:
        return int(checkpoint["epoch"])


def test_a_run_interrupted_twice_counts_its_resumes_and_equals_the_uninterrupted(
    started, run, resume, monkeypatch
):
    """The second Ctrl-C lands in the resumed part; every summary.json written while the run
    trains says running; the resumes are counted; the numbers are the uninterrupted run's."""
    stop = checkpoint_epoch(run) + 2
    assert stop < 30, "the first run trained too far before its Ctrl-C"
    written = []
    write_summary, append_metrics = RunDir.write_summary, RunDir.append_metrics

    def recording(self, summary):
        written.append((summary["status"], summary.get("resumed")))
        write_summary(self, summary)

    def ctrl_c_in_the_first_resume(self, record):
        if record["epoch"] == stop and ("running", 2) not in written:
            raise KeyboardInterrupt
        append_metrics(self, record)

    monkeypatch.setattr(RunDir, "write_summary", recording)
    monkeypatch.setattr(RunDir, "append_metrics", ctrl_c_in_the_first_resume)
    resume(run, expect=130)
    summary = read_json(run / "summary.json")
    assert summary["status"] == "interrupted" and summary["epochs_completed"] == stop - 1
    assert summary["message"] == f"interrupted after {stop - 1} complete epoch(s)"
    resume(run)
    assert [w for w in written if w[0] != "running"] == [("interrupted", 1), ("completed", 2)]
    assert {w for w in written if w[0] == "running"} == {("running", 1), ("running", 2)}
    summary = read_json(run / "summary.json")
    assert summary["resumed"] == 2 and "message" not in summary
    same_run(started[2], run)


def test_a_killed_run_resumes_and_counts_only_the_time_it_trained(started, run, resume):
    """A kill leaves summary.json as the run started it: running, a pid that is gone and no
    seconds; a live pid means the run still trains."""
    edit(run / "summary.json", status="running", seconds=None, finished=None, message=None)
    edit(run / "summary.json", pid=os.getpid())
    line = resume(run, expect=2).output.strip()
    assert line == f"error: --resume {run}: the run is still running (pid alive)"
    edit(run / "summary.json", pid=read_json(started[1] / "summary.json")["pid"])  # exited
    resume(run)
    summary = read_json(run / "summary.json")
    assert summary["status"] == "completed" and summary["resumed"] == 1
    assert summary["seconds"] == pytest.approx(summary["finished"] - summary["started"], abs=1e-6)
    same_run(started[2], run)


def test_a_changed_data_file_is_refused(started, run, refusal):
    a, _, _ = started
    data = a / "npz" / "big.npz"
    kept = data.read_bytes()
    try:
        write_challenge(data, n=800, features=16, classes=3, seed=7)
        now = hashlib.sha256(data.read_bytes()).hexdigest()
        line = refusal(run)
    finally:
        data.write_bytes(kept)
    then = hashlib.sha256(kept).hexdigest()
    assert line == (
        f"error: --resume {run}: data.path {data.resolve()} holds other data than when the "
        f"run started (sha256 {then[:12]}... then, {now[:12]}... now); a run resumes on its "
        "own data"
    )
    assert read_json(run / "summary.json")["status"] == "interrupted"


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"optimizer__lr": 0.5}, "optimizer.lr: 0.001 -> 0.5"),
        ({"model__hidden": [16]}, "model.hidden: [32] -> [16]"),
        ({"data__path": "npz/big.npz"}, "data.path: "),
        (
            {"optimizer__lr": 0.5, "model__hidden": [16], "train__batch_size": 4},
            "model.hidden: [32] -> [16]; optimizer.lr: 0.001 -> 0.5; train.batch_size: 8 -> 4)",
        ),
    ],
)
def test_an_edited_config_is_refused_naming_the_change(run, refusal, changes, named):
    before = (run / "metrics.jsonl").read_text()
    edit_config(run, **changes)
    line = refusal(run)
    assert line.startswith(
        f"error: --resume {run}: config.yaml changed since the run started ({named}"
    )
    assert line.endswith("); a run resumes as it started: undo the change, or start a new run")
    assert (run / "metrics.jsonl").read_text() == before


def test_a_change_names_a_setting_one_side_lacks_and_never_epochs():
    """A setting absent on one side (a run of another mlpx version) shows as (absent);
    train.epochs is --epochs' business."""
    before = {"a": 1, "s": {"k": 1}, "train": {"epochs": 3, "seed": 0}, "z": {"k": 1}}
    after = {"a": 1, "b": 2, "train": {"epochs": 9, "seed": 1}, "z": {}}
    assert _config_changes(before, after) == [
        "b: '(absent)' -> 2",
        "s: {'k': 1} -> '(absent)'",
        "train.seed: 0 -> 1",
        "z.k: 1 -> '(absent)'",
    ]


def test_a_backend_change_is_refused(run, refusal):
    edit_config(run, backend="torch")
    assert "backend: 'numpy' -> 'torch'" in refusal(run)
    summary = read_json(run / "summary.json")
    del summary["started_with"]  # a run of mlpx before issue 18: only the summary's backend
    (run / "summary.json").write_text(json.dumps(summary))
    assert refusal(run) == (
        f"error: --resume {run}: the run trained with backend numpy, config.yaml now says "
        "torch; put it back"
    )


def test_epochs_change_only_through_the_epochs_option(started, run, refusal, resume):
    edit_config(run, train__epochs=2)
    assert refusal(run) == (
        f"error: --resume {run}: train.epochs is 2 in config.yaml but the run planned 30; "
        "put it back, and to train longer pass --epochs N"
    )
    edit_config(run, train__epochs=30)
    assert refusal(run, "--epochs", 29) == (
        f"error: --resume {run} --epochs 29: the run plans 30 epochs; --epochs only adds "
        "epochs (give 30 or more)"
    )
    done = read_json(run / "summary.json")["epochs_completed"]
    resume(run, "--epochs", 33)
    summary = read_json(run / "summary.json")
    assert summary["status"] == "completed" and summary["epochs_planned"] == 33
    assert summary["epochs_extended"] == [{"from": 30, "to": 33, "after_epoch": done}]
    assert [r["epoch"] for r in read_jsonl(run / "metrics.jsonl")] == list(range(1, 34))
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["epochs"] == 33
    resume(run, "--epochs", 35)  # and once more: both extensions are kept
    summary = read_json(run / "summary.json")
    assert summary["epochs_planned"] == summary["epochs_completed"] == 35
    assert summary["epochs_extended"] == [
        {"from": 30, "to": 33, "after_epoch": done},
        {"from": 33, "to": 35, "after_epoch": 33},
    ]
    assert summary["resumed"] == 2
    assert refusal(run) == (
        f"error: --resume {run}: the run has already completed; to train it longer, give "
        "--epochs N with N > 35"
    )


def test_epochs_equal_to_the_plan_resumes_as_planned(started, run, resume):
    resume(run, "--epochs", 30)
    summary = read_json(run / "summary.json")
    assert summary["epochs_planned"] == 30 and "epochs_extended" not in summary
    same_run(started[2], run)


def test_a_completed_run_is_refused_unless_epochs_go_past_its_plan(started, refusal, tmp_path):
    done = Path(shutil.copytree(started[2], tmp_path / "done"))  # the uninterrupted run
    assert refusal(done, "--epochs", 30) == (
        f"error: --resume {done}: the run has already completed; to train it longer, give "
        "--epochs N with N > 30"
    )
    summary = read_json(done / "summary.json")
    del summary["epochs_planned"]  # edited by hand: the plan is not known, nor what is more
    (done / "summary.json").write_text(json.dumps(summary))
    assert refusal(done) == f"error: --resume {done}: the run has already completed"
    assert refusal(done, "--epochs", 40) == f"error: --resume {done}: the run has already completed"


@pytest.mark.parametrize("epochs", [None, 33])
def test_a_summary_without_its_plan_resumes_by_config_yaml(started, run, resume, epochs):
    """A summary.json without the plan (edited by hand: every mlpx writes it) is resumed by
    config.yaml's epochs, which a resume (with or without more epochs) records."""
    summary = read_json(run / "summary.json")
    del summary["epochs_planned"]
    (run / "summary.json").write_text(json.dumps(summary))
    done = summary["epochs_completed"]
    resume(run, *(["--epochs", epochs] if epochs else []))
    summary = read_json(run / "summary.json")
    assert summary["epochs_completed"] == summary["epochs_planned"] == (epochs or 30)
    if epochs is None:
        assert "epochs_extended" not in summary
        same_run(started[2], run)
    else:
        assert summary["epochs_extended"] == [{"from": 30, "to": 33, "after_epoch": done}]
        assert yaml.safe_load((run / "config.yaml").read_text())["train"]["epochs"] == 33


def test_runs_dir_with_resume_is_refused(started, run, cli, refusal, tmp_path):
    line = refusal(run, "--runs-dir", tmp_path / "x")
    assert f"--runs-dir: a resumed run stays where it is ({run}); drop --runs-dir" in line
    assert not (tmp_path / "x").exists()
    line = cli("train", "config.yaml", "--epochs", 3, expect=2).output
    assert "--epochs: only with --resume" in line


def test_what_is_not_a_run_or_has_no_checkpoint_is_refused(run, refusal, tmp_path):
    assert refusal(tmp_path) == (
        f"error: --resume {tmp_path}: not a run directory (no config.yaml) nor a "
        "cross-validation (no cv.yaml)"
    )
    with pytest.raises(RunDirError) as refused:  # the API's own check
        open_resume(tmp_path)
    assert str(refused.value) == f"--resume {tmp_path}: not a run directory (no config.yaml)"
    (run / "checkpoint.npz").unlink()
    assert refusal(run) == (
        f"error: --resume {run}: no checkpoint.npz (no epoch had completed); start it anew"
    )


def test_a_second_live_resume_is_refused(started, run, refusal):
    with open(run / ".lock", "a+") as held:  # another mlpx is resuming the run
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert refusal(run) == (  # it has not written its pid yet
            f"error: --resume {run}: another mlpx (process ?) is resuming this run; wait for "
            "it or stop it"
        )
        held.write("4242\n")
        held.flush()
        assert refusal(run).endswith(
            "another mlpx (process 4242) is resuming this run; wait for it or stop it"
        )
    assert read_json(run / "summary.json")["status"] == "interrupted"
    both = [mlpx("train", "--resume", run, cwd=started[0]) for _ in range(2)]
    results = sorted((finish(p) for p in both), key=lambda r: r[0])
    assert [code for code, _ in results] == [0, 2], results
    assert "is resuming this run" in results[1][1] or "still running" in results[1][1]
    assert read_json(run / "summary.json")["resumed"] == 1


def test_a_run_s_lock_holds_until_unlocked_and_names_its_holder(tmp_path):
    """flock locks of two open files exclude each other in one process as in two."""
    first, second = RunDir(tmp_path), RunDir(tmp_path)
    first.unlock()  # before it locks: nothing to let go of
    first.lock("first")
    assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"
    with pytest.raises(RunDirError) as refused:
        second.lock("second")
    assert str(refused.value) == (
        f"second: another mlpx (process {os.getpid()}) is resuming this run; wait for it or stop it"
    )
    first.unlock()
    first.unlock()  # twice is harmless
    second.lock("second")
    assert (tmp_path / ".lock").read_text() == f"{os.getpid()}\n"
    second.unlock()


@pytest.mark.parametrize("damage", ["truncated", "random bytes", "no epoch", "a pickle"])
def test_a_damaged_checkpoint_is_called_damaged(run, refusal, damage):
    checkpoint = run / "checkpoint.npz"
    data = checkpoint.read_bytes()
    if damage == "truncated":
        checkpoint.write_bytes(data[: len(data) // 2])
    elif damage == "random bytes":
        checkpoint.write_bytes(np.random.default_rng(0).bytes(len(data)))
    else:  # without its epoch, or with an object array (a pickle, never unpickled)
        with np.load(checkpoint) as arrays:
            kept = {k: arrays[k] for k in arrays.files if k != "epoch" or damage == "a pickle"}
        if damage == "a pickle":
            kept["extra"] = np.array([{"run": "code"}], dtype=object)
        np.savez(checkpoint, **kept)
    assert refusal(run) == (
        f"error: --resume {run}: checkpoint.npz is damaged (not a readable .npz archive with "
        "an epoch); the run cannot continue from it; start it anew"
    )


def test_a_model_change_in_an_older_run_is_refused_not_a_crash(run, refusal):
    summary = read_json(run / "summary.json")
    del summary["started_with"]  # as mlpx before issue 18 wrote it
    (run / "summary.json").write_text(json.dumps(summary))
    edit_config(run, model__hidden=[16])
    assert refusal(run) == (
        f"error: --resume {run}: checkpoint.npz does not hold the model of config.yaml "
        "(16-16-3 relu simple): W1 has shape (16, 32) in the file, (16, 16) by the config"
    )


def test_predict_on_a_killed_run_says_it_was_killed_and_how_to_finish(
    started, cli, tmp_path, monkeypatch
):
    a = started[0]
    process = mlpx("train", "config.yaml", "--runs-dir", tmp_path / "killed", cwd=a)
    deadline = time.monotonic() + 120
    while not list((tmp_path / "killed").glob("*-sig/checkpoint.npz")):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.01)
    process.kill()
    process.communicate(timeout=60)
    (run,) = (tmp_path / "killed").glob("*-sig")
    monkeypatch.chdir(a)
    (line,) = cli("predict", run, "--data", a / "npz" / "big.npz", expect=2).output.splitlines()
    assert "no model.npz: the run stopped before writing its model (killed or crashed" in line
    assert f"finish it with: mlpx train --resume {run}" in line
    assert "did not complete an epoch" not in line


def test_predict_after_editing_hidden_is_one_line(started, cli, tmp_path):
    a, _, reference = started
    run = Path(shutil.copytree(reference, tmp_path / "done"))
    edit_config(run, model__hidden=[16])
    (line,) = cli("predict", run, "--data", a / "npz" / "big.npz", expect=2).output.splitlines()
    assert "model.npz does not hold the model of config.yaml (16-16-3 relu simple)" in line
    assert (
        "W1 has shape (16, 32) in the file, (16, 16) by the config; was config.yaml edited?" in line
    )


@pytest.mark.parametrize("text", ["[1, 2, 3]", "{", '{"status": {}}', '{"model": 3}'])
def test_a_damaged_summary_is_refused_not_a_crash(run, refusal, text):
    (run / "summary.json").write_text(text)
    assert refusal(run) == (
        f"error: --resume {run}: summary.json is missing or damaged, so what the run started "
        "with cannot be checked; start it anew"
    )


def test_other_data_under_the_same_name_are_refused(run, refusal):
    """The data file is the one the run started with, but the data made of it are not
    (another mlpx's loading, say): the digest tells."""
    summary = read_json(run / "summary.json")
    summary["started_with"]["data_digest"] = "0" * 32
    for _ in ("with the file's record", "without"):
        (run / "summary.json").write_text(json.dumps(summary))
        assert refusal(run) == (
            f"error: --resume {run}: the data of data.name npz differ from those the run "
            "started with; a run resumes on its own data"
        )
        summary["started_with"].pop("data_file", None)


def wait_for_zombie(pid: int) -> None:
    """Until process ``pid`` has exited and is not reaped yet (state Z in /proc/PID/stat)."""
    stat = Path(f"/proc/{pid}/stat")
    deadline = time.monotonic() + 60
    while stat.read_bytes().rsplit(b")", 1)[1].split()[0] != b"Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_process_counts_as_alive_unless_it_is_gone_or_a_zombie(monkeypatch):
    from mlpx import runs

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    wait_for_zombie(child.pid)
    assert not runs.pid_alive(child.pid)  # a zombie writes nothing any more
    child.wait()
    assert not runs.pid_alive(child.pid)  # reaped: gone
    assert runs.pid_alive(os.getpid())

    def not_ours(pid, sig):  # another user's process: kill(pid, 0) is not permitted
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(runs.os, "kill", not_ours)
    assert runs.pid_alive(child.pid)
    monkeypatch.setattr(runs.os, "kill", lambda pid, sig: None)
    monkeypatch.setattr("builtins.open", lambda *args, **kwargs: (_ for _ in ()).throw(OSError()))
    assert runs.pid_alive(child.pid)  # no /proc (macOS): kill(pid, 0) is all there is


def test_a_zombie_whose_name_holds_a_parenthesis_counts_as_gone(tmp_path):
    """/proc/PID/stat puts the name in parentheses and the name may hold ") S": the state
    is the field after the last ")", not after the first or the second."""
    from mlpx import runs

    named = tmp_path / "x) S (y) R"  # the name a process gets from the file it runs
    named.symlink_to(shutil.which("true"))
    child = subprocess.Popen([str(named)])
    wait_for_zombie(child.pid)
    assert b"(x) S (y) R)" in Path(f"/proc/{child.pid}/stat").read_bytes()
    assert not runs.pid_alive(child.pid)
    child.wait()


def test_a_run_without_its_files_reads_as_crashed_with_no_history(tmp_path):
    from mlpx.runs import run_status

    run = RunDir(tmp_path)
    assert run_status(None) == run_status({}) == "crashed"
    assert run_status({"name": "x", "epochs_completed": 2}) == "crashed"  # no status written
    assert run.read_metrics() == []
    run.truncate_steps(3)  # nothing to truncate: no error, no file
    assert list(tmp_path.iterdir()) == []
    # a line torn by a kill mid-write is skipped, the complete ones kept
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1}\n{"epoch": 2}\n{"epo')
    assert run.read_metrics() == [{"epoch": 1}, {"epoch": 2}]


def test_a_runs_dir_that_is_a_file_is_named_by_its_setting(tmp_path):
    (tmp_path / "runs").write_text("not a directory")
    with pytest.raises(RunDirError) as error:
        RunDir.create(tmp_path / "runs", "digits")
    assert str(error.value) == f"output.runs_dir: {tmp_path / 'runs'} exists and is not a directory"


def test_steps_csv_has_one_header_however_many_times_the_run_is_reopened(tmp_path):
    """A resume appends to the steps.csv the first process began: its header is written once,
    and the steps follow it in order."""
    for epoch, first_step in ((1, 1), (2, 3), (3, 5)):
        run = RunDir(tmp_path)  # each a new process's view of the run
        run.append_steps(epoch, first_step, np.array([0.5, 0.25]))
        run.close_logs()
    assert (tmp_path / "steps.csv").read_text() == (
        "step,epoch,loss\n1,1,0.5\n2,1,0.25\n3,2,0.5\n4,2,0.25\n5,3,0.5\n6,3,0.25\n"
    )
