"""`mlpx sweep` end to end: the sweep directory, failing trials, kill and resume, Dask."""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import matplotlib.image as mpimg
import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, Cli, read_json

from mlpx.config import parse_yaml
from mlpx.errors import GroupError, MlpxError
from mlpx.groups import executors
from mlpx.groups.executors import (
    ExecutorOptions,
    LocalExecutor,
    TrialOutcome,
    TrialTask,
    _Job,
    run_trial,
    run_trial_files,
)
from mlpx.groups.plan import SweepPlan, load_plan, split_values, value_label, value_slug
from mlpx.groups.runner import resume_group
from mlpx.runs import pid_alive

QUICK = ("-s", "train.epochs=2", "-s", "output.plots=false")
METRICS = ("final_val_acc", "best_val_acc", "final_val_loss", "best_val_loss")


def read_results(sweep_dir: Path) -> list[dict]:
    with open(sweep_dir / "results.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def only_sweep(runs_dir: Path) -> Path:
    (sweep_dir,) = runs_dir.glob("sweep-*")
    return sweep_dir


@pytest.fixture(scope="module")
def lr_sweep(tmp_path_factory) -> tuple[Path, str]:
    """3 learning rates x 2 seeds on digits, 2 epochs, two local processes at a time."""
    cli = Cli(tmp_path_factory.mktemp("lr") / "runs")
    args = ("--values", "0.1,0.01,1e-3", "--seeds", "2", "--jobs", "2", *QUICK)
    result = cli("sweep", "lr", *args, "--runs-dir", cli.runs_dir)
    return only_sweep(cli.runs_dir), result.output


def test_sweep_writes_every_file_and_its_numbers_are_the_trials(lr_sweep, cli):
    sweep_dir, output = lr_sweep
    assert sweep_dir.name.startswith("sweep-lr-")
    plan = yaml.safe_load((sweep_dir / "sweep.yaml").read_text())
    assert plan["param"] == "lr" and plan["path"] == "optimizer.lr"
    assert plan["values"] == [0.1, 0.01, 0.001] and plan["seeds"] == [0, 1]
    assert plan["base"]["train"]["epochs"] == 2 and plan["base"]["optimizer"]["name"] == "adam"
    names = [f"{v}-seed{s}" for v in ("0.1", "0.01", "0.001") for s in (0, 1)]
    assert sorted(p.name for p in (sweep_dir / "trials").iterdir()) == sorted(names)

    rows = read_results(sweep_dir)
    assert [(r["value"], r["seed"], r["trial"]) for r in rows] == [
        (n.split("-seed")[0], n[-1], n) for n in names
    ]
    for row in rows:
        trial = sweep_dir / "trials" / row["trial"]
        summary = read_json(trial / "summary.json")
        config = yaml.safe_load((trial / "config.yaml").read_text())
        assert row["status"] == summary["status"] == "completed" and row["error"] == ""
        assert config["optimizer"]["lr"] == float(row["value"])
        assert config["seed"] == int(row["seed"])
        assert float(row["final_val_acc"]) == summary["final"]["val_acc"]
        assert float(row["final_val_loss"]) == summary["final"]["val_loss"]
        assert float(row["best_val_acc"]) == summary["best_val_acc"]
        assert float(row["best_val_loss"]) == summary["best_val_loss"]
        assert float(row["seconds"]) == summary["seconds"]
        assert float(row["wall_seconds"]) >= summary["seconds"]
        assert {"metrics.jsonl", "steps.csv", "model.pt", "env.json"} <= {
            p.name for p in trial.iterdir()
        }

    # a trial is the run `mlpx train` makes of its config.yaml (with one thread, as
    # parallel trials run: more threads may sum in another order, in the last bits); the
    # trials trained as stacks, whose batched products round in float32's last bits too
    trial = sweep_dir / "trials" / "0.01-seed1"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cli.train(trial / "config.yaml")
    finally:
        torch.set_num_threads(threads)
    alone = read_json(cli.last_run() / "summary.json")
    assert alone["final"] == pytest.approx(read_json(trial / "summary.json")["final"], rel=1e-4)

    # the table ranks values by mean ± std of the final validation accuracy over seeds
    accs = {
        v: [float(r["final_val_acc"]) for r in rows if r["value"] == v]
        for v in ("0.1", "0.01", "0.001")
    }
    best = max(accs, key=lambda v: statistics.fmean(accs[v]))
    mean, std = statistics.fmean(accs[best]), statistics.stdev(accs[best])
    assert f"{best} ★" in output and f"{mean:.4f} ± {std:.4f}" in output

    for png in ("sweep", "curves"):
        image = mpimg.imread(sweep_dir / "plots" / f"{png}.png")
        assert image.shape[0] > 300 and image.shape[1] > 600


def test_failing_trials_are_recorded_and_the_others_complete(cli, tmp_path):
    # sgd at lr 1e6 overflows to NaN in the first epoch
    args = ("--values", "0.05,1e6", "-s", "optimizer.name=sgd", *QUICK)
    result = cli("sweep", "lr", *args, "--runs-dir", cli.runs_dir, expect=1)
    rows = {r["value"]: r for r in read_results(only_sweep(cli.runs_dir))}
    assert rows["0.05"]["status"] == "completed"
    assert rows["1e+06"]["status"] == "diverged" and "diverged" in rows["1e+06"]["error"]
    assert "1 of 2 trial(s) did not complete: 1e+06-seed0 (diverged)" in result.output
    sweep = only_sweep(cli.runs_dir)
    assert (sweep / "plots" / "sweep.png").is_file()
    # where the results are comes before why some are missing, as after a sweep that passed
    lines = result.output.strip().splitlines()
    assert lines[-2:] == [
        f"results: {sweep / 'results.csv'}, plots: {sweep / 'plots'}",
        f"error: 1 of 2 trial(s) did not complete: 1e+06-seed0 (diverged); see "
        f"{sweep / 'results.csv'}",
    ]

    # a data file that is missing only for one value raises at run time, in its trial
    good = tmp_path / "good.npz"
    rng = np.random.default_rng(0)
    np.savez(good, data_x=rng.normal(size=(120, 5)), data_y=np.arange(120) % 3)
    runs = tmp_path / "npz-runs"
    args = ("--values", f"{good},{tmp_path / 'missing.npz'}", "-s", "data.name=npz")
    result = cli("sweep", "data.path", *args, "-s", f"data.path={good}", *QUICK,
                 "--runs-dir", runs, expect=1)  # fmt: skip
    first, second = read_results(only_sweep(runs))
    assert first["status"] == "completed" and float(first["final_val_acc"]) > 0
    assert second["status"] == "failed" and "missing.npz: no such file" in second["error"]
    assert "missing.npz-seed0 (failed)" in result.output


def test_a_killed_sweep_resumes_only_its_unfinished_trials(cli, tmp_path):
    # epochs 2 ends first; then its neighbour's process is killed (like the OOM killer
    # would), then the sweep itself, while the third trial is still training
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "mlpx", "sweep", "epochs", "--values", "2,40,41"]
    command += ["--jobs", "2", "--executor", "process", "-s", "output.plots=false"]
    command += ["--runs-dir", str(runs)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    sweep = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
    try:
        sweep_dir = wait_for(lambda: next(runs.glob("sweep-*"), None))
        wait_for(lambda: [r["trial"] for r in read_results(sweep_dir)] == ["2-seed0"])
        victim = wait_for(lambda: running_pid(sweep_dir / "trials" / "40-seed0"))
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(read_results(sweep_dir)) == 2)
        orphan = wait_for(lambda: running_pid(sweep_dir / "trials" / "41-seed0"))
    finally:
        sweep.kill()
        sweep.wait()
    wait_for(lambda: not pid_alive(orphan))  # trials die with their sweep

    done, killed = read_results(sweep_dir)
    assert done["status"] == "completed"
    assert killed["status"] == "killed" and "SIGKILL" in killed["error"]
    finished = sweep_dir / "trials" / "2-seed0"
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in finished.rglob("*")}

    dry = cli("sweep", "--resume", sweep_dir, "--dry-run").output
    assert "40-seed0" in dry and "41-seed0" in dry and "2-seed0" not in dry
    assert "--values" in cli("sweep", "--resume", sweep_dir, "--values", "3", expect=2).output

    cli("sweep", "epochs", "--resume", sweep_dir, "--jobs", "2", "--executor", "process")
    rows = read_results(sweep_dir)
    assert [(r["trial"], r["status"]) for r in rows] == [
        ("2-seed0", "completed"),
        ("40-seed0", "completed"),
        ("41-seed0", "completed"),
    ]
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in finished.rglob("*")} == before
    trials = sweep_dir / "trials"
    assert (trials / ".40-seed0.attempt-1").is_dir() and (trials / ".41-seed0.attempt-1").is_dir()
    for row in rows[1:]:
        summary = read_json(trials / row["trial"] / "summary.json")
        assert summary["epochs_completed"] == int(row["value"])
        assert float(row["final_val_acc"]) == summary["final"]["val_acc"]
    assert not (sweep_dir / "sweep.lock").exists()


