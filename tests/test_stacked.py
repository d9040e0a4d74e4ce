"""Stacked sweeps: trials of one shape trained as one batched model give a separate run's
numbers and files; the executors choose, force or refuse stacking."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import Cli, read_json, read_jsonl

from mlpx.backends import backend_class
from mlpx.groups.executors import TrialTask, run_stacked, run_trial

STEPS_9_EPOCHS = 9 * 23  # digits: 1438 training samples, batches of 64
FLOAT64 = ("-s", "backend=numpy", "-s", "dtype=float64", "-s", "output.plots=false")
MODEL_FILES = {"numpy": "model.npz", "torch": "model.pt"}


def sweep(cli: Cli, runs: Path, executor: str, *args: str) -> Path:
    cli("sweep", *args, *FLOAT64, "--executor", executor, "--jobs", "1", "--runs-dir", runs)
    (directory,) = runs.glob("sweep-*")
    return directory / "trials"


def steps(trial: Path) -> np.ndarray:
    return np.loadtxt(trial / "steps.csv", delimiter=",", skiprows=1, ndmin=2)


def assert_same_run(stacked: Path, separate: Path, rtol: float = 1e-6) -> None:
    """Every file of a stacked trial holds the separate run's numbers (to ``rtol``)."""
    a, b = steps(stacked), steps(separate)
    assert a.shape == b.shape
    np.testing.assert_array_equal(a[:, :2], b[:, :2])
    np.testing.assert_allclose(a[:, 2], b[:, 2], rtol=rtol, atol=0)
    drop = ("seconds",)
    stacked_metrics, separate_metrics = (
        read_jsonl(stacked / "metrics.jsonl"),
        read_jsonl(separate / "metrics.jsonl"),
    )
    for x, y in zip(stacked_metrics, separate_metrics, strict=True):
        assert {k: v for k, v in x.items() if k not in drop} == pytest.approx(
            {k: v for k, v in y.items() if k not in drop}, rel=rtol
        )
    s, t = read_json(stacked / "summary.json"), read_json(separate / "summary.json")
    for key in ("status", "epochs_completed", "best_epoch", "model_epoch", "message"):
        assert s.get(key) == t.get(key)
    assert set(s) - {"resumed"} == set(t)  # a resumed run counts its resumptions
    for key in ("final", "best_val_loss", "best_val_acc"):
        assert s[key] == pytest.approx(t[key], rel=rtol)
    backend = s["backend"]
    model_type = backend_class(backend)
    m, n = (model_type.load_model(run / MODEL_FILES[backend]) for run in (stacked, separate))
    assert sorted(m) == sorted(n)
    for name in m:
        np.testing.assert_allclose(m[name], n[name], rtol=rtol, atol=rtol * 1e-6)
    with np.load(stacked / "checkpoint.npz") as m, np.load(separate / "checkpoint.npz") as n:
        assert sorted(m.files) == sorted(n.files)
    assert (stacked / "config.yaml").read_text() == (separate / "config.yaml").read_text()
    assert (stacked / "report.txt").read_text() == (separate / "report.txt").read_text()


@pytest.mark.parametrize(
    "sweep_args",
    [
        # lr x seed, with an L2 penalty and a momentum rule: no batch norm, no dropout
        ("lr", "--values", "0.1,0.02", "--seeds", "2", "-s", "optimizer.name=sgd",
         "-s", "optimizer.momentum=0.9", "-s", "regularization.l2=1e-3"),
        # batch norm and dropout, a rate per trial, masks from each trial's own generator;
        # an L1 penalty, gradient clipping and a cosine schedule
        ("dropout", "--values", "0.1,0.3", "--seeds", "2", "-s", "model.kind=complex",
         "-s", "model.batchnorm=true", "-s", "model.hidden=[32,16]",
         "-s", "regularization.l1=1e-4", "-s", "train.clip_grad_norm=1.0",
         "-s", "schedule.name=cosine"),
        # Adam's step count and rate as a column of one update (NumPy): AMSGrad, decay
        ("lr", "--values", "0.01,0.003", "--seeds", "2", "-s", "optimizer.name=adam",
         "-s", "optimizer.amsgrad=true", "-s", "optimizer.weight_decay=0.01"),
        # two rules in one stack: each model steps alone, with its own state
        ("optimizer", "--values", "sgd,adam", "--seeds", "2", "-s", "optimizer.lr=0.01"),
    ],
    ids=["sgd-momentum-l2", "batchnorm-dropout-l1-clip-cosine", "adam-amsgrad-decay", "mixed"],
)  # fmt: skip
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_stacked_trials_equal_separate_runs_over_200_steps(cli, tmp_path, sweep_args, backend):
    args = (*sweep_args, "-s", "train.epochs=9", "-s", f"backend={backend}")
    stacked = sweep(cli, tmp_path / "stacked", "stacked", *args)
    separate = sweep(cli, tmp_path / "separate", "process", *args)
    names = sorted(p.name for p in separate.iterdir())
    assert len(names) == 4 and sorted(p.name for p in stacked.iterdir()) == names
    for name in names:
        assert len(steps(stacked / name)) == STEPS_9_EPOCHS
        assert_same_run(stacked / name, separate / name)
    # the trials did differ: four different curves
    assert len({steps(stacked / name)[-1, 2] for name in names}) == 4


def test_float32_torch_trials_with_fused_updates_equal_separate_runs(cli, tmp_path):
    # float32 on the CPU takes torch's fused Adam and SGD kernels, which read a gradient as
    # laid out like its parameter (float64 takes the foreach ones, which do not)
    args = ("lr", "--values", "0.01,0.001", "--seeds", "2", "-s", "train.epochs=3")
    args += ("-s", "backend=torch", "-s", "output.plots=false")
    trials = {}
    for executor in ("stacked", "process"):
        runs = tmp_path / executor
        cli("sweep", *args, "--executor", executor, "--jobs", "1", "--runs-dir", runs)
        (trials[executor],) = runs.glob("sweep-*/trials")
    for separate in sorted(trials["process"].iterdir()):
        assert_same_run(trials["stacked"] / separate.name, separate, rtol=1e-4)


