"""Issue 18, items 3 and 5: every command ends in one line and a true exit code, whatever the
user hands it, and writes nothing it was not asked to; outputs are checked before the work."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO
from fake_datasets import write_challenge
from test_datasets import one_error_line

QUICK = ("train.epochs=2", "output.plots=false")


def mlpx(*args: object, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """The real console entry point in a process of its own (what a user's shell runs)."""
    env = os.environ | {"PYTHONPATH": str(REPO), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "mlpx", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def only_error(result: subprocess.CompletedProcess, code: int) -> str:
    """The one ``error:`` line of a failed command (stdout empty, no traceback)."""
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert result.stdout == "", result.stdout
    return lines[0]


@contextlib.contextmanager
def read_only(path: Path):
    """Make the directory ``path`` unwritable, even for root (a read-only bind mount)."""
    if os.geteuid() != 0:
        path.chmod(0o555)
        try:
            yield
        finally:
            path.chmod(0o755)
        return
    mount = subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True)
    if mount.returncode != 0:
        pytest.skip("root cannot make a read-only directory here (no mount)")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(path)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True)


def forged_npz(path: Path, shape: tuple[int, ...]) -> Path:
    """An .npz whose data_x header claims ``shape`` over a few real bytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": shape}
    )
    labels = io.BytesIO()
    np.save(labels, np.arange(4) % 2)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data_x.npy", header.getvalue() + np.zeros(8).tobytes())
        archive.writestr("data_y.npy", labels.getvalue())
    return path


@pytest.fixture
def toy_run(cli):
    cli.train("configs/toy.yaml", *QUICK)
    return cli.last_run()


# --- outputs checked before the work ---------------------------------------------------


def test_two_outputs_may_not_be_one_file(tmp_path):
    line = only_error(
        mlpx("crossentropy-demo", "--json", "x.png", "--plot", "x.png", cwd=tmp_path), 2
    )
    assert "--json and --plot both name x.png" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("option", ["--json", "--plot"])
def test_crossentropy_outputs_in_an_unwritable_place_fail_before_computing(tmp_path, option):
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked):
        line = only_error(mlpx("crossentropy-demo", option, locked / "out.png"), 2)
    assert line.startswith(f"error: {option} {locked / 'out.png'}: cannot write in {locked}")
    impossible = only_error(mlpx("crossentropy-demo", option, "/proc/nowhere/x.png"), 2)
    assert "cannot write in /proc" in impossible


def test_predict_out_in_a_read_only_place_and_on_a_read_only_run(cli, toy_run, tmp_path):
    data = tmp_path / "toy.npz"
    np.savez(data, data_x=np.random.default_rng(0).standard_normal((5, 4)))
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked):
        line = only_error(mlpx("predict", toy_run, "--data", data, "--out", locked / "p.csv"), 2)
        assert f"cannot write in {locked}" in line
    before = sorted(p.name for p in toy_run.iterdir())
    with read_only(toy_run):
        line = only_error(mlpx("predict", toy_run, "--data", data), 2)
    assert f"--out {toy_run / 'predictions-toy.csv'}: cannot write in {toy_run}" in line
    assert sorted(p.name for p in toy_run.iterdir()) == before


def test_out_under_a_file_names_the_file(cli, toy_run, tmp_path):
    data = tmp_path / "toy.npz"
    np.savez(data, data_x=np.zeros((2, 4)))
    (tmp_path / "afile").write_text("mine\n")
    result = cli("predict", toy_run, "--data", data, "--out", tmp_path / "afile/x.csv", expect=2)
    assert f"{tmp_path / 'afile'} is a file, not a directory" in one_error_line(result)
    assert (tmp_path / "afile").read_text() == "mine\n"


def test_a_symlink_loop_is_called_a_loop(cli, toy_run, tmp_path):
    data = tmp_path / "toy.npz"
    np.savez(data, data_x=np.zeros((2, 4)))
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    line = one_error_line(
        cli("predict", toy_run, "--data", data, "--out", loop / "x.csv", expect=2)
    )
    assert "symbolic link that leads nowhere (a loop" in line
    line = one_error_line(cli("train", "configs/toy.yaml", "--runs-dir", loop, expect=2))
    assert "symbolic link that leads nowhere (a loop" in line and "not a directory" not in line


# --- memory estimated before allocating -----------------------------------------------


def test_a_model_too_big_for_memory_is_refused_before_allocating(cli, write_config):
    huge = write_config({"model": {"hidden": [100_000_000]}, "train": {"epochs": 1}})
    line = one_error_line(cli("train", huge, "--runs-dir", cli.runs_dir, expect=2))
    assert "model.hidden [100000000] (7,500,000,010 parameters) needs about" in line
    assert "GiB of memory but" in line and "use a smaller model" in line
    assert not cli.runs_dir.exists()
    line = one_error_line(cli("gradcheck", "--config", huge, expect=2))
    assert "model.hidden [100000000]" in line and "of memory" in line


def test_a_crossentropy_batch_too_big_and_a_negative_seed_are_refused(cli):
    big = cli("crossentropy-demo", "--batch-size", "100000000", "--classes", "100000", expect=2)
    assert "--batch-size 100000000 --classes 100000 needs about" in one_error_line(big)
    seed = one_error_line(cli("crossentropy-demo", "--seed", "-1", expect=2))
    assert seed == "error: --seed -1: must be an integer from 0 to 2**63 - 1"


def test_an_npz_header_claiming_more_than_the_file_holds(cli, tmp_path):
    path = forged_npz(tmp_path / "big.npz", (100_000_000_000, 5))
    result = cli.train("configs/npz-challenge.yaml", f"data.path={path}", expect=2)
    line = one_error_line(result)
    assert "data_x's header claims shape (100000000000, 5) (3725.3 GiB)" in line
    assert "the file is damaged" in line


def test_a_text_file_as_data_gets_no_allow_pickle_advice(cli, tmp_path):
    path = tmp_path / "data.npz"
    path.write_text("x,y\n1,2\n")
    line = one_error_line(cli.train("configs/npz-challenge.yaml", f"data.path={path}", expect=2))
    assert "allow_pickle" not in line
    assert "not a readable .npz archive (it starts with text" in line
    assert "np.savez(path, data_x=" in line


# --- the one rule for everything else ----------------------------------------------------


def test_a_full_disk_is_one_line_exit_1(cli, tmp_path, monkeypatch):
    from mlpx.diagnostics import crossentropy

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(crossentropy, "write_json_atomic", full)
    out = tmp_path / "ce.json"
    args = ["crossentropy-demo", "--iterations", "2", "--json", out]
    result = cli(*args, expect=1)
    assert (
        result.output.strip().splitlines()[-1] == f"error: {out}: the disk is full; free some space"
    )
    assert not out.exists()


def test_a_bug_is_one_line_and_a_traceback_file(cli, monkeypatch):
    from mlpx.diagnostics import crossentropy

    def broken(settings):
        return {}["no such key"]

    monkeypatch.setattr(crossentropy, "run_demo", broken)
    line = one_error_line(cli("crossentropy-demo", expect=1))
    assert line.startswith("error: internal error: KeyError: 'no such key'; the traceback is in ")
    path = Path(line.split("the traceback is in ")[1].split(" (please report it)")[0])
    text = path.read_text()
    path.unlink()
    assert text.startswith("Traceback") and "def broken" not in text and "broken" in text


def test_tol_nan_is_not_a_number():
    line = only_error(mlpx("gradcheck", "--tol", "nan"), 2)
    assert "nan is not a number; give a finite one >= 0" in line
    assert "greater than or equal" not in line


def test_the_console_script_path_has_the_same_rule(tmp_path):
    (tmp_path / "c.yaml").write_text(yaml.safe_dump({"model": {"hidden": [100_000_000]}}))
    only_error(mlpx("gradcheck", "--config", tmp_path / "c.yaml"), 2)
    data = write_challenge(tmp_path / "c.npz", n=40, classes=2)
    assert data.is_file()


def test_predict_names_a_missing_run_not_its_default_output(cli, tmp_path):
    data = tmp_path / "toy.npz"
    np.savez(data, data_x=np.zeros((2, 4)))
    line = one_error_line(cli("predict", tmp_path / "nothing", "--data", data, expect=2))
    expected = "no such directory; give a run directory written by mlpx train"
    assert line == f"error: {tmp_path / 'nothing'}: {expected}"


def test_see_summary_json_only_when_the_run_wrote_one(cli, monkeypatch):
    from mlpx.backends.numpy.backend import NumpyBackend
    from mlpx.runs import RunDir

    def crash(*args):
        raise ValueError("a bug in a step")

    monkeypatch.setattr(NumpyBackend, "train_step", crash)
    result = cli.train("configs/toy.yaml", *QUICK, expect=1)
    line = result.output.strip().splitlines()[-1]  # after the run's progress lines
    Path(line.split("the traceback is in ")[1].split(" (please")[0]).unlink()
    run = cli.last_run()
    assert line.startswith("error: training failed: internal error: ValueError: a bug in a step")
    assert line.endswith(f"(see {run / 'summary.json'})")
    assert (run / "summary.json").is_file()

    def too_long(*args):
        raise OSError(errno.ENAMETOOLONG, "File name too long", "runs/x")

    monkeypatch.setattr(RunDir, "create", too_long)
    line = one_error_line(cli.train("configs/toy.yaml", *QUICK, expect=2))
    assert line == "error: runs/x: the name is too long; file names may have at most 255 bytes"


EXIT_PROBE = """
import atexit, sys, threading, time
from pathlib import Path
atexit.register(Path(sys.argv[1]).write_text, "exit handlers ran")
if sys.argv[2] == "thread":  # a thread that is not a daemon: the exit waits for it
    threading.Thread(target=lambda: (time.sleep(0.5), print("thread done", flush=True))).start()
