"""Output for people and their tools: plain progress off a terminal, numbers that read right,
a warning for a run whose loss grows, the command-line conventions."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO, read_jsonl

EPOCH_LINE = re.compile(
    r"epoch=(?P<epoch>\d+)/(?P<epochs>\d+) train_loss=(?P<train_loss>\S+) "
    r"train_acc=(?P<train_acc>\S+) val_loss=(?P<val_loss>\S+) val_acc=(?P<val_acc>\S+) "
    r"lr=(?P<lr>\S+) seconds=(?P<seconds>\S+)"
)


def mlpx_to_file(tmp_path: Path, *args: str, env: dict | None = None):
    """Run ``python -m mlpx ARGS`` with stdout and stderr going to files (not a terminal);
    return (exit code, stdout text, stderr text)."""
    out, err = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    environment.pop("FORCE_TERMINAL", None)
    with out.open("w") as stdout, err.open("w") as stderr:
        code = subprocess.run(
            [sys.executable, "-m", "mlpx", *args],
            stdout=stdout,
            stderr=stderr,
            cwd=tmp_path,
            env=environment,
            check=False,
        ).returncode
    return code, out.read_text(), err.read_text()


def only_run(runs: Path) -> Path:
    (run,) = runs.iterdir()
    return run


def test_train_off_a_terminal_writes_one_parseable_line_per_epoch(tmp_path):
    runs = tmp_path / "runs"
    code, out, err = mlpx_to_file(
        tmp_path, "train", str(REPO / "configs/digits.yaml"), "-s", "train.epochs=6",
        "-s", "output.plots=false", "--runs-dir", str(runs), env={"MLPX_LOG_INTERVAL": "0"},
    )  # fmt: skip
    assert code == 0, err
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f]", out + err)  # no escapes, no \r
    lines = [m.groupdict() for m in map(EPOCH_LINE.fullmatch, out.splitlines()) if m]
    records = read_jsonl(only_run(runs) / "metrics.jsonl")
    assert [int(line["epoch"]) for line in lines] == [1, 2, 3, 4, 5, 6]
    assert {line["epochs"] for line in lines} == {"6"}
    for line, record in zip(lines, records, strict=True):
        for key in ("train_loss", "train_acc", "val_loss", "val_acc"):
            assert abs(float(line[key]) - record[key]) <= 5e-5
        assert float(line["lr"]) == record["lr"]
        assert abs(float(line["seconds"]) - record["seconds"]) <= 5e-4


def test_fast_epochs_are_throttled_to_one_line_a_second_and_the_last_always_shows(tmp_path):
    runs = tmp_path / "runs"
    code, out, err = mlpx_to_file(
        tmp_path, "train", str(REPO / "configs/digits.yaml"), "-s", "train.epochs=40",
        "-s", "output.plots=false", "--runs-dir", str(runs),
    )  # fmt: skip
    assert code == 0, err
    records = read_jsonl(only_run(runs) / "metrics.jsonl")
    training = sum(r["seconds"] for r in records)
    epochs = [int(m["epoch"]) for m in map(EPOCH_LINE.fullmatch, out.splitlines()) if m]
    assert epochs[0] == 1 and epochs[-1] == 40
    assert len(epochs) <= 2 + training  # at most one a second, besides the first and last
    assert epochs == sorted(set(epochs))


def test_early_stopping_still_prints_the_epoch_it_stopped_at(tmp_path):
    runs = tmp_path / "runs"
    code, out, err = mlpx_to_file(
        tmp_path, "train", str(REPO / "configs/digits.yaml"), "-s", "train.epochs=400",
        "-s", "train.early_stopping=1", "-s", "optimizer.lr=0.05", "-s", "output.plots=false",
        "--runs-dir", str(runs),
    )  # fmt: skip
    assert code == 0, err
    last = read_jsonl(only_run(runs) / "metrics.jsonl")[-1]["epoch"]
    assert last < 400
    epochs = [int(m["epoch"]) for m in map(EPOCH_LINE.fullmatch, out.splitlines()) if m]
    assert epochs[-1] == last


def test_a_bad_log_interval_is_one_line(tmp_path):
    code, out, err = mlpx_to_file(
        tmp_path, "train", str(REPO / "configs/digits.yaml"), env={"MLPX_LOG_INTERVAL": "soon"}
    )
    assert code == 2
    assert err.strip() == "error: MLPX_LOG_INTERVAL='soon': expected seconds >= 0, e.g. 1 or 0"
    assert not (tmp_path / "runs").exists()


def test_a_run_whose_loss_grows_warns_and_large_numbers_are_scientific(cli):
    # momentum at lr 0.5 on digits: the loss grows by four orders of magnitude, no NaN
    result = cli.train(
        REPO / "configs/digits.yaml", "train.epochs=10", "optimizer.name=momentum",
        "optimizer.lr=0.5", "output.plots=false",
    )  # fmt: skip
    history = read_jsonl(cli.last_run() / "metrics.jsonl")
    first, last = history[0]["train_loss"], history[-1]["train_loss"]
    assert last > 1000 * first
    assert f"warning: the training loss grew from {first:.4f} (epoch 1) to" in result.output
    assert "the run is diverging" in result.output


def test_a_healthy_run_has_no_warning(cli):
    result = cli.train(REPO / "configs/digits.yaml", "train.epochs=3", "output.plots=false")
    assert "warning" not in result.output


def test_numbers_beyond_the_usual_range_are_in_scientific_notation():
    from mlpx.cli.render import number

    assert number(2.5102911576921187e22) == "2.5103e+22"
    assert number(3e-7) == "3.0000e-07"
    assert number(-123456.0) == "-1.2346e+05"
    assert number(0.0) == "0.0000"
    assert number(0.9712) == "0.9712"
    assert number(12.5, ".1f") == "12.5"
    assert number(None) == "—"
    assert number(float("inf")) == "inf"


COMMANDS = (
    "train",
    "runs",
    "compare",
    "sweep",
    "predict",
    "gradcheck",
    "crossentropy-demo",
    "backprop",
    "data",
)


def mlpx_run(*args: str, env: dict | None = None, cwd: Path = REPO):
    environment = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "mlpx", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environment,
        check=False,
    )


def test_version_is_the_package_version():
    declared = re.search(r'^version = "(.+)"$', (REPO / "pyproject.toml").read_text(), re.M)
    result = mlpx_run("--version")
    assert result.returncode == 0 and result.stdout == f"mlpx {declared.group(1)}\n"


def test_shell_completion_installs_and_completes(tmp_path):
    env = {"HOME": str(tmp_path), "SHELL": "/bin/bash"}
    result = mlpx_run("--install-completion", "bash", env=env)
    assert result.returncode == 0, result.stderr
    script = tmp_path / ".bash_completions" / "mlpx.sh"
    assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()
    assert "_MLPX_COMPLETE=complete_bash" in script.read_text()
    # what bash runs on TAB, as the installed script calls it
    complete = {"_MLPX_COMPLETE": "complete_bash", "COMP_WORDS": "mlpx tr", "COMP_CWORD": "1"}
    assert mlpx_run(env=complete).stdout.split() == ["train"]
    complete |= {"COMP_WORDS": "mlpx train --print", "COMP_CWORD": "2"}
    assert mlpx_run(env=complete).stdout.split() == ["--print-config"]


def test_print_config_without_a_file_prints_the_defaults(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("{}\n")
    defaults = mlpx_run("train", "--print-config")
    assert defaults.returncode == 0, defaults.stderr
    assert defaults.stdout == mlpx_run("train", str(empty), "--print-config").stdout
    assert "epochs: 50\n" in defaults.stdout
    changed = mlpx_run("train", "--print-config", "-s", "train.epochs=7").stdout
    assert "epochs: 7\n" in changed
    assert not (tmp_path / "runs").exists() and not (REPO / "runs" / "empty").exists()


def test_help_wraps_to_the_terminal_with_readable_metavars():
    for command in COMMANDS:
        for width in (60, 120):
            text = mlpx_run(command, "--help", env={"COLUMNS": str(width)}).stdout
            lines = text.splitlines()
            assert max(map(len, lines)) <= width, command
            assert not re.search(r"<(int|float|str|path|bool|list)", text), command
    text = mlpx_run("train", "--help", env={"COLUMNS": "60"}).stdout
    prose = [line.strip() for line in text.split("╭")[0].splitlines()]
    start = next(i for i, line in enumerate(prose) if line.startswith("With data.folds: K"))
    paragraph = prose[start : prose.index("", start)]
    assert len(paragraph) >= 3
    assert all(len(line) > 45 for line in paragraph[:-1])  # filled to the width, not cut short
    assert "--set -s KEY=VALUE" in " ".join(text.replace("│", " ").split())
    # the options only a cross-validation takes stand under their own heading
    panels = text.split("╭─ ")
    (folds,) = [p for p in panels if p.startswith("Cross-validation (data.folds: K)")]
    assert all(f"--{name}" in folds for name in ("jobs", "executor", "scheduler"))
    assert not any("--jobs" in p for p in panels if p.startswith("Options"))


def test_a_runs_path_is_printed_whole_on_a_line_of_its_own_however_narrow(tmp_path):
    """It was the summary table's title, which a narrow terminal broke in the middle of the
    run's name: a path that could not be copied."""
    runs = tmp_path / "a-folder-with-a-rather-long-name-for-its-runs"
    args = ("configs/digits.yaml", "-s", "backend=numpy", "-s", "train.epochs=1")
    result = mlpx_run("train", *args, "-s", "output.plots=false", "--runs-dir", str(runs),
                      env={"COLUMNS": "50"})  # fmt: skip
    assert result.returncode == 0, result.stderr
    (run,) = runs.iterdir()
    assert f"run: {run}" in result.stdout.splitlines()