def test_a_stopped_or_diverged_trial_freezes_and_the_others_go_on(cli, tmp_path):
    # lr 1e4 diverges in its first epoch; lr 2 stops early (patience 1); 0.01 runs on
    args = ("lr", "--values", "1e4,2,0.01", "-s", "optimizer.name=sgd")
    args += ("-s", "train.epochs=8", "-s", "train.early_stopping=1")
    runs = tmp_path / "stacked"
    result = cli("sweep", *args, *FLOAT64, "--executor", "stacked", "--runs-dir", runs, expect=1)
    assert "1 of 3 trial(s) did not complete: 10000-seed0 (diverged)" in result.output
    (directory,) = runs.glob("sweep-*")
    stacked = directory / "trials"
    separate_runs = tmp_path / "separate"
    cli("sweep", *args, *FLOAT64, "--executor", "process", "--runs-dir", separate_runs, expect=1)
    (separate_dir,) = separate_runs.glob("sweep-*")
    epochs = {}
    for name in ("10000-seed0", "2-seed0", "0.01-seed0"):
        summary = read_json(stacked / name / "summary.json")
        separate = read_json(separate_dir / "trials" / name / "summary.json")
        epochs[name] = summary["epochs_completed"]
        assert epochs[name] == separate["epochs_completed"]
        if name == "10000-seed0":
            assert summary["status"] == separate["status"] == "diverged"
            assert summary["message"] == separate["message"]
            a, b = steps(stacked / name), steps(separate_dir / "trials" / name)
            np.testing.assert_array_equal(a[:, :2], b[:, :2])
            continue
        assert_same_run(stacked / name, separate_dir / "trials" / name)
    assert epochs["10000-seed0"] < epochs["2-seed0"] < epochs["0.01-seed0"] == 8


def test_executor_stacked_refuses_trials_of_different_shapes(cli, tmp_path):
    runs = tmp_path / "runs"
    result = cli("sweep", "hidden", "--values", "16,32", *FLOAT64, "--executor", "stacked",
                 "--runs-dir", runs, expect=2)  # fmt: skip
    (line,) = result.output.strip().splitlines()
    assert "--executor stacked" in line and "model.hidden" in line
    assert "--executor local" in line
    assert not runs.exists()  # refused before anything was written
    result = cli("sweep", "batch_size", "--values", "32,64", "--executor", "stacked",
                 "-s", "backend=torch", "--runs-dir", runs, expect=2)  # fmt: skip
    (line,) = result.output.strip().splitlines()
    assert "train.batch_size" in line and "model.hidden" not in line
    assert not runs.exists()
    result = cli("sweep", "lr", "--values", "0.1,0.01", "--config", "configs/diabetes.yaml",
                 "--executor", "stacked", "--runs-dir", runs, expect=2)  # fmt: skip
    (line,) = result.output.strip().splitlines()
    assert "regression trials cannot stack" in line
    assert not runs.exists()


def test_local_stacks_what_stacks_and_runs_the_rest_alone(cli, tmp_path):
    # two widths x two seeds: two stacks of two; the numbers are separate runs' anyway
    args = ("hidden", "--values", "8,16", "--seeds", "2", "-s", "train.epochs=2")
    local = sweep(cli, tmp_path / "local", "local", *args)
    separate = sweep(cli, tmp_path / "separate", "process", *args)
    for trial in sorted(separate.iterdir()):
        assert_same_run(local / trial.name, trial)
    results = (local.parent / "results.csv").read_text().splitlines()
    assert len(results) == 5 and all(",completed," in row for row in results[1:])


def test_grouping_by_shape():
    from mlpx.groups.executors import TrialTask, stack_units

    base = {"backend": "numpy", "seed": 0}
    tasks = [
        TrialTask("a", base | {"optimizer": {"name": "adam", "lr": 0.1}}),
        TrialTask("b", base | {"model": {"hidden": [8]}}),
        TrialTask("c", base | {"optimizer": {"name": "sgd", "lr": 0.1}, "seed": 3}),
        TrialTask("d", base | {"model": {"hidden": [8]}, "regularization": {"l2": 0.1}}),
    ]
    units = stack_units(tasks, "auto")
    assert [[t.name for t in unit] for unit in units] == [["a", "c"], ["b", "d"]]
    assert [[t.name for t in unit] for unit in stack_units(tasks, "never")] == [
        ["a"], ["b"], ["c"], ["d"]
    ]  # fmt: skip
    json.dumps([t.config for t in tasks])  # tasks stay plain data for other processes


def test_stacking_always_refuses_in_one_line_what_auto_runs_alone(monkeypatch):
    from mlpx import backends
    from mlpx.errors import GroupError
    from mlpx.groups.executors import TrialTask, stack_units

    base = {"backend": "numpy", "seed": 0}
    tasks = [TrialTask("a", base), TrialTask("b", base | {"model": {"hidden": [8]}}),
             TrialTask("c", base | {"model": {"hidden": [8]}, "dtype": "float64"})]  # fmt: skip
    assert [[t.name for t in u] for u in stack_units(tasks, "auto")] == [["a"], ["b"], ["c"]]
    assert [[t.name for t in u] for u in stack_units(tasks[:1], "always")] == [["a"]]
    assert [[t.name for t in u] for u in stack_units(tasks[1:2] * 2, "always")] == [["b", "b"]]
    refusals = {
        "--executor stacked: the trials cannot train as one stack, they differ in dtype, "
        "model.hidden; use --executor local, which stacks the trials that share a shape and "
        "runs the others alone": tasks,
        "--executor stacked: the trials cannot train as one stack, they differ in "
        "model.hidden; use --executor local, which stacks the trials that share a shape and "
        "runs the others alone": tasks[:2],  # two stacks are one too many
        "--executor stacked: regression trials cannot stack yet; use --executor local": [
            TrialTask(name, base | {"task": "regression", "data": {"name": "diabetes"}})
            for name in ("r1", "r2")
        ],
    }
    for line, group in refusals.items():
        with pytest.raises(GroupError) as error:
            stack_units(group, "always")
        assert str(error.value) == line
        assert all(len(unit) == 1 for unit in stack_units(group, "auto"))
    monkeypatch.setattr(backends, "stacks", lambda backend: False)  # a backend without stacks
    same = [TrialTask("x", base), TrialTask("y", base)]
    assert [[t.name for t in u] for u in stack_units(same, "auto")] == [["x"], ["y"]]
    with pytest.raises(GroupError) as error:
        stack_units(same, "always")
    assert str(error.value) == (
        "--executor stacked: the numpy backend cannot stack trials; use --executor local"
    )


