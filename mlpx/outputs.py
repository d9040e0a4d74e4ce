"""Files a command is about to write, checked before any work starts.

A user who asks for ``--out labels.csv`` or ``--plot ce.png`` learns that the place cannot be
written before minutes of computing, not after; and two outputs of one command may not be the
same file (the second would overwrite the first). Every check raises one :class:`UsageError`
naming the option, the path and the real cause.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlpx.errors import UsageError


def check_output_file(
    path: Path,
    option: str,
    force: bool = False,
    suffixes: tuple[str, ...] = (),
    create_parents: bool = False,
) -> None:
    """Refuse an output path that cannot or must not be written.

    Parameters
    ----------
    path : the file to be written.
    option : how the user named it (``--out``), for the message.
    force : an existing file may be replaced.
    suffixes : the allowed endings (lower case, e.g. ``(".csv", ".npy")``); empty for any.
    create_parents : missing folders will be created (else the folder must exist).

    Raises
    ------
    UsageError
        wrong ending, a folder, an existing file without ``force``, a name too long, a parent
        that is a file, a symlink loop, a missing folder, or a folder that is not writable.
    """
    where = f"{option} {path}"
    if suffixes and path.suffix.lower() not in suffixes:
        raise UsageError(f"{where}: the file name must end in {' or '.join(suffixes)}")
    _check_name_lengths(path, where)
    if path.is_symlink() and not path.exists():
        raise UsageError(
            f"{where}: is a symbolic link that leads nowhere (a loop or a missing target)"
        )
    if path.is_dir():
        raise UsageError(f"{where}: is a directory; give a file name")
    if path.exists() and not force:
        raise UsageError(f"{where}: file exists; pass --force to overwrite it")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{where}: the file is read-only")
    folder = _existing_folder(path.parent, where, create_parents)
    _probe(folder, where)


def check_distinct(outputs: dict[str, Path | None]) -> None:
    """Refuse two options that name the same file (``--json x --plot x``)."""
    seen: dict[str, str] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        key = os.path.normcase(os.path.abspath(path.expanduser()))
        if key in seen:
            raise UsageError(
                f"{seen[key]} and {option} both name {path}; give each output a file of its own"
            )
        seen[key] = option


def _probe(folder: Path, where: str) -> None:
    """Create and delete a file in ``folder``: the one sure test that a file can be written
    there (permissions, a read-only file system, /proc)."""
    probe = folder / f".mlpx-probe-{os.getpid()}"
    try:
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise UsageError(f"{where}: cannot write in {folder} ({exc.strerror})") from None
    probe.unlink(missing_ok=True)


def _check_name_lengths(path: Path, where: str) -> None:
    limit = 255
    for part in path.parts:
        if len(os.fsencode(part)) > limit:
            raise UsageError(
                f"{where}: the name {part[:20]}... is {len(os.fsencode(part))} bytes long; "
                f"file names may have at most {limit}"
            )


def _existing_folder(folder: Path, where: str, create_parents: bool) -> Path:
    """``folder`` (or, when folders will be created, its nearest existing ancestor), checked
    to be a directory."""
    current = folder if str(folder) else Path(".")
    while True:
        if current.is_symlink() and not current.exists():
            raise UsageError(
                f"{where}: {current} is a symbolic link that leads nowhere (a loop or a "
                "missing target)"
            )
        if current.is_dir():
            return current
        if current.exists():
            raise UsageError(f"{where}: {current} is a file, not a directory")
        if not create_parents:
            raise UsageError(f"{where}: directory {current} does not exist")
        if current.parent == current:
            return current
        current = current.parent
