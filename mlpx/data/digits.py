"""scikit-learn's 8x8 handwritten digits (1,797 images, ships with scikit-learn, no download).

The pixels are read from the data file scikit-learn ships, the one ``load_digits()`` reads,
without importing scikit-learn: its import (with SciPy's) takes seconds, the file a few
milliseconds.
"""

from __future__ import annotations

import functools
import gzip
import importlib.util
from pathlib import Path

import numpy as np

from mlpx.data.dataset import Source
from mlpx.errors import DataError

DATA_FILE = ("datasets", "data", "digits.csv.gz")
"""Where the digits lie inside the installed ``sklearn`` package: one row per image, 64 pixel
intensities then the label, comma-separated."""


def sklearn_data_file(dataset: str, name: str) -> Path:
    """The path of ``name`` in scikit-learn's ``datasets/data`` folder, found without
    importing scikit-learn; ``dataset`` names the config's data.name in errors."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"data.name {dataset}: needs scikit-learn, which ships the {dataset} data; install it"
        )
    path = Path(next(iter(spec.submodule_search_locations)), *DATA_FILE[:-1], name)
    if not path.is_file():
        raise DataError(f"data.name {dataset}: {path} is missing; reinstall scikit-learn")
    return path


def data_file() -> Path:
    """The path of scikit-learn's digits.csv.gz, found without importing scikit-learn."""
    return sklearn_data_file("digits", DATA_FILE[-1])


def read_digits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (1797, 8, 8) float64 and labels (1797,) int64, as ``load_digits()`` returns
    them (``.images``, ``.target``): parsed the same way, so equal bit for bit.

    Parsed once per process while the file is unchanged (a stack of trials loads the data
    once per seed); every call gets its own arrays."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise DataError(f"data.name digits: cannot read {path}: {exc}") from None
    images, labels = _parsed(path, stat.st_mtime_ns, stat.st_size)
    return images.copy(), labels.copy()


@functools.lru_cache(maxsize=2)
def _parsed(path: Path, mtime_ns: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The file's arrays; ``mtime_ns`` and ``size`` key the cache to this version of it."""
    try:
        lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
        data = np.loadtxt(lines, delimiter=",", ndmin=2)
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"data.name digits: cannot read {path}: {exc}") from None
    if data.shape[1:] != (65,):
        raise DataError(f"data.name digits: {path} has {data.shape[1]} columns, expected 65")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(np.int64)


def load(config) -> Source:
    """The digits as (1797, 8, 8) pixel intensities 0..16 and labels 0..9."""
    images, labels = read_digits(data_file())
    return Source(
        x=images,
        y=labels,
        image_shape=(8, 8),
        class_names=[str(k) for k in range(10)],
    )
