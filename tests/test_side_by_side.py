"""side_by_side: pieces of work (plots) run at once in forked children, each exactly once,
and a piece that fails in a child runs again here with its error."""

from __future__ import annotations

import os
import signal
import sys
import time
import types
from pathlib import Path

import pytest

from mlpx import side_by_side as sbs

PARENT = os.getpid()
pytestmark = pytest.mark.skipif(not sbs.can_fork(), reason="forks on Linux only")


@pytest.fixture(autouse=True)
def no_child_left():
    yield
    assert sbs._children == 0


def writer(directory: Path, name: str, wait_for: Path | None = None):
    """A piece that writes name -> the pid that ran it (after ``wait_for`` exists)."""

    def piece() -> None:
        if wait_for is not None:
            deadline = time.monotonic() + 20
            while not wait_for.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        (directory / name).write_text(str(os.getpid()))

    return piece


def ran_by(directory: Path) -> dict[str, int]:
    return {path.name: int(path.read_text()) for path in directory.iterdir()}


def test_every_piece_runs_once_and_a_child_takes_some(tmp_path):
    # the first piece (always here) waits for the last one: only a child can have run it
    names = [f"p{k}" for k in range(6)]
    pieces = [writer(tmp_path, names[0], wait_for=tmp_path / names[-1])]
    pieces += [writer(tmp_path, name) for name in names[1:]]
    sbs.side_by_side(pieces, cores=2)
    pids = ran_by(tmp_path)
    assert sorted(pids) == names
    assert pids["p0"] == PARENT
    assert pids["p5"] != PARENT


def test_one_core_runs_everything_here_in_order(tmp_path):
    order = []
    sbs.side_by_side([lambda k=k: order.append((k, os.getpid())) for k in range(4)], cores=1)
    assert order == [(k, PARENT) for k in range(4)]


def test_a_piece_that_fails_in_a_child_runs_again_here(tmp_path):
    def flaky() -> None:  # raises anywhere but here
        if os.getpid() != PARENT:
            (tmp_path / "flaky-tried").write_text(str(os.getpid()))
            raise RuntimeError("child")
        (tmp_path / "flaky").write_text(str(os.getpid()))

    def killed() -> None:  # a child dies of a signal in it
        if os.getpid() != PARENT:
            (tmp_path / "killed-tried").write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        (tmp_path / "killed").write_text(str(os.getpid()))

    # the first piece keeps this process busy until the child has tried the other three
    first = writer(tmp_path, "first", wait_for=tmp_path / "killed-tried")
    start = time.monotonic()
    sbs.side_by_side([first, writer(tmp_path, "after"), flaky, killed], cores=2)
    assert time.monotonic() - start < 20
    pids = ran_by(tmp_path)
    child = pids["after"]
    assert child != PARENT and pids["flaky-tried"] == child and pids["killed-tried"] == child
    assert pids["flaky"] == PARENT and pids["killed"] == PARENT and pids["first"] == PARENT


def test_an_error_stops_no_other_piece_and_the_first_is_raised_after_them(tmp_path):
    def broken(what: str):
        def piece() -> None:
            raise ValueError(f"cannot draw {what}: disk full")

        return piece

    pieces = [broken("first"), writer(tmp_path, "a"), broken("second"), writer(tmp_path, "b")]
    with pytest.raises(ValueError, match="cannot draw first: disk full"):
        sbs.side_by_side(pieces, cores=2)
    assert set(ran_by(tmp_path)) == {"a", "b"}
    errors = sbs.run_all(pieces, cores=2)
    assert [str(e) if e else None for e in errors] == [
        "cannot draw first: disk full", None, "cannot draw second: disk full", None
    ]  # fmt: skip
    errors = sbs.run_all(pieces, cores=1)  # the same without children
    assert [e is None for e in errors] == [False, True, False, True]


def test_ctrl_c_here_lets_the_children_finish_their_piece_then_is_raised(tmp_path):
    def slow(name: str, seconds: float):
        def piece() -> None:
            (tmp_path / f"{name}-started").write_text(str(os.getpid()))
            time.sleep(seconds)
            (tmp_path / name).write_text(str(os.getpid()))

        return piece

    def interrupted() -> None:
        deadline = time.monotonic() + 20
        while not (tmp_path / "slow-started").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        raise KeyboardInterrupt

    pieces = [interrupted, slow("slow", 0.5), slow("later", 0), slow("last", 0)]
    with pytest.raises(KeyboardInterrupt):
        sbs.side_by_side(pieces, cores=2)
    pids = ran_by(tmp_path)
    assert pids["slow"] != PARENT  # finished, not killed halfway
    assert "later-started" not in pids and "last-started" not in pids  # none handed out
    with pytest.raises(ProcessLookupError):  # the child has ended and was reaped
        os.kill(pids["slow"], 0)


