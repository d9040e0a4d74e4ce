"""``mlpx runs``: fits the terminal, sorts, filters, limits, searches subfolders, prints JSON
and CSV, reads how far a crashed run got, and never fails on one bad directory."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, Cli, read_json, read_jsonl

QUICK = ("train.epochs=3", "output.plots=false")


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict[str, Path]:
    """Three real runs (digits at two learning rates, toy) and a two-trial lr sweep."""
    cli = Cli(tmp_path_factory.mktemp("listing") / "runs")
    cli.train(REPO / "configs/digits.yaml", *QUICK, "name=slow", "optimizer.lr=1e-4")
    cli.train(REPO / "configs/digits.yaml", *QUICK, "name=fast", "optimizer.lr=1e-2")
    cli.train(REPO / "configs/digits.yaml", *QUICK, "name=toy", "data.name=toy",
              "data.val_fraction=0", "model.hidden=[4]")  # fmt: skip
    cli("sweep", "lr", "--values", "0.1,0.01", "--jobs", "1", "-s", "train.epochs=2",
        "-s", "output.plots=false", "--runs-dir", cli.runs_dir)  # fmt: skip
    by_name = {p.name.split("-", 2)[-1] if not p.name.startswith("sweep") else "sweep": p
               for p in cli.runs_dir.iterdir()}  # fmt: skip
    return by_name


@pytest.fixture
def runs(made, tmp_path) -> Path:
    """A copy of the made runs that a test may change."""
    target = tmp_path / "copy"
    shutil.copytree(next(iter(made.values())).parent, target)
    return target


def rows_of(cli, *args) -> list[dict]:
    return json.loads(cli("runs", *args, "--json").output)


def test_json_and_csv_rows_are_the_runs_files(cli, runs):
    rows = rows_of(cli, runs)
    assert len(rows) == 4
    for row in rows:
        if row["kind"] != "run":
            continue
        summary = read_json(runs / row["name"] / "summary.json")
        assert row["status"] == summary["status"] == "completed"
        assert row["best_val_acc"] == summary.get("best_val_acc")
        assert row["seconds"] == summary["seconds"]
        assert row["progress"] == "3/3" and row["backend"] == "torch"
    table = list(csv.DictReader(io.StringIO(cli("runs", runs, "--csv").output)))
    assert [r["name"] for r in table] == [r["name"] for r in rows]
    assert [r["best_val_acc"] for r in table] == [str(r["best_val_acc"] or "") for r in rows]
    assert "choose one" in cli("runs", runs, "--csv", "--json", expect=2).output


def test_a_sweep_row_names_its_parameter_and_wall_time(cli, runs):
    (sweep,) = [row for row in rows_of(cli, runs) if row["kind"] == "sweep"]
    directory = runs / sweep["name"]
    assert sweep["param"] == "lr" and sweep["progress"] == "sweep lr 2/2"
    wall = (directory / "results.csv").stat().st_mtime - (directory / "sweep.yaml").stat().st_mtime
    assert sweep["seconds"] == pytest.approx(wall)
    trained = sum(
        read_json(p / "summary.json")["seconds"] for p in (directory / "trials").iterdir()
    )
    assert sweep["seconds"] > trained  # the wall time holds the trial processes' start-up
    table = " ".join(cli("runs", runs).output.split())
    assert "adam *" in table and "the value a sweep varies" in table


def test_sort_filter_and_last(cli, runs):
    by_acc = rows_of(cli, runs, "--sort", "best_val_acc")
    accs = [row["best_val_acc"] for row in by_acc if row["best_val_acc"] is not None]
    assert accs == sorted(accs, reverse=True) and by_acc[-1]["best_val_acc"] is None  # toy
    by_name = [row["name"] for row in rows_of(cli, runs, "--sort", "name")]
    assert by_name == sorted(by_name)
    assert {r["data"] for r in rows_of(cli, runs, "--filter", "data=digits")} == {"digits"}
    assert len(rows_of(cli, runs, "-f", "data=digits", "-f", "kind=run")) == 2
    assert [r["data"] for r in rows_of(cli, runs, "--filter", "data=toy")] == ["toy"]
    assert len(rows_of(cli, runs, "--filter", "optimizer.lr=1e-2")) == 1  # a config path
    assert len(rows_of(cli, runs, "--filter", "status=completed")) == 4
    newest = rows_of(cli, runs)[:2]
    assert rows_of(cli, runs, "--last", "2") == newest
    assert "no runs match" in cli("runs", runs, "--filter", "status=running").output
    for bad, says in [
        (("--filter", "status=done"), "--filter status=done: expected one of running"),
        (("--filter", "colour=red"), "--filter colour: not a column"),
        (("--filter", "data"), "expected KEY=VALUE"),
        (("--sort", "size"), "--sort size: expected one of started"),
        (("--last", "0"), "--last 0: expected a positive number"),
    ]:
        assert says in cli("runs", runs, *bad, expect=2).output


def test_all_finds_runs_in_subfolders(cli, runs):
    project = runs / "project" / "week1"
    project.mkdir(parents=True)
    shutil.move(next(runs.glob("*-toy")), project)
    assert "toy" not in {row["data"] for row in rows_of(cli, runs)}
    names = [row["name"] for row in rows_of(cli, runs, "--all")]
    assert len(names) == 4 and any(name.startswith("project/week1/") for name in names)
    trials = [n for n in names if "/trials/" in n]
    assert not trials  # a sweep's trials stay inside its row


def test_a_crashed_run_shows_how_far_it_got_from_its_metrics(cli, runs):
    run = next(runs.glob("*-fast"))
    summary = read_json(run / "summary.json")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    keep = ("name", "run_dir", "dataset", "backend", "host", "started", "epochs_planned")
    crashed = {k: summary[k] for k in keep} | {"status": "running", "pid": int(dead.stdout)}
    (run / "summary.json").write_text(json.dumps(crashed | {"epochs_completed": 0}))
    (row,) = [r for r in rows_of(cli, runs) if r["name"] == run.name]
    records = read_jsonl(run / "metrics.jsonl")
    best = min(records, key=lambda r: r["val_loss"])
    assert row["status"] == "crashed" and row["progress"] == "3/3"
    assert row["best_val_acc"] == best["val_acc"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("[1, 2, 3]", "summary.json holds a list, not an object"),
        ('{"status": {}}', "summary.json: status {} is not one of running, completed, "
                           "interrupted, diverged, failed, killed, crashed"),
        ('{"status": "completed", "started": "yesterday"}',
         "summary.json: started is 'yesterday', not a time in seconds"),
        ('{"status": "completed", "seconds": [1]}', "summary.json: seconds is [1], not a number"),
        ("{not json", "summary.json is not valid JSON"),
        (b"\xff\xfe", "summary.json is not UTF-8 text"),
        (None, "cannot read summary.json (Is a directory)"),
    ],
)  # fmt: skip
def test_one_bad_run_directory_is_an_unreadable_row_and_the_rest_list(cli, runs, content, reason):
    run = next(runs.glob("*-slow"))
    target = run / "summary.json"
    target.unlink()
    if content is None:
        target.mkdir()
    elif isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content)
    rows = rows_of(cli, runs)
    (bad,) = [row for row in rows if row["name"] == run.name]
    assert bad["status"] == "unreadable" and bad["reason"] == reason
    assert sorted(row["status"] for row in rows) == ["completed"] * 3 + ["unreadable"]
    table = cli("runs", runs).output
    assert f"unreadable: {run.name}: {reason}" in table
    assert "Traceback" not in table


def test_a_bad_sweep_plan_or_config_is_an_unreadable_row(cli, runs):
    sweep = next(runs.glob("sweep-*"))
    (sweep / "sweep.yaml").write_text("- just\n- a list\n")
    run = next(runs.glob("*-toy"))
    (run / "config.yaml").write_text("model: [unclosed\n")
    rows = {row["name"]: row for row in rows_of(cli, runs)}
    assert rows[sweep.name]["reason"] == "sweep.yaml holds a list, not a mapping"
    assert rows[run.name]["status"] == "unreadable"
    assert rows[run.name]["reason"].startswith("config.yaml: invalid YAML (line 2")


def test_the_table_fits_80_columns(runs):
    env = {**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "80"}
    for args in ([], ["--all"]):
        command = [sys.executable, "-m", "mlpx", "runs", str(runs), *args]
        out = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
        lines = out.splitlines()
        assert max(map(len, lines)) <= 80
        assert all(name.name in out for name in runs.iterdir())  # every name whole
        header = next(line for line in lines if line.lstrip().startswith("run"))
        assert header.split()[0] == "run" and "best val" in header and "status" in header
    wide = {**env, "COLUMNS": "160"}
    out = subprocess.run([sys.executable, "-m", "mlpx", "runs", str(runs)],
                         capture_output=True, text=True, env=wide, check=True).stdout  # fmt: skip
    header = next(line for line in out.splitlines() if line.lstrip().startswith("run"))
    assert header.split() == ["run", "data", "backend", "model", "optimizer", "progress",
                              "best", "val", "test", "status", "time"]  # fmt: skip
