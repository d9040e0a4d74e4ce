"""Independent pieces of work run at the same time, one here and the others in forked copies
of this process: drawing a sweep's or a run's plots, which is single-threaded matplotlib
(about half a second a figure here) while the machine's other cores wait.

A forked child shares what this process has loaded (matplotlib, the run's arrays) and starts
in milliseconds. It only draws and writes its file: it ignores Ctrl-C (this process stops it)
and ends with ``os._exit``, so it runs no exit handlers and flushes none of this process's
buffers; one whose parent is gone takes no further piece. A piece whose child fails runs
again here, so its error is raised here as it would have been without the children; an error
stops no other piece. Where forking is not safe (not Linux, CUDA in use) or there is one core,
every piece runs here in turn.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence


def usable_cores() -> int:
    """The cores this process may run on (its affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether a forked child may run a piece: Linux, and no CUDA context in this process
    (a child must not touch the parent's)."""
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    torch = sys.modules.get("torch")
    return torch is None or not torch.cuda.is_initialized()


def side_by_side(pieces: Sequence[Callable[[], object]], cores: int | None = None) -> None:
    """Run every piece (see :func:`run_all`), then raise the first error, in the pieces'
    order, if one raised: every other piece has run by then."""
    for error in run_all(pieces, cores):
        if error is not None:
            raise error


def run_all(
    pieces: Sequence[Callable[[], object]], cores: int | None = None
) -> list[Exception | None]:
    """Run every piece, on up to ``cores`` cores (default: :func:`usable_cores`): the first
    here, then this process and forked children take the others one at a time, in order,
    each the next one left, until none is left. Returns each piece's error (None where it
    ran): an error stops no other piece, and a piece that failed in a child (an exception, a
    signal) runs again here, so its error is the one it raises here.

    Ctrl-C here hands out no more pieces, lets the children finish the ones they draw (for
    :data:`GRACE` seconds; a second Ctrl-C or the end of it kills them) and is raised.
    """
    global _children
    pieces = list(pieces)
    # a piece that is itself side by side gets the cores its call's children leave (in a
    # child, its one core)
    free = (usable_cores() if cores is None else cores) - _children
    workers = 1 if _in_child else min(len(pieces), free)
    if workers < 2 or len(pieces) > MAX_PIECES or not can_fork():
        return [_error_of(piece) for piece in pieces]
    errors: list[Exception | None] = [None] * len(pieces)
    todo_r, todo_w = os.pipe()  # one byte per piece: whoever reads it runs the piece
    done_r, done_w = os.pipe()  # a child writes a piece's byte once it has run it
    os.write(todo_w, bytes(range(1, len(pieces))))
    os.close(todo_w)
    children: list[int] = []
    try:
        for _ in range(workers - 1):
            children.append(_fork(pieces, todo_r, done_w))
            _children += 1
        os.close(done_w)
        done_w = -1
        ran_here = {0}
        errors[0] = _error_of(pieces[0])
        while index := os.read(todo_r, 1):
            ran_here.add(index[0])
            errors[index[0]] = _error_of(pieces[index[0]])
        while children:
            os.waitpid(children[0], 0)
            children.pop(0)
            _children -= 1
        done = set(_read_all(done_r))
    except KeyboardInterrupt:
        os.read(todo_r, MAX_PIECES)  # the pieces left: no child takes another
        _stop(children, GRACE)
        raise
    finally:
        _stop(children, 0.0)  # none left but after an error in this function itself
        for fd in (todo_r, done_r, done_w):
            if fd >= 0:
                os.close(fd)
    for index, piece in enumerate(pieces):
        if index not in done and index not in ran_here:
            errors[index] = _error_of(piece)
    return errors


GRACE = 5.0
"""Seconds the children of :func:`run_all` have to finish their pieces after Ctrl-C."""

MAX_PIECES = 255
"""A piece's number travels as one byte."""

_in_child = False
"""Whether this process is a child of :func:`side_by_side`."""
_children = 0
"""How many children :func:`side_by_side` calls of this process have running."""


def _error_of(piece: Callable[[], object]) -> Exception | None:
    """Run ``piece``; the exception it raised, or None."""
    try:
        piece()
    except Exception as error:
        return error
    return None


def _stop(children: list[int], grace: float) -> None:
    """Wait up to ``grace`` seconds for ``children`` to end, then kill the ones left (at once
    on a Ctrl-C while waiting); every one is reaped."""
    global _children
    deadline = time.monotonic() + grace
    try:
        while children and time.monotonic() < deadline:
            for pid in list(children):
                try:
                    ended = os.waitpid(pid, os.WNOHANG)[0]
                except ChildProcessError:  # reaped already
                    ended = pid
                if ended:
                    children.remove(pid)
                    _children -= 1
            time.sleep(0.01)
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            _children -= 1
        children.clear()


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    return b"".join(chunks)


def _fork(pieces: list[Callable[[], object]], todo: int, done: int) -> int:
    """A forked child that takes pieces from ``todo`` one at a time until none is left (or
    this process is gone), writing each one it ran to ``done``; its process id. A piece that
    raises is left for this process to run again; the child goes on with the next."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    global _in_child
    _in_child = True
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the children
        while os.getppid() == parent and (index := os.read(todo, 1)):
            if _error_of(pieces[index[0]]) is None:
                os.write(done, index)
    finally:
        os._exit(0)
