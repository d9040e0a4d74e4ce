"""Ctrl-C and SIGTERM at any moment of a real sweep: one line, exit 130, no traceback from any
process, and a sweep that resumes (or nothing at all)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO


def catches_sigterm(pid: int) -> bool:
    """Whether mlpx's own code runs in ``pid`` (its first act is to catch SIGTERM; Python's
    start-up before it, importing site, is the interpreter's and cannot be handled)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(status.split("SigCgt:")[1].split()[0], 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


def first(path: Path, pattern: str) -> Path | None:
    return next(path.glob(pattern), None)


MOMENTS = {
    # the command line is loading (< 1 s after start)
    "loading": lambda runs: True,
    # the sweep directory exists, its first trial process (or the forkserver) is starting
    "worker start-up": lambda runs: first(runs, "sweep-*/sweep.yaml") is not None,
    # a trial is training
    "mid-trial": lambda runs: first(runs, "sweep-*/trials/*/metrics.jsonl") is not None,
    # a trial has ended: results are being written while others train
    "writing results": lambda runs: first(runs, "sweep-*/results.csv") is not None,
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("moment", "sig"),
    [(m, signal.SIGINT) for m in MOMENTS] + [("mid-trial", signal.SIGTERM)],
)
def test_an_interrupt_at_any_moment_is_one_line_and_leaves_a_resumable_sweep(tmp_path, moment, sig):
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "mlpx", "sweep", "lr", "--values", "0.1,0.01,1e-3"]
    command += ["--jobs", "2", "-s", "train.epochs=400", "-s", "output.plots=false"]
    command += ["--runs-dir", str(runs)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        # its own process group, as a shell gives a job: the signal goes to every process
        sweep = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=stdout, stderr=stderr, start_new_session=True
        )
        started = time.monotonic()
        try:
            while not catches_sigterm(sweep.pid):
                time.sleep(0.005)
            reached = MOMENTS[moment]
            while not reached(runs) and sweep.poll() is None:
                time.sleep(0.01)
            at = time.monotonic() - started
            os.killpg(sweep.pid, sig)
            code = sweep.wait(timeout=60)
        finally:
            if sweep.poll() is None:
                os.killpg(sweep.pid, signal.SIGKILL)
    output = out.read_text() + err.read_text()
    assert "Traceback" not in output, (moment, at, output)
    assert code == 130, (moment, at, output)
    errors = [line for line in err.read_text().splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: interrupted"), output
    if moment == "loading":
        assert at < 1.0 or not runs.exists()
    sweep_dir = first(runs, "sweep-*") if runs.exists() else None
    if sweep_dir is None:  # stopped before anything was written
        assert "nothing was written" in errors[0]
        return
    assert f"resume with: mlpx sweep --resume {sweep_dir}" in errors[0]
    assert not (sweep_dir / "sweep.lock").exists()
    resumable = subprocess.run(
        [sys.executable, "-m", "mlpx", "sweep", "--resume", str(sweep_dir), "--dry-run"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert resumable.returncode == 0, resumable.stderr
    assert "would run again" in resumable.stdout


def test_ctrl_c_while_the_group_lock_is_taken_leaves_no_lock(tmp_path, monkeypatch):
    """The sweep at the 'worker start-up' moment above sometimes kept sweep.lock: a Ctrl-C
    between creating the lock file and holding it escaped the clean-up."""
    import json

    from mlpx.groups import runner

    real_dump = json.dump

    def interrupted_dump(*args, **kwargs):  # Ctrl-C as the lock file is being written
        os.kill(os.getpid(), signal.SIGINT)
        real_dump(*args, **kwargs)

    monkeypatch.setattr(json, "dump", interrupted_dump)
    with pytest.raises(KeyboardInterrupt), runner._group_lock(tmp_path, "sweep.lock"):
        pytest.fail("the group ran after Ctrl-C")
    assert not (tmp_path / "sweep.lock").exists()
