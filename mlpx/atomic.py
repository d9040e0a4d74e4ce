"""Atomic file writes: the one way mlpx replaces a file so that a crash never leaves half of it.

A file is written to a temporary file in the same directory, fsynced and renamed over the
target. Run directories (:mod:`mlpx.runs`), sweeps, predictions, the dataset caches and the
diagnostics all write through here; it imports nothing of mlpx, so any module may use it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace ``path`` with ``data`` as indented JSON, atomically."""
    write_text_atomic(path, json_text(data))


def json_text(data: Any) -> str:
    """``data`` as a run's JSON files hold it: indented, NumPy values as Python's."""
    return json.dumps(data, indent=2, default=json_default) + "\n"


def write_arrays_atomic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Replace ``path`` with ``arrays`` as an uncompressed .npz file, atomically."""
    # A file object, not a name: np.savez would append ".npz" to the temporary name.
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


def json_default(value: Any) -> Any:
    """``json.dumps``'s ``default``: NumPy scalars and arrays as Python numbers and lists,
    paths as strings."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