sys.argv = ["mlpx", *sys.argv[3:]]
from mlpx.__main__ import main
main()
"""


@pytest.mark.parametrize("thread", ["none", "thread"])
@pytest.mark.parametrize(("args", "code"), [(["--version"], 0), (["train", "no-such.yaml"], 2)])
def test_the_quick_exit_keeps_exit_codes_output_and_exit_handlers(tmp_path, thread, args, code):
    """mlpx skips the interpreter's teardown at exit but not what a normal exit does: the
    status, everything printed (into a pipe), atexit handlers, and waiting for threads."""
    marker = tmp_path / "marker"
    result = subprocess.run(
        [sys.executable, "-c", EXIT_PROBE, str(marker), thread, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        check=False,
    )
    assert result.returncode == code, result.stderr
    assert marker.read_text() == "exit handlers ran"
    if code:
        assert result.stderr.strip() == "error: no-such.yaml: no such config file"
    else:
        # the thread may print first: starting mlpx can outlast its 0.5 s on a busy machine
        assert any(line.startswith("mlpx ") for line in result.stdout.splitlines())
    assert ("thread done" in result.stdout) == (thread == "thread")


def test_a_profiler_around_mlpx_still_gets_its_report(tmp_path):
    """``python -m cProfile -o FILE -m mlpx ...`` writes FILE after mlpx returns: the quick
    exit steps aside for a profiler."""
    out = tmp_path / "mlpx.prof"
    result = subprocess.run(
        [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "mlpx", "--version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    import pstats

    assert pstats.Stats(str(out)).total_calls > 0


FINALIZER_PROBE = """
import atexit, sys

