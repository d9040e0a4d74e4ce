"""MNIST-1D (Greydanus, 2020): 40-sample 1-D signals of ten digit templates, generated offline.

The arrays come from the ``mnist1d`` package's ``make_dataset(get_dataset_args())`` (never its
``get_dataset``, which downloads): 4,000 training and 1,000 test signals, 10 classes, the
same data every time (seed 42 in the package's defaults). Generating takes several seconds,
so the first load writes them to ``<data.root>/mnist1d/mnist1d.npz`` and later loads read
that file.
"""

from __future__ import annotations

import random
import warnings
import zipfile
from pathlib import Path

import numpy as np

from mlpx.atomic import write_arrays_atomic
from mlpx.data import vision
from mlpx.data.dataset import Source
from mlpx.errors import DataWarning

CACHE = Path("mnist1d") / "mnist1d.npz"
KEYS = ("x", "y", "x_test", "y_test")


def load(config) -> Source:
    """MNIST-1D as (4000, 40) float64 signals, labels 0..9 and the 1,000-signal test split."""
    path = vision.root_folder(config.root) / CACHE
    arrays = read_cache(path) if path.is_file() else None
    if arrays is None:
        arrays = generate()
        write_cache(path, arrays)
    return Source(x=arrays["x"], y=arrays["y"], x_test=arrays["x_test"], y_test=arrays["y_test"])


def generate() -> dict[str, np.ndarray]:
    """The package's default dataset, made locally; the global ``random`` and ``np.random``
    states it reseeds are put back afterwards."""
    from mnist1d.data import get_dataset_args, make_dataset

    python_state, numpy_state = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(get_dataset_args())
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)
    return {key: np.asarray(data[key]) for key in KEYS}


def read_cache(path: Path) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None (with a warning) when the file is unreadable or incomplete."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in KEYS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        warnings.warn(
            DataWarning(f"mnist1d: ignoring unreadable cache {path} ({vision.one_line(exc)})"),
            stacklevel=3,
        )
        return None


def write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write the cache atomically; a root that cannot be written only costs a warning."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_arrays_atomic(path, arrays)
    except OSError as exc:
        warnings.warn(
            DataWarning(
                f"mnist1d: cannot cache the generated data in {path} ({exc.strerror or exc}); "
                "it will be generated again next time"
            ),
            stacklevel=3,
        )
