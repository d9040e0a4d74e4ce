"""The dataset as a run sees it, in numbers: split sizes, class counts, value ranges.

``mlpx data CONFIG`` loads a config's data exactly as ``mlpx train`` does (same seed, split,
limit and normalisation) and reports, for every split, its size, how many samples of each
class it holds, and the range, mean and standard deviation of its values before and after
normalisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlpx.data import load_source
from mlpx.data.dataset import CHUNK_ROWS, Dataset, DataSettings, prepare


@dataclass(frozen=True)
class ValueStats:
    """Minimum, maximum, mean and (population) standard deviation over every value."""

    min: float
    max: float
    mean: float
    std: float


@dataclass(frozen=True)
class SplitOverview:
    """One split: its samples, its class counts (C,) (None when unlabeled or a regression),
    its values as loaded (``raw``) and as the network gets them (``normalized``), and a
    regression's targets as loaded (None for classes)."""

    name: str
    n: int
    counts: np.ndarray | None
    raw: ValueStats
    normalized: ValueStats
    targets: ValueStats | None = None


@dataclass(frozen=True)
class DataOverview:
    """A dataset in numbers: the feature shape (an image's or ``(D,)``), classes, splits."""

    name: str
    feature_shape: tuple[int, ...]
    n_features: int
    class_names: list[str]
    normalization: str
    splits: list[SplitOverview]

    def to_dict(self) -> dict:
        """Every number, as plain JSON-able data."""
        return {
            "name": self.name,
            "feature_shape": list(self.feature_shape),
            "n_features": self.n_features,
            "class_names": self.class_names,
            "normalization": self.normalization,
            "splits": {
                s.name: {
                    "n": s.n,
                    "counts": None if s.counts is None else s.counts.tolist(),
                    "raw": vars(s.raw),
                    "normalized": vars(s.normalized),
                    "targets": None if s.targets is None else vars(s.targets),
                }
                for s in self.splits
            },
        }


def load_overview(
    settings: DataSettings, seed: int, dtype: str, task: str = "classification"
) -> tuple[DataOverview, Dataset]:
    """Load the data as a run with these settings, seed, dtype and task does, and describe it.

    Returns
    -------
    The overview, and the dataset as loaded (split like the run's, not normalised; float64,
    or float32 for integer inputs, which it holds exactly), for pictures of the samples.
    """
    source = load_source(settings, task)
    # integers (8-bit pixels) are exact in float32, at half the memory of float64
    exact = "float64" if np.issubdtype(source.x.dtype, np.floating) else "float32"
    loaded = prepare(source, _unnormalised(settings), seed, exact, task)
    normalized = prepare(source, settings, seed, dtype, task)
    splits = []
    for name, (x, y) in normalized.splits().items():
        counts = targets = None
        if normalized.regression:
            raw_targets = normalized.raw_targets.get(name)
            targets = None if raw_targets is None else _stats(raw_targets)
        elif y is not None:
            counts = np.bincount(y, minlength=normalized.n_classes)
        raw = loaded.splits()[name][0]
        splits.append(SplitOverview(name, len(x), counts, _stats(raw), _stats(x), targets))
    shape = normalized.image_shape or (normalized.n_features,)
    summary = DataOverview(
        normalized.name,
        tuple(shape),
        normalized.n_features,
        normalized.class_names,
        normalized.normalization.method,
        splits,
    )
    return summary, loaded


@dataclass(frozen=True)
class _Unnormalised:
    """The data settings of a run with ``normalize: none``."""

    name: str
    val_fraction: float
    folds: int | None
    fold: int | None
    limit: int | None
    normalize: str = "none"


def _unnormalised(settings: DataSettings) -> _Unnormalised:
    return _Unnormalised(
        settings.name, settings.val_fraction, settings.folds, settings.fold, settings.limit
    )


def _stats(x: np.ndarray) -> ValueStats:
    """Statistics over every value of x, computed in float64 blocks (no whole copy)."""
    low, high, total, squares, count = np.inf, -np.inf, 0.0, 0.0, 0
    for start in range(0, len(x), CHUNK_ROWS):
        block = x[start : start + CHUNK_ROWS].astype(np.float64)
        low, high = min(low, float(block.min())), max(high, float(block.max()))
        total += float(block.sum())
        count += block.size
    if count == 0:
        return ValueStats(float("nan"), float("nan"), float("nan"), float("nan"))
    mean = total / count
    for start in range(0, len(x), CHUNK_ROWS):
        squares += float(np.square(x[start : start + CHUNK_ROWS].astype(np.float64) - mean).sum())
    return ValueStats(low, high, mean, float(np.sqrt(squares / count)))