class CtrlCInAFinalizer:
    def __del__(self):
        raise KeyboardInterrupt  # as a Ctrl-C landing while a finalizer runs

class BugInAFinalizer:
    def __del__(self):
        raise ValueError("a real bug, still reported")

def at_exit():
    CtrlCInAFinalizer()
    BugInAFinalizer()

atexit.register(at_exit)  # after the command's last line, as the report came
sys.argv = ["mlpx", "--version"]
from mlpx.__main__ import main
main()
"""


def test_a_ctrl_c_that_lands_in_a_finalizer_prints_no_traceback(tmp_path):
    """Python drops an exception raised in a finalizer (or a fork handler) and prints its
    traceback: for a Ctrl-C that came as the command ended, mlpx drops the traceback too;
    any other such exception is still reported."""
    result = subprocess.run(
        [sys.executable, "-c", FINALIZER_PROBE],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        check=False,
    )
    assert result.returncode == 0 and result.stdout.startswith("mlpx ")
    assert "KeyboardInterrupt" not in result.stderr
    assert "ValueError: a real bug, still reported" in result.stderr


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_a_path_that_is_no_directory_is_named_so_by_every_command_that_reads_runs(
    cli, tmp_path, kind
):
    path = tmp_path / "given"
    if kind == "file":
        path.write_text("x")
    said = "no such directory" if kind == "missing" else "not a directory"
    other = tmp_path / "other"
    other.mkdir()
    commands = {
        ("compare", path, other): f"error: {path}: {said}",
        ("train", "--resume", path): f"error: --resume {path}: {said}",
        ("plot", path): f"error: {path}: {said}; give a run directory written by mlpx train",
    }
    for command, line in commands.items():
        assert one_error_line(cli(*command, expect=2)) == line