def test_mlpx_plot_draws_a_stacked_trials_plots_as_a_separate_run_draws_them(cli, tmp_path):
    import matplotlib.image as mpimg

    args = ("lr", "--values", "0.01,0.001", "-s", "backend=numpy", "-s", "train.epochs=3")
    runs = {}
    for executor in ("stacked", "process"):
        runs[executor] = tmp_path / executor
        cli("sweep", *args, "--executor", executor, "--runs-dir", runs[executor])
    (stacked,) = runs["stacked"].glob("sweep-*/trials/0.01-seed0")
    (separate,) = runs["process"].glob("sweep-*/trials/0.01-seed0")
    assert not (stacked / "plots").exists()  # left for later: drawing outlasts training
    result = cli("plot", stacked)
    assert f"plots: {stacked / 'plots'}" in result.output.replace("\n", "")
    names = sorted(p.name for p in (separate / "plots").iterdir())
    assert names == [
        "accuracy.png",
        "confusion.png",
        "loss.png",
        "misclassified.png",
        "weights.png",
    ]
    assert sorted(p.name for p in (stacked / "plots").iterdir()) == names
    for name in names:
        drawn, expected = (
            mpimg.imread(stacked / "plots" / name),
            mpimg.imread(separate / "plots" / name),
        )
        assert drawn.shape == expected.shape
        assert np.mean(np.abs(drawn - expected)) < 1e-3


def test_mlpx_plot_of_a_directory_that_is_not_a_run_is_one_line(cli, tmp_path):
    result = cli("plot", tmp_path, expect=2)
    (line,) = result.output.strip().splitlines()
    assert "no config.yaml" in line and str(tmp_path) in line


NOT_A_RUN = {
    "missing": "{p}: no such directory; give a run directory written by mlpx train",
    "file": "{p}: not a directory; give a run directory written by mlpx train",
    "sweep": "{p}: a sweep (sweep.yaml), not a run; its trials' runs are in {p}/trials/",
    "cv": "{p}: a cross-validation (cv.yaml), not a run; its folds' runs are the directories in it",
}


@pytest.mark.parametrize("kind", NOT_A_RUN)
def test_what_is_not_a_run_is_named_for_what_it_is(cli, tmp_path, kind):
    path = tmp_path / "given"
    if kind == "file":
        path.write_text("x")
    elif kind in ("sweep", "cv"):
        path.mkdir()
        (path / f"{kind}.yaml").write_text("x")
    for command in (("plot", path), ("predict", path, "--data", tmp_path / "x.npz")):
        (line,) = cli(*command, expect=2).output.strip().splitlines()
        assert line == "error: " + NOT_A_RUN[kind].format(p=path)


def test_mlpx_plot_draws_several_runs_and_a_bad_one_stops_none_of_the_others(cli, tmp_path):
    runs = []
    for lr in ("0.01", "0.001", "0.1"):
        cli.train("configs/digits.yaml", "backend=numpy", "train.epochs=1", f"optimizer.lr={lr}",
                  "output.plots=false")  # fmt: skip
        runs.append(cli.last_run())
    assert not any((run / "plots").exists() for run in runs)
    result = cli("plot", runs[0], runs[1], runs[0])  # a run given twice is drawn once
    lines = result.output.replace("\n", "").replace("plots: ", "\nplots: ").split("\n")[1:]
    assert lines == [f"plots: {run / 'plots'}" for run in runs[:2]]
    for run in runs[:2]:
        assert len(list((run / "plots").glob("*.png"))) == 5
        shutil.rmtree(run / "plots")
    # bad ones first, between and last: every good run is drawn whole, and one line names
    # the first bad one's problem and the others not drawn
    missing, not_a_run = tmp_path / "missing", tmp_path / "empty"
    not_a_run.mkdir()
    result = cli("plot", missing, runs[0], not_a_run, runs[1], runs[2], tmp_path / "x", expect=2)
    lines = result.output.strip().replace("\n", "").replace("plots: ", "\nplots: ")
    lines = lines.replace("error: ", "\nerror: ").split("\n")[1:]
    assert lines[:3] == [f"plots: {run / 'plots'}" for run in runs]
    assert lines[3] == (
        f"error: {missing}: no such directory; give a run directory written by mlpx train; "
        f"not drawn either: {not_a_run}, {tmp_path / 'x'}"
    )
    for run in runs:
        pngs = sorted((run / "plots").iterdir())
        assert len(pngs) == 5 and all(p.suffix == ".png" for p in pngs)  # no temporary file
        for png in pngs:
            assert plt_image(png).shape[2] == 4  # a whole PNG


def plt_image(path: Path) -> np.ndarray:
    import matplotlib.image as mpimg

    return mpimg.imread(path)


def start_stacked_epochs_sweep(cwd: Path, runs: Path, values: str):
    """``mlpx sweep epochs --values VALUES`` as one stack, started in the background as a
    user starts it (a process of its own); returns the process."""
    import os
    import subprocess
    import sys

    from conftest import REPO

    command = [sys.executable, "-m", "mlpx", "sweep", "epochs", "--values", values]
    command += ["--executor", "stacked", "--jobs", "1", *FLOAT64, "--runs-dir", str(runs)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL)


def test_a_killed_stack_keeps_its_finished_trials_and_its_others_resume(cli, tmp_path):
    import os
    import signal

    from test_sweep import read_results, running_pid, wait_for

    # one stack of two trials: 2 epochs ends and is recorded while 150 epochs trains on;
    # then the stack's process is killed (like the OOM killer would)
    runs = tmp_path / "runs"
    group = start_stacked_epochs_sweep(tmp_path, runs, "2,150")
    try:
        sweep_dir = wait_for(lambda: next(runs.glob("sweep-*"), None))
        wait_for(lambda: [r["trial"] for r in read_results(sweep_dir)] == ["2-seed0"])
        victim = wait_for(lambda: running_pid(sweep_dir / "trials" / "150-seed0"))
        os.kill(victim, signal.SIGKILL)
        assert group.wait(timeout=60) == 1
    finally:
        group.kill()
        group.wait()
    done, killed = read_results(sweep_dir)
    assert (done["trial"], done["status"]) == ("2-seed0", "completed")
    assert killed["status"] == "killed" and "SIGKILL" in killed["error"]

    # the killed trial is an ordinary run: mlpx train --resume finishes it from its
    # checkpoint, with the numbers of a run never interrupted
    trial = sweep_dir / "trials" / "150-seed0"
    cli("train", "--resume", trial)
    assert read_json(trial / "summary.json")["status"] == "completed"
    separate = sweep(cli, tmp_path / "separate", "process", "epochs", "--values", "150")
    assert_same_run(trial, separate / "150-seed0")


