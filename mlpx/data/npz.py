"""A user's own ``.npz`` file: ``data_x``, ``data_y`` and optionally unlabeled ``test_x``.

This is the format of a prediction challenge: labelled data to train on and unlabeled test
inputs to predict (``mlpx train`` writes their predictions to predictions.csv, and
``mlpx predict`` predicts any such file with a trained run). Inputs of any shape (N, ...) are
flattened per sample. Every way a file can be wrong is one :class:`~mlpx.errors.DataError`
that names the file and the array.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlpx.data.dataset import Source, check_inputs, check_labels, check_targets
from mlpx.errors import DataError

READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


@dataclass
class NpzArrays:
    """The checked arrays of an .npz file.

    x : (N, ...) real inputs, N >= 1, no NaN or inf (``data_x``).
    y : (N,) int64 labels >= 0 (for regression (N, K) float64 targets), or None when the
        file has no ``data_y``.
    x_test : (M, ...) unlabeled inputs shaped like x's samples, or None (``test_x``).
    """

    x: np.ndarray
    y: np.ndarray | None
    x_test: np.ndarray | None


def load(config, task: str = "classification") -> Source:
    """Read and check ``data.path`` for training: labels 0..C-1 with every class present,
    or for ``task`` regression real targets (N,) or (N, K)."""
    path = Path(config.path).expanduser()
    arrays = read(path, training=True, task=task)
    x = arrays.x
    return Source(
        x=x,
        y=arrays.y,
        x_test=arrays.x_test,
        image_shape=x.shape[1:] if x.ndim in (3, 4) else None,
    )


def read(path: Path, training: bool, task: str = "classification") -> NpzArrays:
    """Read ``path`` and check every array in it.

    Parameters
    ----------
    path : the .npz file.
    training : the file is to train on: ``data_y`` is required, must hold at least two
        classes, and every class 0..C-1 must occur. Otherwise (``mlpx predict``) ``data_y`` is
        optional and only checked to be labels.
    task : ``regression``: ``data_y`` holds real targets (N,) or (N, K) instead of labels.

    Raises
    ------
    DataError
        one line naming the file, the array and what is wrong.
    """
    arrays = _open(path)
    required = ("data_x", "data_y") if training else ("data_x",)
    missing = [key for key in required if key not in arrays]
    if missing:
        raise DataError(
            f"{path}: no {' or '.join(missing)} in the file (it has "
            f"{', '.join(arrays) or 'no arrays'}); expected data_x, data_y and optional test_x"
        )
    x = _inputs(arrays["data_x"], f"{path}: data_x")
    y = x_test = None
    if "data_y" in arrays and task == "regression":
        y = check_targets(arrays["data_y"], f"{path}: data_y")
    elif "data_y" in arrays:
        y = check_labels(arrays["data_y"], f"{path}: data_y")
        if len(y) != len(x):
            raise DataError(
                f"{path}: data_x has {len(x)} samples but data_y has {len(y)} labels; "
                "they must match one to one"
            )
        if training and task == "classification":
            _check_classes(y, f"{path}: data_y")
    if "test_x" in arrays:
        x_test = _inputs(arrays["test_x"], f"{path}: test_x")
        if x_test.shape[1:] != x.shape[1:]:
            raise DataError(
                f"{path}: test_x samples have shape {x_test.shape[1:]} but data_x samples "
                f"have {x.shape[1:]}"
            )
    return NpzArrays(x, y, x_test)


def _open(path: Path) -> dict[str, np.ndarray]:
    """Every array of the archive, or a DataError saying why the file cannot be read."""
    if not path.exists():
        raise DataError(f"{path}: no such file; give an .npz with data_x and data_y")
    if not path.is_file():
        raise DataError(f"{path}: not a file; give an .npz with data_x and data_y")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes)")
    try:
        loaded = np.load(path, allow_pickle=False)
    except READ_ERRORS as exc:
        raise DataError(f"{path}: not a readable .npz archive ({_gist(exc)})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise DataError(
            f"{path}: holds a single .npy array, not an .npz archive; save one with "
            "np.savez(path, data_x=..., data_y=..., test_x=...)"
        )
    arrays = {}
    with loaded:
        for key in loaded.files:
            try:
                arrays[key] = loaded[key]
            except READ_ERRORS as exc:
                raise DataError(f"{path}: cannot read {key} ({_gist(exc)})") from None
    return arrays


def _inputs(x: np.ndarray, where: str) -> np.ndarray:
    """Inputs of shape (N, ...) with N >= 1 samples of at least one real, finite number."""
    if x.ndim < 2:
        raise DataError(
            f"{where}: expected one row per sample, shape (N, features...), got {x.shape}; "
            "reshape a single feature to (N, 1)"
        )
    if len(x) == 0:
        raise DataError(f"{where}: has no samples (shape {x.shape})")
    if x[0].size == 0:
        raise DataError(f"{where}: samples have no features (shape {x.shape})")
    return check_inputs(x, where)


def _check_classes(y: np.ndarray, where: str) -> None:
    """At least two classes, numbered 0..C-1 with every one present."""
    present = np.unique(y)
    if len(present) < 2:
        raise DataError(f"{where}: every label is {present[0]}; a classifier needs two classes")
    n_absent = int(present[-1]) + 1 - len(present)
    if n_absent:
        # the first few absent labels lie below len(present) + 5: never list 0..max whole
        candidates = np.arange(min(int(present[-1]) + 1, len(present) + 5))
        absent = np.setdiff1d(candidates, present)[:5]
        shown = ", ".join(map(str, absent)) + (", ..." if n_absent > len(absent) else "")
        raise DataError(
            f"{where}: labels must be 0..C-1 with every class present; they run "
            f"{present[0]}..{present[-1]} but {shown} never occur(s) ({len(present)} distinct "
            "labels)"
        )


def _gist(exc: BaseException, limit: int = 160) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
