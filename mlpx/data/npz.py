"""A user's own ``.npz`` file: ``data_x``, ``data_y`` and optionally unlabeled ``test_x``."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from mlpx.data.dataset import Source
from mlpx.errors import DataError


def load(config) -> Source:
    """Read ``config.path``; inputs of any shape are flattened per sample later."""
    path = Path(config.path).expanduser()
    if not path.is_file():
        raise DataError(f"data.path: {path} is not a file; give an .npz with data_x and data_y")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"data.path: {path} is not a readable .npz file ({exc})") from None
    missing = [key for key in ("data_x", "data_y") if key not in arrays]
    if missing:
        raise DataError(
            f"data.path: {path} lacks {', '.join(missing)}; it has {', '.join(arrays) or 'nothing'}"
            " (expected data_x, data_y and optional test_x)"
        )
    x, y, x_test = arrays["data_x"], arrays["data_y"], arrays.get("test_x")
    if x.ndim < 2:
        raise DataError(f"data_x: expected shape (N, features...), got {x.shape}")
    if x_test is not None and x_test.shape[1:] != x.shape[1:]:
        raise DataError(
            f"test_x: samples of shape {x_test.shape[1:]} do not match data_x's {x.shape[1:]}"
        )
    image_shape = x.shape[1:] if x.ndim in (3, 4) else None
    return Source(x=x, y=y, x_test=x_test, image_shape=image_shape)