def wait_for(condition, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except (OSError, ValueError):
            value = None
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def running_pid(trial: Path) -> int | None:
    try:
        summary = read_json(trial / "summary.json")
    except (OSError, ValueError):
        return None
    return summary["pid"] if summary.get("status") == "running" else None


def test_dask_cluster_gives_the_local_results(lr_sweep, cli, monkeypatch):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the workers import mlpx from here
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        args = ("--values", "0.1,0.01,1e-3", "--seeds", "2", *QUICK)
        sched = ("--executor", "dask", "--scheduler", cluster.scheduler_address)
        cli("sweep", "lr", *args, *sched, "--runs-dir", cli.runs_dir)
    finally:
        cluster.close()
    sweep_dir = only_sweep(cli.runs_dir)
    columns = ("value", "seed", "status", *METRICS, "trial")
    local = [[r[c] for c in columns] for r in read_results(lr_sweep[0])]
    assert [[r[c] for c in columns] for r in read_results(sweep_dir)] == local
    for row in read_results(sweep_dir):
        trial = sweep_dir / "trials" / row["trial"]
        assert (
            float(row["final_val_loss"]) == read_json(trial / "summary.json")["final"]["val_loss"]
        )
        assert len((trial / "metrics.jsonl").read_text().splitlines()) == 2


def test_dask_errors_are_one_line(cli, monkeypatch):
    start = time.monotonic()
    sched = ("--executor", "dask", "--scheduler", "tcp://127.0.0.1:9")
    result = cli("sweep", "lr", *sched, "--runs-dir", cli.runs_dir, expect=2)
    assert time.monotonic() - start < 30
    (line,) = result.output.strip().splitlines()
    # the reason is the first line of what distributed raised (its wording is its own)
    wanted = "error: --scheduler tcp://127.0.0.1:9: cannot reach a Dask scheduler within 3 s ("
    assert line.startswith(wanted) and line.endswith(")") and "127.0.0.1:9" in line[len(wanted) :]
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if dask were not installed
    result = cli("sweep", "lr", *sched, "--runs-dir", cli.runs_dir, expect=2)
    assert result.output == (
        "error: --executor dask needs dask.distributed; install it with: pip install 'mlpx[dask]'\n"
    )
    assert not cli.runs_dir.exists()


@pytest.mark.parametrize(
    "raised, reason",
    [
        (OSError("Timed out trying to connect\nsecond line"), "Timed out trying to connect"),
        (TimeoutError(), "TimeoutError"),  # no message: its type
        (ValueError("  \n"), "ValueError"),
    ],
)
def test_a_scheduler_that_cannot_be_reached_is_named_with_the_first_line_of_why(
    monkeypatch, raised, reason
):
    distributed = pytest.importorskip("distributed")

    def refuse(address, **kwargs):
        raise raised

    monkeypatch.setattr(distributed, "Client", refuse)
    with pytest.raises(GroupError) as error:
        executors.DaskExecutor.connect("tcp://example:8786", timeout=0.5)
    assert str(error.value) == (
        f"--scheduler tcp://example:8786: cannot reach a Dask scheduler within 0.5 s ({reason})"
    )


def test_a_dask_executor_leaves_the_processes_default_dask_client_alone():
    """mlpx used as a library beside the user's own Dask code: its client must not become
    the default one that dask.compute and get_client pick while a group runs."""
    distributed = pytest.importorskip("distributed")
    import dask

    scheduler = dask.config.get("scheduler", None)
    with distributed.LocalCluster(processes=False, n_workers=1, dashboard_address=":0") as cluster:
        executor = executors.DaskExecutor.connect(cluster.scheduler_address)
        try:
            with pytest.raises(ValueError, match="No clients found"):
                distributed.default_client()
            assert dask.config.get("scheduler", None) == scheduler
        finally:
            executor.close()


def test_ctrl_c_while_dask_trials_run_cancels_them_on_the_cluster(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")

    class Client:  # what DaskExecutor.run uses of a distributed.Client
        loop = None

        def __init__(self):
            self.submitted, self.cancelled = [], []

        def submit(self, function, unit, key, pure):
            self.submitted.append(key)
            return key

        def cancel(self, futures):
            self.cancelled.append(list(futures))

    def ctrl_c(futures, loop):
        raise KeyboardInterrupt
        yield  # a generator, as distributed's as_completed is iterated

    monkeypatch.setattr(distributed, "as_completed", ctrl_c)
    client = Client()
    other = {"backend": "torch", "model": {"hidden": [8]}}  # of another shape: no stack
    tasks = [TrialTask("a", {"backend": "torch"}), TrialTask("b", other)]
    with pytest.raises(KeyboardInterrupt):
        executors.DaskExecutor(client).run(tasks, tmp_path, lambda task, outcome: None)
    assert len(client.submitted) == 2
    assert client.cancelled == [client.submitted]


def test_dry_run_prints_the_trials_and_writes_nothing(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("sweep", "hidden", "--values", "16,64", "--seeds", "2", "--dry-run",
                 "-s", "model.hidden=[32,32]")  # fmt: skip
    for name, hidden, seed in (("16-seed0", 16, 0), ("16-seed1", 16, 1), ("64-seed1", 64, 1)):
        assert f"model.hidden=[{hidden}, {hidden}] seed={seed}" in result.output
        assert name in result.output
    assert "4 trial(s) (2 value(s) x 2 seed(s))" in result.output
    result = cli("sweep", "model.hidden", "--values", "[64],[64,64]", "--dry-run")
    assert "64-seed0" in result.output and "64-64-seed0" in result.output
    result = cli("sweep", "hidden", "--values", "[32,16],48", "-s", "model.hidden=[8,8]",
                 "--dry-run")  # fmt: skip
    assert "model.hidden=[32, 16] seed=0" in result.output
    assert "model.hidden=[48, 48] seed=0" in result.output
    result = cli("sweep", "depth", "--values", "1,3", "-s", "model.hidden=[48]", "--dry-run")
    assert "model.hidden=[48, 48, 48] seed=0" in result.output
    result = cli("sweep", "lr", "--dry-run")
    assert all(f"{v}-seed0" in result.output for v in ("0.1", "0.01", "0.001", "0.0001", "1e-05"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lrr"], "unknown sweep parameter 'lrr'; did you mean 'lr'?"),
        (["model"], "model is a config section; sweep one of its keys"),
        (["seed"], "--seeds N"),
        (["optimizer.eps"], "give the values to sweep with --values"),
        (["lr", "--values", "0.1,abc"], "lr value abc: optimizer.lr: 'abc' is not allowed"),
        (["lr", "--values", "0.1,,0.2"], "an empty item"),
        (["lr", "--values", "[0.1,0.2"], "--values '[0.1,0.2': unbalanced brackets or quotes"),
        (["lr", "--values", "'0.1,0.2"], '--values "\'0.1,0.2": unbalanced brackets or quotes'),
        (
            ["lr", "--values", " "],
            "--values is empty; give comma-separated values, e.g. --values 0.1,0.01",
        ),
        (["lr", "--values", "0.1,0.1"], "0.1 appears twice"),
        (["optimizer", "--values", "adam,sgdd"], "expected one of sgd, momentum, nesterov"),
        (["dropout"], "dropout applies to model.kind complex only"),
        (["hidden", "--values", "0"], "hidden value 0: expected a width such as 64"),
        (["depth", "--values", "2,x"], "depth value x: expected a number of hidden layers"),
        (["lr", "--seeds", "0"], "--seeds 0: expected a number of seeds >= 1"),
        (["lr", "--jobs", "0"], "--jobs 0: expected a number of parallel trials >= 1"),
        (["lr", "--executor", "dask"], "--executor dask needs --scheduler"),
        (["lr", "--executor", "ray"], "--executor ray: expected local, process, stacked or dask"),
        (["lr", "--resume", "nowhere"], "no sweep.yaml there"),
    ],
)
def test_invalid_sweeps_exit_2_with_one_line(cli, args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("sweep", *args, expect=2)
    (line,) = result.output.strip().splitlines()
    assert line.startswith("error:") and message in line
    assert list(tmp_path.iterdir()) == []


def test_values_split_at_top_level_commas_and_name_safe_directories():
    assert split_values("[64],[64, 64], adam") == ["[64]", "[64, 64]", "adam"]
    assert split_values("'a,b',{x: 1, y: 2}") == ["'a,b'", "{x: 1, y: 2}"]
    assert [value_slug(v) for v in ([64, 64], [], 1e-5, 0.1, "a/b c", None, True)] == [
        "64-64",
        "empty",
        "1e-05",
        "0.1",
        "a_b_c",
        "null",
        "true",
    ]


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("[[64, 64], [32]],[16]", ["[[64, 64], [32]]", "[16]"]),  # nested: depth counts
        ("{a: [1, 2]},XX", ["{a: [1, 2]}", "XX"]),  # letters are no quote or bracket
        ("\"X,]\",'[,X'", ['"X,]"', "'[,X'"]),  # brackets inside quotes do not count
        ("Xavier , x", ["Xavier", "x"]),
    ],
)
def test_values_split_only_at_commas_outside_every_bracket_and_quote(text, items):
    assert split_values(text) == items


@pytest.mark.parametrize("text", ["[64", "{a: 1", "'adam", '"adam,sgd', "[[64],[32]"])
def test_values_with_an_unclosed_bracket_or_quote_are_one_error(text):
    with pytest.raises(GroupError, match="unbalanced brackets or quotes"):
        split_values(text)


@pytest.mark.parametrize(
    ("values", "line"),
    [
        (" ", "--values is empty; give comma-separated values, e.g. --values 0.1,0.01"),
        ("0.1,,0.01", "--values '0.1,,0.01': an empty item; separate values by one comma"),
        (
            "0.1,a: b: c",
            "--values item 'a: b: c': invalid YAML (line 1, column 5): "
            "mapping values are not allowed here",
        ),
    ],
)
def test_unreadable_values_are_the_whole_line_naming_the_item(cli, values, line, tmp_path):
    result = cli("sweep", "lr", "--values", values, "--runs-dir", tmp_path / "runs", expect=2)
    assert result.output.strip() == f"error: {line}"
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("value", "label"),
    [(1e6, "1e+06"), (0.1, "0.1"), (1 / 3, "0.3333333333333333"), (3, "3"), ([64], "[64]")],
)
def test_a_value_is_labelled_as_yaml_reads_it_back_and_as_short_as_that_allows(value, label):
    assert value_label(value) == label
    assert parse_yaml(label, "a value") == value  # as mlpx reads a config


@pytest.mark.parametrize(
    ("value", "slug"),
    [
        ("", "value"),  # nothing safe is left: a placeholder
        ("  ", "value"),
        ("__a__", "a"),
        ("X_a_X", "X_a_X"),
        ("A-b.C+1", "A-b.C+1"),  # letters of either case, digits and ._+- are kept
        ("y" * 70 + "END", "y" * 61 + "END"),  # the last 64 characters
        (".hidden", "_.hidden"),  # never a hidden directory, nor . or ..
        ("../etc", "_.._etc"),
        ("XX.XXa", "XX.XXa"),
    ],
)
def test_a_value_slug_is_safe_as_one_directory_name(value, slug):
    assert value_slug(value) == slug


def test_runs_lists_a_sweep_as_one_row(lr_sweep, cli):
    sweep_dir, _ = lr_sweep
    table = cli("runs", sweep_dir.parent).output
    assert sweep_dir.name in table and "sweep lr 6/6" in table
    # the trial with the lowest validation loss, at its best epoch
    rows = read_results(sweep_dir)
    best = float(min(rows, key=lambda r: float(r["best_val_loss"]))["best_val_acc"])
    assert f"{best:.4f}" in table
    # and its trials are runs of their own
    assert "0.1-seed0" in cli("runs", sweep_dir / "trials").output


class InlineExecutor:
    """Runs each trial in this process, one after the other: an executor in one entry."""

    takes: dict[str, str] = {}
    needs: tuple[str, ...] = ()
    threads = None

    @classmethod
    def open(cls, options, backend):
        return cls()

    def run(self, tasks, members_dir, on_outcome):
        from mlpx.groups.executors import run_trial

        for task in tasks:
            on_outcome(task, run_trial(task, members_dir / task.name))

    def close(self):
        pass


def test_an_executor_is_one_registry_entry(cli, monkeypatch):
    from mlpx.groups import executors

    monkeypatch.setitem(executors.EXECUTORS, "inline", InlineExecutor)
    result = cli("sweep", "lr", "--values", "0.1,0.01", "--executor", "inline", *QUICK,
                 "--runs-dir", cli.runs_dir)  # fmt: skip
    rows = read_results(only_sweep(cli.runs_dir))
    assert [(r["trial"], r["status"]) for r in rows] == [
        ("0.1-seed0", "completed"),
        ("0.01-seed0", "completed"),
    ]
    assert "0.01 ★" in result.output or "0.1 ★" in result.output
    line = cli("sweep", "lr", "--executor", "ray", expect=2).output.strip()
    assert line == "error: --executor ray: expected local, process, stacked, dask or inline"
    line = cli("sweep", "lr", "--executor", "inline", "--jobs", "2", expect=2).output.strip()
    assert line == "error: --jobs is for --executor local, process or stacked, not inline"
    # an option one executor takes names it alone
    line = cli("sweep", "lr", "--scheduler", "tcp://h:8786", expect=2).output.strip()
    assert line == "error: --scheduler is for --executor dask, not local"


# --- the local executor's parts, in this process (where mutation testing sees them) --------

FORK = multiprocessing.get_context("fork")
REPORTED = TrialOutcome("completed", {"status": "completed"}, None, 1.5)


def _trial(behaviour: str, ready, conn) -> None:
    """A stand-in for a trial's process: ``report`` sends trial a's outcome; then ``kill``
    dies by SIGKILL, ``exit`` with code 3, ``on ctrl-c`` reports trial a interrupted when a
    SIGINT comes, ``ignores`` ignores SIGINT; the last two wait."""
    # its own SIGINT handling, whatever the process it was forked from had (mutmut's has its own)
    signal.signal(
        signal.SIGINT, signal.SIG_IGN if behaviour == "ignores" else signal.default_int_handler
    )
    try:  # from before it is ready: a SIGINT finds it here however slow the machine is
        if behaviour in ("report", "report, kill"):
            conn.send(("a", REPORTED))
        ready.set()
        if behaviour.endswith("kill"):
            os.kill(os.getpid(), signal.SIGKILL)
        if behaviour.endswith(("exit", "report")):
            os._exit(3 if behaviour.endswith("exit") else 0)
        time.sleep(60)
    except KeyboardInterrupt:
        conn.send(("a", TrialOutcome("interrupted", None, "interrupted after 1 epoch", 0.1)))
        os._exit(0)
    os._exit(0)


def start_job(behaviour: str, names: list[str], members_dir: Path) -> _Job:
    """A :class:`_Job` of ``names`` whose process behaves so, once it is ready."""
    parent, child = FORK.Pipe()
    ready = FORK.Event()
    process = FORK.Process(target=_trial, args=(behaviour, ready, child), daemon=True)
    process.start()
    child.close()
    assert ready.wait(60)
    tasks = [TrialTask(name, {}) for name in names]
    return _Job(tasks, process, parent, members_dir, time.perf_counter())


def test_a_trial_process_that_dies_unreported_is_killed_or_failed_with_why(tmp_path):
    (tmp_path / "b").mkdir()  # what trial b had written when its process died
    (tmp_path / "b" / "summary.json").write_text('{"status": "running", "epochs_completed": 3}')
    job = start_job("report, kill", ["a", "b"], tmp_path)
    job.process.join()
    assert [(t.name, o) for t, o in job.arrived()] == [("a", REPORTED)]
    ((task, outcome),) = job.finish()  # a was taken already
    assert task.name == "b" and 0 < outcome.seconds <= time.perf_counter() - job.started
    assert (outcome.status, outcome.error) == ("killed", "trial process killed by SIGKILL")
    assert outcome.summary == {"status": "running", "epochs_completed": 3}

    job = start_job("exit", ["c"], tmp_path)
    ((task, outcome),) = job.finish()
    assert (outcome.status, outcome.summary, outcome.error) == (
        "failed",
        None,
        "trial process exited with code 3 before reporting",
    )
    job = start_job("exit", ["b"], tmp_path)  # b's summary.json is kept, as when killed
    ((task, outcome),) = job.finish()
    assert outcome.summary == {"status": "running", "epochs_completed": 3}
    assert outcome.status == "failed" and 0 < outcome.seconds <= time.perf_counter() - job.started
    job = start_job("report", ["a", "c"], tmp_path)  # a stack's process ended after a, code 0
    (a, outcome_a), (c, outcome) = job.finish()
    assert (a.name, outcome_a) == ("a", REPORTED)  # not taken before
    assert (c.name, outcome.status, outcome.summary, outcome.error) == (
        "c",
        "failed",
        None,
        "trial process exited with code 0 before reporting",
    )


def test_ctrl_c_lets_trials_report_then_nudges_then_kills_them(tmp_path, monkeypatch):
    # a trial that stops when nudged has all the second grace to report (here 30 s; it takes
    # a fraction of one, more on a busy machine): _stop returns as soon as it has ended
    monkeypatch.setattr(executors, "STOP_GRACE", ((0.5, True), (30.0, False)))
    jobs = [
        start_job("report", ["a"], tmp_path),  # ended as Ctrl-C came, its outcome unread
        start_job("on ctrl-c", ["a"], tmp_path),  # stops when the nudge's SIGINT comes
        start_job("exit", ["c"], tmp_path),  # ended unreported (a crash as it stopped)
    ]
    jobs[0].process.join()
    ended = []
    started = time.monotonic()
    LocalExecutor._stop(jobs, lambda task, outcome: ended.append((task.name, outcome)))
    assert 0.5 <= time.monotonic() - started < 30
    interrupted = TrialOutcome("interrupted", None, "interrupted after 1 epoch", 0.1)
    assert ended[:2] == [("a", REPORTED), ("a", interrupted)]
    name, outcome = ended[2]  # failed as Ctrl-C stopped the group: interrupted
    assert (name, outcome.status, outcome.error) == ("c", "interrupted", "stopped by Ctrl-C")
    assert [job.process.exitcode for job in jobs] == [0, 0, 3]
    # one that ignores the nudge is killed when both graces are over; one whose process
    # ended just before its nudge (ProcessLookupError) is no error
    monkeypatch.setattr(executors, "STOP_GRACE", ((0.5, True), (1.0, False)))
    jobs = [start_job("ignores", ["z"], tmp_path), start_job("ignores", ["y"], tmp_path)]
    kill = os.kill

    def ended_before(pid, sig):
        if pid == jobs[1].process.pid and sig == signal.SIGINT:
            raise ProcessLookupError(3, "No such process")
        kill(pid, sig)

    monkeypatch.setattr(os, "kill", ended_before)
    ended, started = [], time.monotonic()
    LocalExecutor._stop(jobs, lambda task, outcome: ended.append((task.name, outcome)))
    assert 1.5 <= time.monotonic() - started < 30
    for (name, outcome), expected in zip(ended, ("z", "y"), strict=True):
        assert (name, outcome.status, outcome.error) == (
            expected,
            "interrupted",
            "stopped by Ctrl-C",
        )
    assert [job.process.exitcode for job in jobs] == [-signal.SIGKILL] * 2


def test_run_trial_files_returns_the_files_a_trial_writes_in_its_directory(tmp_path):
    config = {"backend": "numpy", "model": {"hidden": [8]}, "train": {"epochs": 1}}
    config |= {"output": {"plots": False}}
    tasks = [TrialTask("a", config), TrialTask("b", config | {"seed": 1})]
    for chosen in (tasks[:1], tasks):  # one trial, and two as a stack
        returned = run_trial_files(chosen)
        assert [name for name, _, _ in returned] == [task.name for task in chosen]
        for task, (_, outcome, files) in zip(chosen, returned, strict=True):
            local = tmp_path / f"{len(chosen)}-{task.name}"
            assert run_trial(task, local).status == outcome.status == "completed"
            written = [p.relative_to(local).as_posix() for p in sorted(local.rglob("*"))]
            assert list(files) == [name for name in written if (local / name).is_file()]
            assert files["config.yaml"] == (local / "config.yaml").read_bytes()
            assert json.loads(files["summary.json"])["status"] == "completed"
            assert outcome.summary == json.loads(files["summary.json"])


def test_ctrl_c_as_a_group_starts_returns_what_had_finished_as_interrupted(lr_sweep, tmp_path):
    sweep_dir = Path(shutil.copytree(lr_sweep[0], tmp_path / "sweep"))
    plan = load_plan(sweep_dir, SweepPlan)

    class CtrlCAtStart:
        def on_start(self, *args):
            raise KeyboardInterrupt

    result = resume_group(sweep_dir, plan, ExecutorOptions(jobs=1), CtrlCAtStart())
    assert result.interrupted and result.directory == sweep_dir and result.plan is plan
    rows = read_results(sweep_dir)
    assert [r.trial.name for r in result.results] == [row["trial"] for row in rows]
    assert [r.status for r in result.results] == ["completed"] * 6
    assert not (sweep_dir / "sweep.lock").exists()


def test_a_dask_task_lost_with_its_worker_is_killed_and_one_that_raised_failed(
    tmp_path, monkeypatch
):
    """What ``future.result()`` raises for a trial that never returned: KilledWorker when its
    worker died (the task is then lost), the task's own error otherwise."""
    distributed = pytest.importorskip("distributed")

    def lost(tasks):
        if tasks[0].name == "a":
            worker = SimpleNamespace(address="tcp://10.0.0.7:40000")  # its WorkerState
            raise distributed.KilledWorker("mlpx-trial-a", worker, 3)
        raise RuntimeError("unpicklable result")

    monkeypatch.setattr(executors, "run_trial_files", lost)
    ended = {}
    with distributed.Client(processes=False, n_workers=1, dashboard_address=":0") as client:
        other = {"backend": "torch", "model": {"hidden": [8]}}  # of another shape: no stack
        tasks = [TrialTask("a", {"backend": "torch"}), TrialTask("b", other)]
        executors.DaskExecutor(client).run(
            tasks, tmp_path, lambda task, outcome: ended.update({task.name: outcome})
        )
    assert (ended["a"].status, ended["a"].summary) == ("killed", None), ended["a"]
    assert (
        ended["a"].error.startswith("KilledWorker: ") and "tcp://10.0.0.7:40000" in ended["a"].error
    )
    assert ended["b"] == TrialOutcome("failed", None, "RuntimeError: unpicklable result", 0.0)
    assert not any(tmp_path.iterdir())  # no files came back, none are written


def test_two_groups_on_one_dask_cluster_get_their_own_trials_back(tmp_path, monkeypatch):
    """Trials of two groups share names (lr sweeps both have 0.1-seed0); on one cluster at
    one time, each group must get its own trial's result, not the other's under its key."""
    distributed = pytest.importorskip("distributed")

    def slow_trial(tasks):
        time.sleep(1.0)  # both groups' tasks are on the cluster at once
        lr = tasks[0].config["optimizer"]["lr"]
        return [(tasks[0].name, TrialOutcome("completed", {"lr": lr}, None, 1.0), {})]

    monkeypatch.setattr(executors, "run_trial_files", slow_trial)
    ended: dict[float, TrialOutcome] = {}
    with distributed.Client(processes=False, n_workers=2, dashboard_address=":0") as client:

        def group(lr: float) -> None:
            task = TrialTask("0.1-seed0", {"backend": "torch", "optimizer": {"lr": lr}})
            executors.DaskExecutor(client).run(
                [task], tmp_path / str(lr), lambda t, outcome: ended.update({lr: outcome})
            )

        threads = [threading.Thread(target=group, args=(lr,)) for lr in (0.1, 0.5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert {lr: outcome.summary for lr, outcome in ended.items()} == {
        0.1: {"lr": 0.1},
        0.5: {"lr": 0.5},
    }


def test_a_trial_its_dask_stack_did_not_report_is_failed_with_why(tmp_path, monkeypatch):
    """A stack's task that ends without one of its trials (its worker stopped the stack
    after a chunk) fails that trial with why, and keeps the others' results."""
    distributed = pytest.importorskip("distributed")

    def first_only(tasks):
        assert [task.name for task in tasks] == ["a", "b"]  # one stack of both
        return [("a", TrialOutcome("completed", {"lr": 0.1}, None, 1.0), {"x.txt": b"a"})]

    monkeypatch.setattr(executors, "run_trial_files", first_only)
    config = {"backend": "numpy", "model": {"hidden": [8]}, "train": {"epochs": 1}}
    tasks = [TrialTask("a", config), TrialTask("b", config | {"seed": 1})]
    ended = {}
    with distributed.Client(processes=False, n_workers=1, dashboard_address=":0") as client:
        executors.DaskExecutor(client).run(
            tasks, tmp_path, lambda task, outcome: ended.update({task.name: outcome})
        )
    assert ended == {
        "a": TrialOutcome("completed", {"lr": 0.1}, None, 1.0),
        "b": TrialOutcome("failed", None, "its stack ended before the trial did", 0.0),
    }
    assert (tmp_path / "a" / "x.txt").read_bytes() == b"a"
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


def test_a_trials_wall_time_is_read_back_from_results_csv_or_none(tmp_path):
    """A resumed group keeps a finished trial's wall time from results.csv; a results.csv
    that is missing, damaged or without the trial's time gives None (it is then unknown)."""
    from mlpx.groups.plan import Trial
    from mlpx.groups.results import recorded_wall_seconds

    trial = Trial("0.1-seed0", 0.1, 0, {"optimizer.lr": 0.1})
    results = tmp_path / "results.csv"
    assert recorded_wall_seconds(tmp_path, trial) is None  # no results.csv yet
    rows = "trial,wall_seconds\n0.01-seed0,9.5\n0.1-seed1,\n0.1-seed0,3.25\n"
    results.write_text(rows)
    assert recorded_wall_seconds(tmp_path, trial) == 3.25
    assert recorded_wall_seconds(tmp_path, Trial("0.1-seed1", 0.1, 1, {})) is None  # empty
    for damaged in (
        "trial,wall_seconds\n0.1-seed0,3.2.5\n",  # not a number
        "trial,wall_seconds\n0.1-seed0," + "9" * 200_000 + "\n",  # past csv's field limit
        b"\xff\xfe not text",  # not UTF-8
    ):
        if isinstance(damaged, bytes):
            results.write_bytes(damaged)
        else:
            results.write_text(damaged)
        assert recorded_wall_seconds(tmp_path, trial) is None
    results.unlink()
    results.mkdir()  # a directory in its place: an OSError
    assert recorded_wall_seconds(tmp_path, trial) is None


def test_a_group_runs_in_one_process_at_a_time(tmp_path, monkeypatch):
    """The group's lock file names its holder: another host's or a live process's lock is
    refused with one line and kept; a dead process's is taken over."""
    from mlpx.groups import runner

    lock = tmp_path / "sweep.lock"
    here = socket.gethostname()
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere"}))
    with pytest.raises(GroupError) as error, runner._group_lock(tmp_path, "sweep.lock"):
        pass
    assert str(error.value) == (
        f"{tmp_path}: the group is running on elsewhere (sweep.lock); delete the lock if that "
        "process is gone"
    )
    holder = live_process()
    try:
        lock.write_text(json.dumps({"pid": holder.pid, "host": here}))
        with pytest.raises(GroupError) as error, runner._group_lock(tmp_path, "sweep.lock"):
            pass
        assert str(error.value) == (
            f"{tmp_path}: the group is running in process {holder.pid} (sweep.lock); wait for "
            "it or stop it first"
        )
        assert json.loads(lock.read_text())["pid"] == holder.pid  # kept
    finally:
        holder.kill()
        holder.wait()
    before = time.time()
    with runner._group_lock(tmp_path, "sweep.lock"):  # its process is gone: taken over
        taken = json.loads(lock.read_text())
        assert (taken["pid"], taken["host"]) == (os.getpid(), here)
        assert set(taken) == {"pid", "host", "started"}
        assert before <= taken["started"] <= time.time()
        umask = os.umask(0)
        os.umask(umask)
        assert lock.stat().st_mode & 0o777 == 0o644 & ~umask  # readable, not executable
    assert not lock.exists()

    attempts = []

    def taken_each_time(path, *args):  # another process takes it again after each removal
        attempts.append(path)
        raise FileExistsError

    monkeypatch.setattr(runner, "os", SimpleNamespace(open=taken_each_time, **{
        flag: getattr(os, flag) for flag in ("O_CREAT", "O_EXCL", "O_WRONLY")
    }))  # fmt: skip
    with pytest.raises(GroupError) as error, runner._group_lock(tmp_path, "sweep.lock"):
        pass
    assert str(error.value) == f"{tmp_path}: cannot take sweep.lock"
    assert attempts == [lock] * 3  # three tries, then the line


def test_a_trials_row_takes_its_error_from_the_outcome_or_its_summary():
    from mlpx.groups.plan import Trial
    from mlpx.groups.results import TrialResult

    trial = Trial("10-seed0", 10.0, 0, {"optimizer.lr": 10.0})
    diverged = {"status": "diverged", "message": "the loss became nan in epoch 2", "seconds": 1.5}
    row = TrialResult.from_summary(trial, diverged)  # as a resume reads a finished trial back
    assert (row.status, row.error, row.seconds) == ("diverged", diverged["message"], 1.5)
    row = TrialResult.from_summary(trial, diverged, status="killed", error="killed by SIGKILL")
    assert (row.status, row.error) == ("killed", "killed by SIGKILL")  # the outcome's own
    done = {"status": "completed", "message": "a note", "final": {"val_loss": 0.5}}
    row = TrialResult.from_summary(trial, done, wall_seconds=2.0)
    assert (row.status, row.error, row.wall_seconds) == ("completed", None, 2.0)
    assert TrialResult.from_summary(trial, None).status == "failed"  # no summary.json


def test_a_trials_csv_row_holds_each_column_exactly_as_summary_json_has_it():
    from mlpx.groups.plan import Trial
    from mlpx.groups.results import COLUMNS, REGRESSION_COLUMNS, TrialResult

    trial = Trial("0.1-seed3", 0.1, 3, {"optimizer.lr": 0.1, "seed": 3})
    summary = {
        "status": "completed",
        "seconds": 1.5,
        "final": {"train_acc": 0.75, "val_acc": 2 / 3, "train_loss": 1, "val_loss": 0.1 + 0.2},
        "best_train_acc": 0.5,
        "best_val_acc": 0.625,
        "best_train_loss": 1.25,
        "best_val_loss": 0.25,
    }
    row = TrialResult.from_summary(trial, summary, wall_seconds=2.25).row()
    assert dict(zip(COLUMNS, row, strict=True)) == {
        "value": "0.1",
        "seed": "3",
        "status": "completed",
        "final_train_acc": "0.75",
        "final_val_acc": repr(2 / 3),
        "best_train_acc": "0.5",
        "best_val_acc": "0.625",
        "final_train_loss": "1.0",
        "final_val_loss": "0.30000000000000004",  # every digit summary.json has
        "best_train_loss": "1.25",
        "best_val_loss": "0.25",
        "test_acc": "",
        "test_loss": "",
        "seconds": "1.5",
        "wall_seconds": "2.25",
        "error": "",
        "trial": "0.1-seed3",
    }
    regression = {
        "status": "failed",
        "message": "boom",
        "final": {"val_r2": 0.5},
        "best_val_r2": 0.75,
    }
    result = TrialResult.from_summary(trial, regression)
    assert result.row((*REGRESSION_COLUMNS, "error", "wall_seconds")) == ["0.5", "0.75", "boom", ""]


@pytest.mark.parametrize(
    ("kind", "text", "why"),
    [
        ("sweep", "param: lr\n", "not a sweep plan written by mlpx (KeyError('trials'))"),
        ("sweep", "[1, 2]\n", "not a sweep plan written by mlpx (TypeError("),
        ("cv", "[1, 2]\n", "not a cross-validation config written by mlpx"),
        ("sweep", "param: [lr\n", "invalid YAML (line 2, column 1)"),
    ],
)
def test_a_damaged_plan_file_is_refused_naming_it(tmp_path, kind, text, why):
    from mlpx.groups.plan import CrossValPlan

    plan_kind = SweepPlan if kind == "sweep" else CrossValPlan
    path = tmp_path / plan_kind.plan_file
    path.write_text(text)
    with pytest.raises(MlpxError) as error:  # a GroupError, or the config's for bad YAML
        load_plan(tmp_path, plan_kind)
    assert str(error.value).startswith(f"{path}: {why}")


@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_a_group_opens_its_executor_for_its_backend(tmp_path, monkeypatch, backend):
    # the local executor's trial processes start from a server that imported the backend
    # (torch: seconds a trial would spend importing it again), so it must be the plan's
    from mlpx.groups import runner

    opened = []

    def open_executor(options, backend):
        opened.append(backend)
        raise GroupError("stop here")

    monkeypatch.setattr(runner, "open_executor", open_executor)
    plan = SweepPlan("lr", "optimizer.lr", [0.1], [0], {"backend": backend}, [])
    for start in (
        lambda: resume_group(tmp_path, plan, ExecutorOptions()),
        lambda: runner.run_group(plan, tmp_path, ExecutorOptions()),
    ):
        with pytest.raises(GroupError, match="stop here"):
            start()
    assert opened == [backend, backend]
    assert list(tmp_path.iterdir()) == []


def test_each_trial_records_the_command_that_ran_or_resumed_it(tmp_path, monkeypatch):
    from mlpx.config import build_config
    from mlpx.groups import runner
    from mlpx.groups.plan import plan_sweep

    commands = []

    class StandIn:  # an executor: every trial fails at once, having recorded its command
        threads = None

        def run(self, tasks, members_dir, on_outcome):
            for task in tasks:
                commands.append((task.name, task.command))
                on_outcome(task, TrialOutcome("failed", None, "stand-in", 0.0))

        def close(self):
            pass

    monkeypatch.setattr(runner, "open_executor", lambda options, backend: StandIn())
    plan = plan_sweep("lr", "0.1,0.01", build_config({"backend": "numpy"}))
    ran = ["mlpx", "sweep", "lr", "--values", "0.1,0.01"]
    result = runner.run_group(plan, tmp_path, ExecutorOptions(), command=ran)
    assert commands == [("0.1-seed0", ran), ("0.01-seed0", ran)]
    commands.clear()
    resumed = ["mlpx", "sweep", "--resume", str(result.directory)]
    resume_group(result.directory, plan, ExecutorOptions(), command=resumed)
    assert commands == [("0.1-seed0", resumed), ("0.01-seed0", resumed)]


def test_a_sweep_plan_reads_back_equal_to_the_plan_written(tmp_path):
    from mlpx.config import build_config
    from mlpx.groups.plan import plan_sweep

    plan = plan_sweep("hidden", "16,[8,4]", build_config({"backend": "numpy"}), seeds=2)
    directory = plan.create_dir(tmp_path)
    assert load_plan(directory, SweepPlan) == plan  # every field: param, path, values, ...
    assert (plan.param, plan.path) == ("hidden", "model.hidden")


def test_a_sweep_plan_is_read_back_as_utf_8_whatever_the_locale(tmp_path):
    """A resume under a locale of another encoding (here ASCII: the C locale with Python's
    UTF-8 mode off) reads the same plan back: sweep.yaml escapes what is not ASCII."""
    from mlpx.config import build_config
    from mlpx.groups.plan import plan_sweep

    base = build_config({"backend": "numpy", "data": {"name": "npz", "path": "/daten/übung.npz"}})
    directory = plan_sweep("lr", "0.1", base).create_dir(tmp_path)
    code = (
        "import sys; from pathlib import Path; from mlpx.groups.plan import SweepPlan, load_plan;"
        "print(ascii(load_plan(Path(sys.argv[1]), SweepPlan).base['data']['path']))"
    )
    ascii_locale = {"LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}
    env = os.environ | ascii_locale | {"PYTHONPATH": str(REPO)}
    read = subprocess.run([sys.executable, "-c", code, str(directory)], env=env,
                          capture_output=True, text=True)  # fmt: skip
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == ascii("/daten/übung.npz")


def test_sweep_yaml_reads_in_the_plans_order_not_alphabetically(tmp_path):
    """sweep.yaml reads top-down as people want it: what is swept, its values and seeds, the
    trials, then the base config in the order of a run's config.yaml."""
    from mlpx.config import build_config, dump_config
    from mlpx.groups.plan import plan_sweep

    base = build_config({"backend": "numpy"})
    text = (plan_sweep("lr", "0.1,0.01", base).create_dir(tmp_path) / "sweep.yaml").read_text()
    assert text.startswith("param: lr\npath: optimizer.lr\nvalues:\n- 0.1\n- 0.01\nseeds:\n")
    plan = yaml.safe_load(text)
    assert list(plan) == ["param", "path", "values", "seeds", "trials", "base"]
    assert [list(trial) for trial in plan["trials"]] == [["name", "value", "seed", "overrides"]] * 2
    assert list(plan["base"]) == list(yaml.safe_load(dump_config(base)))
    assert list(plan["base"])[:3] == ["name", "seed", "backend"]


def live_process() -> subprocess.Popen:
    """A live process of this host, standing in for another mlpx (kill and reap it)."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])


def still_written(trial: Path) -> subprocess.Popen:
    """A live process that summary.json says is writing ``trial`` (a group killed while the
    trial trained, its trial process left running)."""
    writer = live_process()
    trial.mkdir()
    summary = {"status": "running", "host": socket.gethostname(), "pid": writer.pid}
    (trial / "summary.json").write_text(json.dumps(summary))
    return writer


def test_a_trial_another_process_still_writes_is_waited_for_then_refused(tmp_path, monkeypatch):
    from mlpx.groups import runner

    now = [0.0]  # the wait's clock: 10 s of it pass at once

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setattr(runner, "time", SimpleNamespace(monotonic=lambda: now[0], sleep=sleep))
    trial = tmp_path / "0.1-seed0"
    writer = still_written(trial)
    try:
        with pytest.raises(GroupError) as error:
            runner._set_aside(trial)  # as a resume does with each unfinished trial
        assert str(error.value) == (
            f"{trial}: still being written by process {writer.pid}; stop it first"
        )
        assert 10 <= now[0] <= 10.5
        assert sorted(p.name for p in tmp_path.iterdir()) == ["0.1-seed0"]  # left as it is
    finally:
        writer.kill()
        writer.wait()


def test_a_trial_whose_writer_ends_while_waited_for_is_set_aside(tmp_path):
    from mlpx.groups import runner

    trial = tmp_path / "0.1-seed0"
    writer = still_written(trial)
    killed_at = []

    def kill() -> None:
        killed_at.append(time.monotonic())  # before the kill: the wait cannot end sooner
        writer.kill()
        writer.wait()

    stop = threading.Timer(0.3, kill)
    stop.start()
    try:
        runner._set_aside(trial)
        set_aside_at = time.monotonic()
        assert sorted(p.name for p in tmp_path.iterdir()) == [".0.1-seed0.attempt-1"]
    finally:
        stop.join()
    assert killed_at and set_aside_at >= killed_at[0]  # set aside once its writer had gone


def test_gathered_files_land_whole_in_the_trials_directory(tmp_path):
    """A Dask trial's files (relative name -> bytes) are written under a hidden name, an
    earlier attempt's leftovers removed first, then renamed into place."""
    stale = tmp_path / ".a.incoming"
    stale.mkdir()
    (stale / "from-a-gather-cut-short.txt").write_text("stale")
    files = {"config.yaml": b"seed: 0\n", "plots/deep/curves.png": b"png", "x/y.txt": b"y"}
    executors._write_files(tmp_path / "a", files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
    written = {
        p.relative_to(tmp_path / "a").as_posix(): p.read_bytes()
        for p in (tmp_path / "a").rglob("*")
        if p.is_file()
    }
    assert written == files
    executors._write_files(tmp_path / "b", {})  # a trial that returned nothing: no directory
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("name", ["/etc/passwd", "../outside.txt", "plots/../../up.txt"])
def test_a_gathered_file_named_outside_its_trial_is_refused(tmp_path, name):
    with pytest.raises(GroupError) as error:
        executors._write_files(tmp_path / "a", {"config.yaml": b"", name: b"x"})
    assert str(error.value) == f"trial a: a worker returned a bad file name {name!r}"
    assert not (tmp_path / "a").exists() and not (tmp_path.parent / "outside.txt").exists()


def test_a_dask_trials_summary_names_its_directory_in_the_group(tmp_path):
    """A worker trains in a temporary directory of its own; summary.json's run_dir (printed
    and kept) must name where the group wrote the trial, not that directory, gone since."""
    distributed = pytest.importorskip("distributed")
    config = {"backend": "numpy", "model": {"hidden": [8]}, "train": {"epochs": 1}}
    config |= {"output": {"plots": False}}
    tasks = [TrialTask("a", config), TrialTask("b", config | {"seed": 1})]
    ended = {}
    with distributed.Client(processes=False, n_workers=1, dashboard_address=":0") as client:
        executors.DaskExecutor(client).run(
            tasks, tmp_path, lambda task, outcome: ended.update({task.name: outcome})
        )
    for name in ("a", "b"):
        written = (tmp_path / name / "summary.json").read_text()
        summary = json.loads(written)
        assert summary["status"] == "completed" and summary["run_dir"] == str(tmp_path / name)
        assert ended[name].summary == summary
        assert written == json.dumps(summary, indent=2) + "\n"  # as mlpx writes it


def test_values_whose_directory_names_would_clash_get_their_position_appended():
    """A slug keeps a value's last 64 characters: names that differ only before them would
    share one directory, so each later one gets -v<its position in --values>."""
    from mlpx.config import build_config
    from mlpx.groups.plan import plan_sweep

    x = "x" * 70
    plan = plan_sweep("name", f"A{x},short,B{x},C{x}", build_config({"backend": "numpy"}))
    tail = "x" * 64
    assert [t.name for t in plan.trials] == [
        f"{tail}-seed0",
        "short-seed0",
        f"{tail}-v3-seed0",
        f"{tail}-v4-seed0",
    ]


def test_a_group_directory_is_named_by_its_start_time_under_a_writable_runs_dir(tmp_path):
    from datetime import datetime

    from mlpx.config import build_config
    from mlpx.errors import RunDirError
    from mlpx.groups.plan import plan_sweep

    plan = plan_sweep("lr", "0.1", build_config({"backend": "numpy"}))
    before = datetime.now().replace(microsecond=0)
    directory = plan.create_dir(tmp_path / "runs")
    after = datetime.now()
    assert directory.parent == tmp_path / "runs" and directory.name.startswith("sweep-lr-")
    assert before <= datetime.strptime(directory.name[9:], "%Y%m%d-%H%M%S") <= after
    (tmp_path / "file").write_text("mine")
    with pytest.raises(RunDirError) as error:
        plan.create_dir(tmp_path / "file")
    assert str(error.value) == f"output.runs_dir: {tmp_path / 'file'} exists and is not a directory"
    assert (tmp_path / "file").read_text() == "mine"


def test_a_trials_metrics_are_every_number_its_summary_reports_in_the_columns_order():
    """results.csv's metrics of a trial, read from its summary.json by hand: the final
    epoch's, the best epoch's and the test split's, each under its column's name, in the
    columns' order; what a summary lacks (or a test metric it holds as null) is left out."""
    from mlpx.groups.results import METRICS, run_metrics

    final = dict(zip(["train_loss", "train_acc", "val_loss", "val_acc", "val_r2", "val_mae",
                      "val_rmse"], range(1, 8), strict=True))  # fmt: skip
    bests = dict(zip(["best_val_acc", "best_val_loss", "best_val_r2", "best_train_acc",
                      "best_train_loss"], range(8, 13), strict=True))  # fmt: skip
    test = dict(zip(["acc", "loss", "r2", "mae", "rmse"], range(13, 18), strict=True))
    summary = {"final": final | {"epoch": 5, "lr": 0.1}, "best_epoch": 2, "test": test} | bests
    metrics = run_metrics(summary)
    assert list(metrics) == list(METRICS)  # every column, in order
    assert metrics == final | bests | {f"test_{key}": value for key, value in test.items()}
    partial = {"final": {"train_loss": 0.5}, "best_val_loss": 0.7, "test": {"acc": None}}
    assert list(run_metrics(partial).items()) == [("best_val_loss", 0.7), ("train_loss", 0.5)]
    assert run_metrics({"final": None, "best_epoch": None}) == {}


def test_values_rank_by_mean_accuracy_then_mean_loss_and_those_without_any_last():
    """Ranking over hand-made trials: equal mean accuracies (0.5) split by mean loss; a
    non-finite loss or accuracy counts as none; a value whose trials all failed ranks last,
    one with no trial ended yet not at all; a regression ranks by mean loss alone."""
    from math import inf
    from types import SimpleNamespace

    from mlpx.groups.plan import Trial
    from mlpx.groups.results import GroupResult, TrialResult

    def trials(value, *runs):
        return [
            TrialResult(Trial(f"{value}-seed{seed}", value, seed, {}), status, metrics)
            for seed, (status, metrics) in enumerate(runs)
        ]

    def ok(acc, loss):
        return "completed", {"val_acc": acc, "val_loss": loss}

    results = [
        *trials(0.1, ok(0.75, 0.5), ok(0.25, 0.5)),
        *trials(1.0, ok(0.5, 0.0), ok(0.5, 0.5)),  # mean loss lower, its spread higher
        *trials(10.0, ok(0.125, inf), ("diverged", {"val_acc": 0.9})),
        *trials(0.01, ("failed", {}), ok(float("nan"), 0.5)),
        *trials(100.0, ok(0.125, 0.75)),  # 10.0's accuracy, and a loss
    ]
    plan = SimpleNamespace(values=[0.1, 1.0, 10.0, 0.01, 3.0, 100.0], base={}, trials=[])
    ranked = GroupResult(Path("."), plan, results).ranking()
    assert [(s.value, s.label) for s in ranked] == [
        (1.0, "1"), (0.1, "0.1"), (100.0, "100"), (10.0, "10"), (0.01, "0.01")
    ]  # fmt: skip
    first, second = ranked[0], ranked[1]
    assert (first.acc, first.loss) == ((0.5, 0.0), (0.25, np.std([0.0, 0.5], ddof=1)))
    assert (second.acc, second.loss) == ((0.5, np.std([0.75, 0.25], ddof=1)), (0.5, 0.0))
    assert ranked[3].acc == (0.125, 0.0) and ranked[3].loss == (None, None)
    assert ranked[4].stat("val_loss") == (0.5, 0.0) and ranked[4].acc == (None, None)

    regression = SimpleNamespace(values=[10.0, 0.1, 1.0], base={"task": "regression"}, trials=[])
    ranked = GroupResult(Path("."), regression, results).ranking()
    assert [s.value for s in ranked] == [1.0, 0.1, 10.0]  # mean losses 0.25, 0.5, none


def test_a_sweep_parameter_is_a_short_name_or_a_config_leaf_and_anything_else_one_whole_line():
    from mlpx.config import load_config
    from mlpx.groups.plan import config_path

    base = load_config("configs/digits.yaml")
    assert [config_path(p, base) for p in ("lr", "depth", "model.init_std", "l2")] == [
        "optimizer.lr", "model.hidden", "model.init_std", "regularization.l2"
    ]  # fmt: skip
    wrong = {
        "seed": "seed: repeat trials over seeds with --seeds N, not as the parameter",
        "model": "model is a config section; sweep one of its keys: model.kind, model.hidden, "
        "model.activation, model.dropout, model.batchnorm, model.init, model.init_std",
        "lrr": "unknown sweep parameter 'lrr'; did you mean 'lr'? use one of lr, hidden, "
        "optimizer, depth, l1, l2, dropout, batch_size, epochs or a dotted config path such "
        "as model.init_std",
        "zzz": "unknown sweep parameter 'zzz'; use one of lr, hidden, optimizer, "
        "depth, l1, l2, dropout, batch_size, epochs or a dotted config path such as "
        "model.init_std",
        "model.init_sdt": "unknown sweep parameter 'model.init_sdt'; did you mean "
        "'model.init_std'? use one of lr, hidden, optimizer, depth, l1, l2, dropout, "
        "batch_size, epochs or a dotted config path such as model.init_std",
    }
    for param, line in wrong.items():
        with pytest.raises(GroupError) as error:
            config_path(param, base)
        assert str(error.value) == line


def test_a_sweep_plan_is_every_value_with_every_seed_from_the_base_seed_on():
    from mlpx.config import load_config
    from mlpx.groups.plan import Trial, plan_sweep

    base = load_config("configs/digits.yaml", ["seed=5"])
    plan = plan_sweep("lr", "0.1, 0.01", base, seeds=2)
    assert (plan.param, plan.path, plan.values, plan.seeds) == (
        "lr", "optimizer.lr", [0.1, 0.01], [5, 6]
    )  # fmt: skip
    assert plan.base == base.to_dict()
    assert plan.trials == [
        Trial(f"{lr}-seed{seed}", lr, seed, {"optimizer.lr": lr, "seed": seed})
        for lr in (0.1, 0.01)
        for seed in (5, 6)
    ]
    grid = plan_sweep("lr", None, base)  # the default grid, one seed
    assert grid.values == [1e-1, 1e-2, 1e-3, 1e-4, 1e-5] and grid.seeds == [5]
    wrong = {
        ("model.init_std", None, 1): "model.init_std: give the values to sweep with --values, "
        "e.g. --values 0.1,0.5 (default grids exist for lr, hidden, optimizer, depth, l1, l2, "
        "dropout, batch_size, epochs)",
        ("lr", "0.1", 0): "--seeds 0: expected a number of seeds >= 1, e.g. --seeds 3",
        ("lr", "0.1", True): "--seeds True: expected a number of seeds >= 1, e.g. --seeds 3",
        ("lr", "0.1,0.2,0.10", 1): "--values: 0.1 appears twice; use --seeds N to repeat a value",
    }
    for (param, values, seeds), line in wrong.items():
        with pytest.raises(GroupError) as error:
            plan_sweep(param, values, base, seeds=seeds)
        assert str(error.value) == line
