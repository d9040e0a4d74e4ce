"""A user's own ``.npz`` file: ``data_x``, ``data_y``, optional ``test_x`` and ``test_y``.

This is the format of a prediction challenge: labelled data to train on and unlabeled test
inputs to predict (``mlpx train`` writes their predictions to predictions.csv, and
``mlpx predict`` predicts any such file with a trained run); with ``test_y`` the test set is
labelled, and runs and ``mlpx predict`` report on it. Inputs of any shape (N, ...) are
flattened per sample. Every way a file can be wrong is one :class:`~mlpx.errors.DataError`
that names the file and the array.
"""

from __future__ import annotations

import hashlib
import math
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlpx.data.dataset import Source, check_inputs, check_labels, check_targets
from mlpx.errors import DataError

HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}
READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)


@dataclass
class NpzArrays:
    """The checked arrays of an .npz file.

    x : (N, ...) real inputs, N >= 1, no NaN or inf (``data_x``); None in a file read to
        predict that holds only ``test_x``.
    y : (N,) int64 labels >= 0 (for regression (N, K) float64 targets), or None when the
        file has no ``data_y``.
    x_test : (M, ...) inputs shaped like x's samples, or None (``test_x``).
    y_test : (M,) int64 labels of x_test (for regression (M, K) float64 targets), or None
        (``test_y``).
    """

    x: np.ndarray | None
    y: np.ndarray | None
    x_test: np.ndarray | None
    y_test: np.ndarray | None = None


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
        y_test=arrays.y_test,
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
    has = f"it has {', '.join(arrays) or 'no arrays'}"
    if training:
        missing = [key for key in ("data_x", "data_y") if key not in arrays]
        if missing:
            raise DataError(
                f"{path}: no {' or '.join(missing)} in the file ({has}); expected data_x, "
                "data_y, optional test_x and test_y"
            )
    elif "data_x" not in arrays and "test_x" not in arrays:  # predict takes either
        raise DataError(
            f"{path}: no data_x or test_x in the file ({has}); expected the inputs to predict "
            "as test_x (with test_y, optional) or data_x (with data_y, optional)"
        )
    elif "data_y" in arrays and "data_x" not in arrays:
        raise DataError(f"{path}: data_y without data_x; data_y labels the samples of data_x")
    x = _inputs(arrays["data_x"], f"{path}: data_x") if "data_x" in arrays else None
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
        if x is not None and x_test.shape[1:] != x.shape[1:]:
            raise DataError(
                f"{path}: test_x samples have shape {x_test.shape[1:]} but data_x samples "
                f"have {x.shape[1:]}"
            )
    y_test = _test_labels(arrays, path, x_test, y if training else None, task)
    return NpzArrays(x, y, x_test, y_test)


def _test_labels(
    arrays: dict[str, np.ndarray],
    path: Path,
    x_test: np.ndarray | None,
    y: np.ndarray | None,
    task: str,
) -> np.ndarray | None:
    """``test_y``, checked: labels (regression: targets shaped like ``data_y``'s), one per
    ``test_x`` sample, and (given the training labels ``y``) only classes that ``data_y``
    has."""
    if "test_y" not in arrays:
        return None
    if x_test is None:
        raise DataError(f"{path}: test_y without test_x; test_y labels the samples of test_x")
    if task == "regression":
        y_test = check_targets(arrays["test_y"], f"{path}: test_y")
        if y is not None and y_test.shape[1] != y.shape[1]:
            raise DataError(
                f"{path}: test_y has {y_test.shape[1]} target(s) per sample but data_y has "
                f"{y.shape[1]}"
            )
    else:
        y_test = check_labels(arrays["test_y"], f"{path}: test_y")
    if len(y_test) != len(x_test):
        raise DataError(
            f"{path}: test_x has {len(x_test)} samples but test_y has {len(y_test)} labels; "
            "they must match one to one"
        )
    if task != "regression" and y is not None and len(y_test) and y_test.max() > y.max():
        raise DataError(
            f"{path}: test_y has label {y_test.max()} but data_y has classes 0..{y.max()} only"
        )
    return y_test


def _open(path: Path) -> dict[str, np.ndarray]:
    """Every array of the archive, or a DataError saying why the file cannot be read."""
    if not path.exists():
        raise DataError(f"{path}: no such file; give an .npz with data_x and data_y")
    if not path.is_file():
        raise DataError(f"{path}: not a file; give an .npz with data_x and data_y")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty (0 bytes)")
    _check_magic(path)
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
            _check_header(loaded, key, path)
            try:
                arrays[key] = loaded[key]
            except READ_ERRORS as exc:
                raise DataError(f"{path}: cannot read {key} ({_gist(exc)})") from None
    return arrays


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (hex), read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_magic(path: Path) -> None:
    """Refuse a file that is neither a zip archive (.npz) nor a .npy array by its first
    bytes, before NumPy reads it (it would suggest allow_pickle, which is unsafe and wrong)."""
    try:
        with open(path, "rb") as handle:
            start = handle.read(8)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if start.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):
        return
    shown = start.decode("ascii", "replace")
    kind = "text" if all(c.isprintable() or c in "\t\r\n" for c in shown) else "bytes"
    raise DataError(
        f"{path}: not a readable .npz archive (it starts with {kind} {shown!r}); save one with "
        "np.savez(path, data_x=..., data_y=..., test_x=...)"
    )


def _check_header(loaded: np.lib.npyio.NpzFile, key: str, path: Path) -> None:
    """Refuse an array whose header claims more data than the archive holds, or more than
    fits in memory, before NumPy allocates it."""
    from mlpx.memory import check_fits, human

    try:
        info = loaded.zip.getinfo(f"{key}.npy")
        with loaded.zip.open(info) as member:
            version = np.lib.format.read_magic(member)
            read_header = HEADER_READERS[version]
            shape, _, dtype = read_header(member)
            header = member.tell()
    except (KeyError, AttributeError):
        return  # not laid out as np.savez writes: NumPy's own reading decides
    except READ_ERRORS as exc:
        raise DataError(f"{path}: cannot read {key} ({_gist(exc)})") from None
    claimed = math.prod(shape) * dtype.itemsize
    if claimed > info.file_size - header:
        raise DataError(
            f"{path}: {key}'s header claims shape {shape} ({human(claimed)}) but the archive "
            f"holds {human(info.file_size)} for it; the file is damaged"
        )
    check_fits(claimed, f"{path}: {key} of shape {shape}", "use a smaller file")


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
