"""The one rule for every exception that reaches the face: one line and an exit code.

A project error (:class:`~mlpx.errors.MlpxError`) is its own line and code. An error of the
machine or of the user's files (``OSError``, ``MemoryError``, ``RecursionError``) is a line
naming the file or the size: exit 2 when the input is at fault (a path that cannot be
written, a name too long, nesting too deep), 1 when the machine is (a full disk, no memory).
Anything else is a bug of mlpx: one line and the path of a file holding the traceback, exit 1.
"""

from __future__ import annotations

import errno
import os
import tempfile
import time
import traceback

from mlpx.errors import MlpxError

INPUT_ERRNOS = frozenset(
    {
        errno.EACCES, errno.EPERM, errno.EROFS, errno.ENAMETOOLONG, errno.ENOENT,
        errno.ENOTDIR, errno.EISDIR, errno.ELOOP, errno.EEXIST, errno.ENOTEMPTY,
        errno.EINVAL, errno.EXDEV,
    }
)  # fmt: skip
"""Errors that a different path or file from the user would avoid: exit 2."""

HINTS = {
    errno.ENOSPC: "the disk is full; free some space",
    errno.EDQUOT: "the disk quota is exceeded; free some space",
    errno.EROFS: "the file system is read-only; choose another place",
    errno.EACCES: "permission denied; choose another place or fix its permissions",
    errno.EPERM: "operation not permitted; choose another place or fix its permissions",
    errno.ENAMETOOLONG: "the name is too long; file names may have at most 255 bytes",
    errno.ELOOP: "a symbolic link loops; fix or remove it",
}


def explain(exc: BaseException) -> tuple[str, int]:
    """The line and exit code for ``exc`` (any exception a command let through)."""
    if isinstance(exc, MlpxError):
        return str(exc), exc.exit_code
    if isinstance(exc, OSError):
        return _os_error(exc)
    if isinstance(exc, MemoryError):
        size = f" ({exc})" if str(exc) else ""
        return (
            f"out of memory{size}: the machine could not hold what was asked for; use a "
            "smaller model, batch or dataset",
            1,
        )
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply to process (RecursionError)", 2
    return _bug(exc), 1


def _os_error(exc: OSError) -> tuple[str, int]:
    names = [name for name in (exc.filename, exc.filename2) if name is not None]
    where = " -> ".join(os.fsdecode(name) for name in names) if names else "a file"
    reason = HINTS.get(exc.errno) or exc.strerror or type(exc).__name__
    code = 2 if exc.errno in INPUT_ERRNOS else 1
    return f"{where}: {reason}", code


def _bug(exc: BaseException) -> str:
    """Write the traceback to a file of its own; the line names it."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    gist = " ".join(str(exc).split())[:160]
    what = f"{type(exc).__name__}: {gist}" if gist else type(exc).__name__
    try:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        fd, path = tempfile.mkstemp(prefix=f"mlpx-traceback-{stamp}-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError:
        return f"internal error: {what} (the traceback could not be written)"
    return f"internal error: {what}; the traceback is in {path} (please report it)"