def test_a_numpy_sweep_imports_no_torch(tmp_path):
    import subprocess
    import sys

    from conftest import REPO, mlpx_imports

    args = ("--values", "0.1,0.01", "-s", "backend=numpy", "-s", "train.epochs=1")
    _, imported = mlpx_imports("sweep", "lr", *args, "--runs-dir", str(tmp_path / "runs"))
    assert "mlpx.groups.executors" in imported
    assert not {name for name in imported if name.split(".")[0] == "torch"}
    # what a stack's process runs: two numpy trials as one stack
    code = (
        "import sys\n"
        "from mlpx.groups.executors import TrialTask, run_trial_files\n"
        "config = {'backend': 'numpy', 'train': {'epochs': 1}}\n"
        "ended = run_trial_files([TrialTask('a', config), TrialTask('b', config | {'seed': 1})])\n"
        "assert [outcome.status for _, outcome, _ in ended] == ['completed', 'completed']\n"
        "print('\\n'.join(sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                         text=True, check=True)  # fmt: skip
    imported = set(out.stdout.split())
    assert "mlpx.backends.numpy.stacked" in imported
    assert not {name for name in imported if name.split(".")[0] == "torch"}


def test_threads_auto_counts_only_the_free_cores(monkeypatch):
    from mlpx import backends
    from mlpx.config import load_config
    from mlpx.model import model_spec

    mnist_size = model_spec(load_config(None, ["model.hidden=[1000,100]"]), 784, 10)
    digits = model_spec(load_config(None, []), 64, 10)
    config = load_config(None, ["train.batch_size=128"])
    monkeypatch.setattr(backends.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(backends.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(backends.time, "sleep", lambda seconds: None)
    monkeypatch.setattr(backends, "_own_ticks", lambda: 0.0)  # this process: idle
    # other processes busy over the window, in cores of 4: 400 ticks in all, busy ones of them
    for busy, threads in ((0.0, 4), (0.4, 4), (1.2, 3), (2.6, 1), (4.0, 1)):
        ticks = iter([(1000, 5000), (1000 + round(busy * 100), 5400)])
        monkeypatch.setattr(backends, "_cpu_times", lambda cpus, ticks=ticks: next(ticks))
        monkeypatch.setattr(backends, "_busy_seen", None)
        assert backends.cpu_threads(config, mnist_size) == threads
        # the models of a stack start within seconds: the same reading, no second look
        assert backends.cpu_threads(config, mnist_size) == threads
        assert backends.cpu_threads(config, digits) == 1  # small steps: one thread always
    assert backends.cpu_threads(load_config(None, ["threads=3"]), mnist_size) == 3

    def unreadable(cpus):
        raise OSError("no /proc/stat")

    monkeypatch.setattr(backends, "_cpu_times", unreadable)  # elsewhere: the load average
    monkeypatch.setattr(backends, "_busy_seen", None)
    monkeypatch.setattr(backends.os, "getloadavg", lambda: (2.2, 0.0, 0.0))
    assert backends.cpu_threads(config, mnist_size) == 2


def test_busy_cores_reads_proc_stat_leaving_out_idle_and_nice_time(tmp_path):
    from mlpx import backends

    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice, of all CPUs, then each
    stat.write_text(
        "cpu  101 902 53 704 25 11 12 8 0 0\n"
        "cpu0 100 900 50 700 20 5 5 0 0 0\n"
        "cpu1 1 2 3 4 5 6 7 8 0 0\n"
        "intr 12345 1 2\n"
    )
    assert backends._cpu_times({0}, str(stat)) == (160, 1780)  # nice, idle, iowait: not busy
    assert backends._cpu_times({1}, str(stat)) == (25, 36)
    assert backends._cpu_times({0, 1}, str(stat)) == (185, 1816)
    with pytest.raises(ValueError, match="no line"):
        backends._cpu_times({7}, str(stat))
    if Path("/proc/stat").exists():  # the real file
        busy, total = backends._cpu_times(backends._allowed_cpus())
        assert 0 <= busy <= total


def test_busy_cores_leaves_out_this_processes_own_cpu_time(monkeypatch):
    from mlpx import backends

    monkeypatch.setattr(backends.time, "sleep", lambda seconds: None)
    ticks = iter([(0, 0), (200, 400)])  # 2 CPUs busy half the window
    own = iter([1000.0, 1100.0])  # of which this process's own threads took 100 ticks
    monkeypatch.setattr(backends, "_cpu_times", lambda cpus: next(ticks))
    monkeypatch.setattr(backends, "_own_ticks", lambda: next(own))
    assert backends.busy_cores({0, 1}) == pytest.approx(0.5)


def test_a_torch_stack_holds_its_models_as_rows_of_one_tensor_on_their_device():
    # what runs on CUDA as it runs on the CPU: the stack's tensors on the trials' device,
    # (K, fan_out, fan_in) weights whose rows are the trials' own parameters and buffers
    from mlpx.backends import create_stack
    from mlpx.config import load_config
    from mlpx.train import Trainer

    configs = [
        load_config(None, ["backend=torch", "device=cpu", "model.kind=complex", f"seed={seed}",
                           "model.hidden=[16,8]", "model.dropout=0.2", "model.batchnorm=true"])
        for seed in (0, 1, 2)
    ]  # fmt: skip
    stack = create_stack(configs[0], 3)
    trials = [Trainer(config, make_backend=stack.backend).backend for config in configs]
    assert stack.tensors["W1"].shape == (3, 16, 64) and stack.tensors["W3"].shape == (3, 10, 8)
    assert stack.tensors["running_var2"].shape == (3, 8)
    for k, trial in enumerate(trials):
        assert all(t.device == trial._device for t in stack.tensors.values())
        for name, value in trial.params().items():
            row = stack.tensors[name][k].numpy()
            np.testing.assert_array_equal(value, row.T if name.startswith("W") else row)
        linear = trial.model.linears[0]
        assert linear.weight.data_ptr() == stack.tensors["W1"][k].data_ptr()
        assert trial.generator.device == trial._device
    # each model's dropout generator starts where its separate run's global one would
    import torch

    separate = Trainer(configs[1])
    assert torch.equal(torch.get_rng_state(), trials[1].generator.get_state())
    assert separate.backend.state()["rng/torch"].tolist() == trials[1].state()["rng/torch"].tolist()


@pytest.mark.slow
def test_ctrl_c_ends_a_stack_as_interrupted_and_resume_finishes_it(cli, tmp_path):
    import signal

    from test_sweep import read_results, wait_for

    runs = tmp_path / "runs"
    group = start_stacked_epochs_sweep(tmp_path, runs, "1000,1001")
    try:
        sweep_dir = wait_for(lambda: next(runs.glob("sweep-*"), None))
        trials = [sweep_dir / "trials" / name for name in ("1000-seed0", "1001-seed0")]

        def epochs(trial: Path) -> int:
            return len((trial / "metrics.jsonl").read_text().splitlines())

        wait_for(lambda: all(epochs(trial) >= 2 for trial in trials))
        group.send_signal(signal.SIGINT)  # to the sweep alone: it stops the stack
        assert group.wait(timeout=90) == 130
    finally:
        group.kill()
        group.wait()
    assert [r["status"] for r in read_results(sweep_dir)] == ["interrupted", "interrupted"]
    for trial in trials:
        summary = read_json(trial / "summary.json")
        assert summary["status"] == "interrupted"
        assert 2 <= summary["epochs_completed"] == epochs(trial) < 1000
        assert (trial / "checkpoint.npz").is_file() and (trial / "model.npz").is_file()

    cli("sweep", "--resume", sweep_dir, "--executor", "stacked", "--jobs", "1")
    rows = read_results(sweep_dir)
    assert [(r["trial"], r["status"]) for r in rows] == [
        ("1000-seed0", "completed"),
        ("1001-seed0", "completed"),
    ]
    assert (sweep_dir / "trials" / ".1000-seed0.attempt-1").is_dir()
    assert [read_json(t / "summary.json")["epochs_completed"] for t in trials] == [1000, 1001]


def test_a_stack_too_big_for_memory_trains_in_chunks_with_the_same_numbers(monkeypatch, tmp_path):
    from mlpx.groups import stacked

    config = {"backend": "numpy", "dtype": "float64", "train": {"epochs": 2}}
    config |= {"output": {"plots": False}}
    tasks = [TrialTask(f"s{seed}", config | {"seed": seed}) for seed in range(3)]
    first = list(run_stacked(tasks, tmp_path / "one"))
    assert [(t.name, o.status) for t, o in first] == [(f"s{k}", "completed") for k in range(3)]
    together = {t.name: o.summary["final"] for t, o in first}

    from mlpx.config import build_config

    room = stacked.trial_bytes(build_config(config), 64, 10) * 2  # two trials' worth
    monkeypatch.setattr(stacked, "available_memory", lambda: room / stacked.MEMORY_SHARE)
    sizes = []
    train_stacked = stacked.train_stacked

    def spy(configs, paths, command=None):
        sizes.append(len(configs))
        return train_stacked(configs, paths, command)

    monkeypatch.setattr(stacked, "train_stacked", spy)
    chunked = {t.name: o.summary["final"] for t, o in run_stacked(tasks, tmp_path / "chunks")}
    assert sizes == [2, 1]
    assert chunked == together
    for run in (tmp_path / "chunks").iterdir():  # each trial into its own path, all of it
        assert read_json(run / "summary.json")["epochs_completed"] == 2


@pytest.mark.parametrize("stacked", [True, False], ids=["stack", "process"])
def test_a_sweeps_thread_cap_stands_for_auto_and_keeps_an_explicit_count(
    monkeypatch, tmp_path, stacked
):
    """Trials side by side get a thread cap (``TrialTask.threads``, 1): it replaces a config's
    ``threads: auto``, an explicit ``threads: N`` is kept, and without a cap ``auto`` picks the
    free cores (2 here); each trial's config.yaml records the setting it ran with and its
    env.json the threads used."""
    import yaml

    from mlpx import backends

    monkeypatch.setattr(backends, "free_cores", lambda: 2)
    # 64-512-512-10 on batches of 256: a step big enough that auto does not pick 1 thread
    config = {"backend": "numpy", "model": {"hidden": [512, 512]}, "train": {"epochs": 1}}
    config |= {"output": {"plots": False}, "threads": "auto"}
    config["train"]["batch_size"] = 256
    # name: (the config's threads, the cap, config.yaml's threads, the threads used)
    cases = {
        "auto-capped": ("auto", 1, 1, 1),
        "three": (3, 1, 3, 3),
        "auto-free": ("auto", None, "auto", 2),
    }
    for name, (threads, cap, recorded, used) in cases.items():
        tasks = [
            TrialTask(f"{name}-{s}", config | {"threads": threads, "seed": s}, cap) for s in (0, 1)
        ]
        if stacked:
            outcomes = [o for _, o in run_stacked(tasks, tmp_path)]
        else:
            outcomes = [run_trial(task, tmp_path / task.name) for task in tasks]
        assert [o.status for o in outcomes] == ["completed", "completed"], name
        for task in tasks:
            run = tmp_path / task.name
            assert yaml.safe_load((run / "config.yaml").read_text())["threads"] == recorded, name
            assert read_json(run / "env.json")["threads"] == used, name


# --- run_stacked in this process: what a stack's trial process runs ----------------------

STACK_BASE = {"backend": "numpy", "dtype": "float64", "train": {"epochs": 3}}
STACK_BASE |= {"output": {"plots": False}}
SWEEP_COMMAND = ["mlpx", "sweep", "lr", "--values", "1e12,0.01"]


def seeds(n: int) -> list[TrialTask]:
    """Trials s0, s1, ... of STACK_BASE with seeds 0, 1, ..."""
    return [TrialTask(f"s{seed}", STACK_BASE | {"seed": seed}) for seed in range(n)]


def raise_in_run_dir(monkeypatch, method: str, errors: dict) -> None:
    """Make ``RunDir.<method>(arg)`` raise ``errors[(trial name, key)]`` where the table has
    it (``key``: an epoch record's ``epoch``, else None) and work as usual elsewhere."""

    from mlpx.runs import RunDir

    original = getattr(RunDir, method)

    def wrapper(self, arg):
        key = arg.get("epoch") if isinstance(arg, dict) else None
        error = errors.get((self.path.name, key))
        if error is not None:
            raise error
        return original(self, arg)

    monkeypatch.setattr(RunDir, method, wrapper)


def raise_in_stack_epoch_2(monkeypatch, error: BaseException) -> None:
    """Make the NumPy stack's second epoch raise ``error`` (the first trains as usual)."""
    from mlpx.backends.numpy.stacked import NumpyStack

    epochs = []
    train_epoch = NumpyStack.train_epoch

    def wrapper(self, active):
        epochs.append(len(active))
        if len(epochs) == 2:
            raise error
        train_epoch(self, active)

    monkeypatch.setattr(NumpyStack, "train_epoch", wrapper)


def test_run_stacked_yields_each_trial_as_it_ends_with_its_error_and_files(tmp_path):
    """A trial that diverges ends first, its summary's message as its error; one whose
    directory exists already fails at once with the run directory's message and that
    directory's own summary, untouched; the others complete without error (early stopping's
    message is none). Each outcome's
    summary is its summary.json, its seconds lie within the call's, and every run trained
    records the sweep's command line."""

    sgd = {"optimizer": {"name": "sgd", "lr": 0.01}}
    configs = {
        "ok-0": STACK_BASE | sgd | {"seed": 0},
        "ok-1": STACK_BASE | sgd | {"seed": 1},
        "diverges": STACK_BASE | {"optimizer": {"name": "sgd", "lr": 1e12}},
        # early stopping ends a run as completed, with a message that is no error
        "stops": STACK_BASE
        | {"optimizer": {"name": "sgd", "lr": 2.0}, "seed": 3}
        | {"train": {"epochs": 3, "early_stopping": 1}},
        "taken": STACK_BASE | sgd | {"seed": 2},
    }
    tasks = [TrialTask(name, config, command=SWEEP_COMMAND) for name, config in configs.items()]
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "summary.json").write_text('{"status": "completed", "mine": 1}')
    started = time.perf_counter()
    ended = [(task.name, outcome) for task, outcome in run_stacked(tasks, tmp_path)]
    wall = time.perf_counter() - started
    assert [name for name, _ in ended] == ["taken", "diverges", "stops", "ok-0", "ok-1"]
    outcomes = dict(ended)
    taken = outcomes.pop("taken")
    assert (taken.status, taken.summary) == ("failed", {"status": "completed", "mine": 1})
    assert taken.error == f"{tmp_path / 'taken'} already exists; mlpx never overwrites a run"
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["summary.json"]
    for name, outcome in outcomes.items():
        summary = read_json(tmp_path / name / "summary.json")
        assert outcome.summary == summary
        assert outcome.status == summary["status"]
        assert 0 < outcome.seconds <= wall
        assert read_json(tmp_path / name / "env.json")["command"] == SWEEP_COMMAND
    assert outcomes["diverges"].status == "diverged"
    assert outcomes["diverges"].error == outcomes["diverges"].summary["message"]
    assert outcomes["diverges"].error.startswith("training diverged at epoch 1")
    assert outcomes["stops"].summary["message"].startswith("early stopping at epoch 2")
    for name in ("stops", "ok-0", "ok-1"):
        assert (outcomes[name].status, outcomes[name].error) == ("completed", None)
    epochs = {name: o.summary["epochs_completed"] for name, o in outcomes.items()}
    assert epochs == {"diverges": 0, "stops": 2, "ok-0": 3, "ok-1": 3}


def test_an_error_in_the_stacked_arithmetic_fails_every_trial_still_going(monkeypatch, tmp_path):
    """What the trials are told: the exception's type and message (not an mlpx error)."""
    raise_in_stack_epoch_2(monkeypatch, FloatingPointError("overflow in matmul"))
    tasks = seeds(2)
    outcomes = dict((t.name, o) for t, o in run_stacked(tasks, tmp_path))
    assert sorted(outcomes) == ["s0", "s1"]
    for name, outcome in outcomes.items():
        assert outcome.status == "failed"
        assert outcome.error == "FloatingPointError: overflow in matmul"
        assert outcome.summary == read_json(tmp_path / name / "summary.json")
        assert outcome.summary["status"] == "failed"
        assert outcome.summary["epochs_completed"] == 1


def test_ctrl_c_in_a_chunk_ends_its_trials_interrupted_and_starts_no_later_chunk(
    monkeypatch, tmp_path
):
    from mlpx.groups import stacked

    raise_in_stack_epoch_2(monkeypatch, KeyboardInterrupt())
    monkeypatch.setattr(stacked, "chunk_size", lambda *args: 2)
    tasks = seeds(4)
    outcomes = dict((t.name, o) for t, o in run_stacked(tasks, tmp_path))
    assert sorted(outcomes) == ["s0", "s1"]  # the second chunk never started
    assert not (tmp_path / "s2").exists() and not (tmp_path / "s3").exists()
    for name, outcome in outcomes.items():
        assert outcome.status == "interrupted"
        assert outcome.summary == read_json(tmp_path / name / "summary.json")
        assert outcome.summary["status"] == "interrupted"
        assert outcome.summary["epochs_completed"] == 1


@pytest.mark.parametrize("s1_ends", ["completed", "failed"])
def test_ctrl_c_that_reaches_one_trial_while_another_ends_still_stops_the_chunks(
    monkeypatch, tmp_path, s1_ends
):
    """Ctrl-C can land in one trial's own bookkeeping (here: while s0 writes its last epoch's
    metrics) in the round where another trial ends (completes, or fails with an error of
    its own): s0 ends interrupted, s1 after it, and the next chunk does not start."""
    from mlpx.groups import stacked

    errors = {("s0", 3): KeyboardInterrupt()}
    if s1_ends == "failed":
        errors[("s1", 3)] = OSError("disk full")
    raise_in_run_dir(monkeypatch, "append_metrics", errors)
    monkeypatch.setattr(stacked, "chunk_size", lambda *args: 2)
    tasks = seeds(4)
    ended = [(t.name, o.status) for t, o in run_stacked(tasks, tmp_path)]
    assert ended == [("s0", "interrupted"), ("s1", s1_ends)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s0", "s1"]


def test_ctrl_c_while_a_trial_sets_up_interrupts_its_chunk_and_stops_the_chunks(
    monkeypatch, tmp_path
):
    """Ctrl-C while s0 writes its config.yaml (before its loop, which would catch it) ends s0
    interrupted, with the time it took; s1 fails at the same point with an error of its own;
    s2, of the same chunk, is stopped as interrupted before its first epoch; s3, of the
    next chunk, never starts."""
    from mlpx.groups import stacked

    errors = {("s0", None): KeyboardInterrupt(), ("s1", None): OSError("disk full")}
    raise_in_run_dir(monkeypatch, "write_config", errors)
    monkeypatch.setattr(stacked, "chunk_size", lambda *args: 3)
    tasks = seeds(4)
    started = time.perf_counter()
    ended = list(run_stacked(tasks, tmp_path))
    wall = time.perf_counter() - started
    assert [(t.name, o.status) for t, o in ended] == [
        ("s0", "interrupted"),
        ("s1", "failed"),
        ("s2", "interrupted"),
    ]
    assert ended[1][1].error == "OSError: disk full"
    assert all(0 < o.seconds <= wall for _, o in ended)
    assert read_json(tmp_path / "s2" / "summary.json")["epochs_completed"] == 0
    assert not (tmp_path / "s3").exists()


@pytest.mark.parametrize(("setup_raises", "next_chunk"), [("ctrl-c", False), ("error", True)])
def test_a_chunk_whose_one_trial_ends_in_setup_lets_the_next_start_unless_interrupted(
    monkeypatch, tmp_path, setup_raises, next_chunk
):
    """Chunks of one trial: s0 ends while it sets up. Ctrl-C there stops the sweep's later
    chunks; an error of s0's own does not stop s1."""
    from mlpx.groups import stacked

    error = KeyboardInterrupt() if setup_raises == "ctrl-c" else OSError("disk full")
    raise_in_run_dir(monkeypatch, "write_config", {("s0", None): error})
    monkeypatch.setattr(stacked, "chunk_size", lambda *args: 1)
    tasks = seeds(2)
    ended = [(t.name, o.status) for t, o in run_stacked(tasks, tmp_path)]
    first = ("s0", "interrupted" if setup_raises == "ctrl-c" else "failed")
    assert ended == ([first, ("s1", "completed")] if next_chunk else [first])


def test_a_trial_interrupted_on_its_own_stops_the_others_even_if_one_ends_beside_it(
    monkeypatch, tmp_path
):
    """Ctrl-C lands in s0's bookkeeping of epoch 2 (of 4), in the round where s1 stops early
    (completed): s2 must not train on, but end interrupted after 2 epochs."""
    raise_in_run_dir(monkeypatch, "append_metrics", {("s0", 2): KeyboardInterrupt()})
    four = STACK_BASE | {"train": {"epochs": 4}}
    stops = {"optimizer": {"name": "sgd", "lr": 2.0}, "train": {"epochs": 4, "early_stopping": 1}}
    configs = [four | {"seed": 0}, four | stops | {"seed": 3}, four | {"seed": 2}]
    tasks = [TrialTask(f"s{k}", config) for k, config in enumerate(configs)]
    ended = [
        (t.name, o.status, o.summary["epochs_completed"]) for t, o in run_stacked(tasks, tmp_path)
    ]
    assert ended == [("s0", "interrupted", 1), ("s1", "completed", 2), ("s2", "interrupted", 2)]


def test_a_stack_leaves_its_trials_plots_to_mlpx_plot(tmp_path):
    """Drawing outlasts training: with plots on, a stacked trial writes everything else."""

    config = {"backend": "numpy", "train": {"epochs": 2}}
    tasks = [TrialTask(f"s{seed}", config | {"seed": seed}) for seed in (0, 1)]
    assert [o.status for _, o in run_stacked(tasks, tmp_path)] == ["completed"] * 2
    for task in tasks:
        assert (tmp_path / task.name / "report.txt").is_file()
        assert not (tmp_path / task.name / "plots").exists()


def test_run_stacked_trains_each_trial_as_run_trial_does(tmp_path):
    """In this process: each trial of a stack (its own seed and data split, float64 data)
    holds the numbers of the same trial run alone."""

    config = STACK_BASE | {"dtype": "float64", "optimizer": {"name": "sgd", "lr": 0.05}}
    tasks = [TrialTask(f"s{seed}", config | {"seed": seed}) for seed in (0, 1)]
    assert [o.status for _, o in run_stacked(tasks, tmp_path / "stack")] == ["completed"] * 2
    for task in tasks:
        alone = tmp_path / "alone" / task.name
        assert run_trial(task, alone).status == "completed"
        assert_same_run(tmp_path / "stack" / task.name, alone)


def test_run_trial_turns_every_way_a_trial_ends_into_its_outcome(monkeypatch, tmp_path):
    """A trial in a process of its own (``run_trial``): completed without error, early
    stopping's message being none; diverged with its message; an existing directory
    refused with that directory's summary; a bug in a step failed with its type and
    message; Ctrl-C before the loop interrupted. Each with the time it took, and each run
    records the sweep's command line."""
    from mlpx.backends.numpy.backend import NumpyBackend
    from mlpx.runs import RunDir

    sgd = {"optimizer": {"name": "sgd", "lr": 0.01}}
    stops = {"optimizer": {"name": "sgd", "lr": 2.0}, "seed": 3}
    stops |= {"train": {"epochs": 3, "early_stopping": 1}}
    cases = {
        "ok": (STACK_BASE | sgd, "completed", None),
        "stops": (STACK_BASE | stops, "completed", None),
        "diverges": (STACK_BASE | {"optimizer": {"name": "sgd", "lr": 1e12}}, "diverged", ""),
    }
    for name, (config, status, error) in cases.items():
        started = time.perf_counter()
        outcome = run_trial(TrialTask(name, config, command=SWEEP_COMMAND), tmp_path / name)
        summary = read_json(tmp_path / name / "summary.json")
        assert (outcome.status, outcome.summary) == (status, summary), name
        assert outcome.error == (summary["message"] if error is not None else None), name
        assert 0 < outcome.seconds <= time.perf_counter() - started
        assert read_json(tmp_path / name / "env.json")["command"] == SWEEP_COMMAND
    assert read_json(tmp_path / "stops" / "summary.json")["message"].startswith("early stop")

    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "summary.json").write_text('{"status": "completed", "mine": 1}')
    taken = run_trial(TrialTask("taken", STACK_BASE), tmp_path / "taken")
    assert (taken.status, taken.summary) == ("failed", {"status": "completed", "mine": 1})
    assert taken.error == f"{tmp_path / 'taken'} already exists; mlpx never overwrites a run"
    (tmp_path / "file").write_text("not a directory")
    blocked = run_trial(TrialTask("t", STACK_BASE), tmp_path / "file" / "t")
    assert (blocked.status, blocked.summary) == ("failed", None)
    assert blocked.error == f"run directory: {tmp_path / 'file'} exists and is not a directory"

    def bug(*args):
        raise ValueError("a bug in a step")

    with monkeypatch.context() as patch:
        patch.setattr(NumpyBackend, "train_step", bug)
        failed = run_trial(TrialTask("bug", STACK_BASE), tmp_path / "bug")
    assert (failed.status, failed.error) == ("failed", "ValueError: a bug in a step")
    assert failed.summary == read_json(tmp_path / "bug" / "summary.json")
    assert failed.summary["status"] == "failed"

    def ctrl_c(*args):
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        patch.setattr(RunDir, "write_env", ctrl_c)  # after config.yaml, before the summary
        started = time.perf_counter()
        stopped = run_trial(TrialTask("stopped", STACK_BASE), tmp_path / "stopped")
    assert (stopped.status, stopped.error, stopped.summary) == ("interrupted", "interrupted", None)
    assert 0 < stopped.seconds <= time.perf_counter() - started
    assert (tmp_path / "stopped" / "config.yaml").is_file()


# --- how many trials a stack holds ---------------------------------------------------------


def test_a_trials_bytes_are_its_parameters_state_and_a_batchs_activations():
    """64-32-16-10 on batches of 64, worked out by hand: 2,778 parameters (with biases)
    held four times (weights, gradients, two optimizer slots), and per sample the inputs,
    the outputs of every layer and five arrays per hidden unit."""
    from mlpx.config import load_config
    from mlpx.groups.stacked import trial_bytes

    params = (64 * 32 + 32) + (32 * 16 + 16) + (16 * 10 + 10)
    assert params == 2778
    activations = 64 * ((64 + 32 + 16 + 10) + 5 * (32 + 16))
    for dtype, itemsize in (("float32", 4), ("float64", 8)):
        config = load_config(None, ["model.hidden=[32,16]", "train.batch_size=64"])
        config.dtype = dtype
        assert trial_bytes(config, 64, 10) == itemsize * (4 * params + activations)


MEMINFO = "MemTotal:       24000000 kB\nMemFree:         1000000 kB\nMemAvailable:    9000000 kB\n"


@pytest.mark.parametrize(
    ("meminfo", "sysconf", "expected"),
    [
        (MEMINFO, None, 9_000_000 * 1024),  # Linux: MemAvailable, in kB
        (MEMINFO.replace("MemAvailable", "Available"), "pages", 1000 * 4096),  # no such line
        (None, "pages", 1000 * 4096),  # no /proc/meminfo: the free pages
        (None, None, 1 << 30),  # neither: 1 GiB
    ],
    ids=["meminfo", "no-line", "no-proc", "nothing"],
)
def test_available_memory_reads_memavailable_else_the_free_pages_else_1_gib(
    monkeypatch, meminfo, sysconf, expected
):
    import io

    from mlpx.groups import stacked

    def fake_open(path, *args, **kwargs):
        if path != "/proc/meminfo" or meminfo is None:
            raise FileNotFoundError(path)
        return io.StringIO(meminfo)

    def fake_sysconf(name):
        if sysconf is None:
            raise ValueError(name)
        return {"SC_AVPHYS_PAGES": 1000, "SC_PAGE_SIZE": 4096}[name]

    monkeypatch.setattr(stacked, "open", fake_open, raising=False)
    monkeypatch.setattr(stacked.os, "sysconf", fake_sysconf)
    assert stacked.available_memory() == expected


def test_a_chunk_is_the_memory_share_over_a_trials_bytes_and_at_least_one(monkeypatch):
    from mlpx.config import load_config
    from mlpx.groups import stacked

    config = load_config(None, [])
    one = stacked.trial_bytes(config, 64, 10)
    for memory, size in ((one * 40 + 3, 10), (one * 4, 1), (one * 3, 1), (0, 1)):
        monkeypatch.setattr(stacked, "available_memory", lambda memory=memory: memory)
        assert stacked.chunk_size(config, 64, 10) == size  # a quarter of it, rounded down


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_stacks_trials_get_their_seeds_data_in_their_dtype_loaded_once_per_seed(dtype):
    """What each trial trains on is what its separate run loads: split by its seed, in its
    dtype (normalised in float32 for a float32 stack, not cast from float64)."""
    from mlpx.config import build_config
    from mlpx.data import load_dataset
    from mlpx.groups.stacked import _shared_datasets

    configs = [build_config(STACK_BASE | {"dtype": dtype, "seed": s}) for s in (0, 0, 1)]
    datasets = _shared_datasets(configs)
    assert datasets[0] is datasets[1] and datasets[2] is not datasets[0]
    for config, data in zip(configs, datasets, strict=True):
        alone = load_dataset(config.data, config.seed, config.dtype)
        for part in ("x_train", "y_train", "x_val", "y_val"):
            got, expected = getattr(data, part), getattr(alone, part)
            assert got.dtype == expected.dtype
            np.testing.assert_array_equal(got, expected)
    assert datasets[0].x_train.dtype == np.dtype(dtype)
    assert not np.array_equal(datasets[0].y_val, datasets[2].y_val)
