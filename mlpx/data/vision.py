"""torchvision datasets on disk: expected files, downloads when allowed, one-line errors.

torchvision's own classes read the files; this module only makes sure they are there first
and turns every way that can fail (files missing, download off or impossible, unreadable
files) into a :class:`~mlpx.errors.DataError` that names the files and the folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from mlpx.errors import DataError

T = TypeVar("T")


def root_folder(root: str) -> Path:
    """``data.root`` with ``~`` expanded."""
    return Path(root).expanduser()


def one_line(exc: BaseException, limit: int = 200) -> str:
    """The gist of an exception on one line: its last non-empty line, shortened."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[-1] if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def ensure_files(
    name: str,
    folder: Path,
    files: list[str],
    download: bool,
    fetch: Callable[[], object],
    where_to_get: str,
) -> None:
    """Make sure every one of ``files`` is in ``folder``, calling ``fetch`` when allowed.

    Parameters
    ----------
    name : the dataset's name in messages, e.g. ``mnist``.
    folder : where torchvision expects the files.
    files : their names.
    download : ``data.download``; when false, missing files are an error at once.
    fetch : downloads the files (a torchvision class with ``download=True``).
    where_to_get : how a user gets them by hand, for the message.

    Raises
    ------
    DataError
        naming the missing files, the folder and how to get them.
    """
    missing = [file for file in files if not (folder / file).is_file()]
    if not missing:
        return
    if len(missing) == len(files):
        problem = f"{name}: no dataset files in {folder} (expects {', '.join(files)})"
    else:
        problem = f"{name}: missing {', '.join(missing)} in {folder} (expects {', '.join(files)})"
    if not download:
        raise DataError(f"{problem}; set data.download: true to fetch them, or {where_to_get}")
    try:
        fetch()
    except Exception as exc:  # no network, a mirror down, a bad archive: all mean the same here
        raise DataError(
            f"{problem}; downloading them failed ({one_line(exc)}): {where_to_get}"
        ) from None
    still = [file for file in files if not (folder / file).is_file()]
    if still:
        raise DataError(f"{name}: still missing {', '.join(still)} in {folder} after the download")


def read(name: str, folder: Path, open_split: Callable[[], T]) -> T:
    """``open_split()`` (a torchvision dataset reading its files), with unreadable files
    reported as one DataError naming the folder."""
    try:
        return open_split()
    except Exception as exc:  # torchvision's parsers fail with assert, ValueError, pickle errors
        raise DataError(
            f"{name}: cannot read the files in {folder} ({type(exc).__name__}: {one_line(exc)}); "
            "delete them and download again"
        ) from None