def test_ctrl_c_here_kills_a_child_that_outlasts_the_grace(tmp_path, monkeypatch):
    monkeypatch.setattr(sbs, "GRACE", 0.2)

    def slow() -> None:
        (tmp_path / "slow").write_text(str(os.getpid()))
        time.sleep(60)

    def interrupted() -> None:
        deadline = time.monotonic() + 20
        while not (tmp_path / "slow").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        raise KeyboardInterrupt

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        sbs.side_by_side([interrupted, slow], cores=2)
    assert time.monotonic() - start < 20
    child = int((tmp_path / "slow").read_text())
    assert child != PARENT and sbs._children == 0
    with pytest.raises(ProcessLookupError):  # killed and reaped
        os.kill(child, 0)


ORPHAN = """
import os, sys, time
from pathlib import Path
from mlpx import side_by_side as sbs
out = Path(sys.argv[1])

def write(name):
    def piece():
        (out / name).write_text(str(os.getpid()))
    return piece

def outlives_parent():
    parent = os.getppid()  # before the parent may go
    (out / "started").write_text(str(os.getpid()))
    while os.getppid() == parent:  # until the parent is gone
        time.sleep(0.01)

def parent_dies():
    while not (out / "started").exists():
        time.sleep(0.01)
    os._exit(0)  # as a SIGKILL would end it: no cleanup

sbs.side_by_side([parent_dies, outlives_parent, write("next"), write("last")], cores=2)
"""


def test_a_child_whose_parent_is_gone_takes_no_further_piece(tmp_path):
    import subprocess

    from conftest import REPO

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", ORPHAN, str(tmp_path)], env=env, check=True, timeout=60)
    child = int((tmp_path / "started").read_text())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the orphan ends on its own
        try:
            state = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            break
        if state == "Z":  # ended, waiting to be reaped by whoever adopted it
            break
        time.sleep(0.01)
    else:
        pytest.fail("the orphaned child is still running")
    assert sorted(ran_by(tmp_path)) == ["started"]


def test_no_children_while_cuda_is_in_use(monkeypatch, tmp_path):
    cuda = types.SimpleNamespace(is_initialized=lambda: True)
    monkeypatch.setitem(sys.modules, "torch", types.SimpleNamespace(cuda=cuda))
    assert not sbs.can_fork()
    sbs.side_by_side([writer(tmp_path, "a"), writer(tmp_path, "b")], cores=2)
    assert set(ran_by(tmp_path).values()) == {PARENT}


def test_a_piece_that_is_itself_side_by_side_runs_its_pieces_in_its_own_process(tmp_path):
    def outer(name: str):
        def piece() -> None:
            (tmp_path / name).write_text(str(os.getpid()))
            inner = [writer(tmp_path, f"{name}-{k}") for k in range(3)]
            sbs.side_by_side(inner, cores=2)

        return piece

    first = writer(tmp_path, "first", wait_for=tmp_path / "b-2")  # b runs in a child
    sbs.side_by_side([first, outer("a"), outer("b")], cores=2)
    pids = ran_by(tmp_path)
    assert pids["b"] != PARENT
    for name in ("a", "b"):  # the child's inner pieces ran in it (no grandchildren)
        assert all(pids[f"{name}-{k}"] == pids[name] for k in range(3))


def test_a_piece_here_that_is_side_by_side_leaves_the_busy_cores_to_its_calls_children(
    tmp_path,
):
    def outer() -> None:  # runs here while the outer call's child holds the other core
        writer(tmp_path, "outer", wait_for=tmp_path / "child-started")()
        sbs.side_by_side([writer(tmp_path, f"inner-{k}") for k in range(3)], cores=2)

    def child() -> None:  # in the child, busy until the inner pieces have run
        (tmp_path / "child-started").write_text(str(os.getpid()))
        writer(tmp_path, "child", wait_for=tmp_path / "inner-2")()

    sbs.side_by_side([outer, child], cores=2)
    pids = ran_by(tmp_path)
    assert pids["outer"] == PARENT and pids["child"] != PARENT
    assert all(pids[f"inner-{k}"] == PARENT for k in range(3))
    assert sbs._children == 0
