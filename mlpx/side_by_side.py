"""Independent pieces of work run at the same time, one here and the others in forked copies
of this process: drawing a sweep's or a run's plots, which is single-threaded matplotlib
(about half a second a figure here) while the machine's other cores wait.

A forked child shares what this process has loaded (matplotlib, the run's arrays) and starts
in milliseconds. It only draws and writes its file: it ignores Ctrl-C (this process stops it)
and ends with ``os._exit``, so it runs no exit handlers and flushes none of this process's
buffers. A piece whose child fails runs again here, so its error is raised here as it would
have been without the children; where forking is not safe (not Linux, CUDA in use) or there is
one core, every piece runs here in turn.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
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
    """Run every piece, on up to ``cores`` cores (default: :func:`usable_cores`): the first
    here, then this process and forked children take the others one at a time, in order, each
    the next one left, until none is left; returns when all have run.

    A piece that failed in a child (an exception, a signal) runs again here afterwards,
    raising what it raises; one that fails here raises at once. Ctrl-C here kills the
    children and is raised.
    """
    global _children
    pieces = list(pieces)
    # a piece that is itself side by side gets the cores its call's children leave (in a
    # child, its one core)
    free = (usable_cores() if cores is None else cores) - _children
    workers = 1 if _in_child else min(len(pieces), free)
    if workers < 2 or len(pieces) > MAX_PIECES or not can_fork():
        for piece in pieces:
            piece()
        return
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
        pieces[0]()
        here = {0} | _take(pieces, todo_r, None)
        while children:
            os.waitpid(children[0], 0)
            children.pop(0)
            _children -= 1
        done = here | set(_read_all(done_r))
    finally:
        for pid in children:  # only after Ctrl-C or an error here
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            _children -= 1
        for fd in (todo_r, done_r, done_w):
            if fd >= 0:
                os.close(fd)
    for index, piece in enumerate(pieces):
        if index not in done:
            piece()


MAX_PIECES = 255
"""A piece's number travels as one byte."""

_in_child = False
"""Whether this process is a child of :func:`side_by_side`."""
_children = 0
"""How many children :func:`side_by_side` calls of this process have running."""


def _take(pieces: list[Callable[[], object]], todo: int, done: int | None) -> set[int]:
    """Run the pieces whose numbers this process reads from ``todo``, until none is left;
    the numbers of those it ran. In a child (``done`` given), a piece that raises is left
    for the parent and the others go on; each one that ran is written to ``done``."""
    ran = set()
    while index := os.read(todo, 1):
        if done is None:
            pieces[index[0]]()
        else:
            try:
                pieces[index[0]]()
            except BaseException:  # the parent runs it again and reports what it raises
                continue
            os.write(done, index)
        ran.add(index[0])
    return ran


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    return b"".join(chunks)


def _fork(pieces: list[Callable[[], object]], todo: int, done: int) -> int:
    """A forked child that takes pieces from ``todo`` (see :func:`_take`); its process id."""
    pid = os.fork()
    if pid:
        return pid
    global _in_child
    _in_child = True
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the children
        _take(pieces, todo, done)
    finally:
        os._exit(0)
