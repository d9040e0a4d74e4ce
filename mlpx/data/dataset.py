"""What every dataset becomes: seeded stratified splits, normalisation fitted on training data."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from mlpx.errors import DataError


class DataSettings(Protocol):
    """What splitting and normalising read of the config's ``data`` section (the schema,
    :class:`mlpx.config.DataConfig`, lives above this package and satisfies it)."""

    name: str
    val_fraction: float
    folds: int | None
    fold: int | None
    limit: int | None
    normalize: str


# Rows per block when normalising: big image sets (CIFAR-10: 50,000 x 3,072) are never copied
# whole to float64, so memory stays near the size of the result.
CHUNK_ROWS = 4096


def _row_blocks(x: np.ndarray) -> Iterator[np.ndarray]:
    for start in range(0, len(x), CHUNK_ROWS):
        yield x[start : start + CHUNK_ROWS]


@dataclass
class Source:
    """Raw arrays as a dataset module delivers them.

    x : (N, ...) inputs, any float or integer dtype; flattened to (N, D) later.
    y : (N,) integer labels in [0, C); for regression (N,) or (N, K) real targets.
    x_test, y_test : an official test split (y_test None when unlabeled), or None.
    image_shape : shape of one image, e.g. (8, 8) or (32, 32, 3), for plots; None otherwise.
    class_names : C display names; default "0".."C-1" (for regression: the K outputs'
        names, default ``y`` or ``y1``..``yK``).
    """

    x: np.ndarray
    y: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    image_shape: tuple[int, ...] | None = None
    class_names: list[str] | None = None


@dataclass
class Normalization:
    """Per-feature affine map ``(x - shift) / scale`` fitted on the training part.

    ``standard``: each feature's mean and standard deviation; ``minmax``: each feature's
    minimum and range; ``global``: one mean and standard deviation over every training value;
    ``scale``: no shift, divided by the largest training value (255 for 8-bit images);
    ``none``: the identity. A global method fills every feature with the same shift and scale.
    """

    method: str
    shift: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, method: str, x: np.ndarray) -> Normalization:
        """Fit on x (N, D) of any numeric dtype, in float64; constant features get scale 1 so
        they never divide by zero."""
        d = x.shape[1]
        if method == "standard":
            shift = x.mean(axis=0, dtype=np.float64)
            squares = sum(np.square(block - shift).sum(axis=0) for block in _row_blocks(x))
            scale = np.sqrt(squares / len(x))
        elif method == "minmax":
            low, high = x.min(axis=0), x.max(axis=0)
            shift, scale = low.astype(np.float64), high.astype(np.float64) - low
        elif method == "global":
            mean = x.mean(dtype=np.float64)
            squares = sum(float(np.square(block - mean).sum()) for block in _row_blocks(x))
            shift, scale = np.full(d, mean), np.full(d, np.sqrt(squares / x.size))
        elif method == "scale":
            shift, scale = np.zeros(d), np.full(d, float(x.max()))
        else:
            shift, scale = np.zeros(d), np.ones(d)
        scale = np.where(scale > 0, scale, 1.0)
        return cls(method, shift.astype(np.float64), scale.astype(np.float64))

    def apply(self, x: np.ndarray, dtype: str) -> np.ndarray:
        """Normalised copy of x (N, ...) flattened to (N, D) in ``dtype`` (computed in float64,
        block by block)."""
        flat = x.reshape(len(x), -1)
        if flat.shape[1] != len(self.shift):
            raise DataError(
                f"inputs have {flat.shape[1]} features per sample; the model expects "
                f"{len(self.shift)}"
            )
        out = np.empty(flat.shape, dtype=dtype)
        for start, block in zip(range(0, len(flat), CHUNK_ROWS), _row_blocks(flat), strict=True):
            out[start : start + len(block)] = (block - self.shift) / self.scale
        return out

    def invert(self, z: np.ndarray) -> np.ndarray:
        """The inverse map ``z * scale + shift`` of z (N, D), in float64: normalised
        targets back in their own units."""
        return np.asarray(z, dtype=np.float64) * self.scale + self.shift

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The arrays of normalization.npz: ``shift``, ``scale`` (D,) and ``method``."""
        return {"shift": self.shift, "scale": self.scale, "method": np.array(self.method)}

    @classmethod
    def from_arrays(cls, arrays) -> Normalization:
        """The normalisation :meth:`to_arrays` wrote (a mapping such as an open .npz)."""
        return cls(str(arrays["method"]), arrays["shift"], arrays["scale"])


@dataclass
class Dataset:
    """Arrays ready for a backend: x (N, D) in the run's dtype, y (N,) int64.

    Validation (and test) parts are None when absent; ``y_test`` is None for an unlabeled
    test set (a prediction challenge). For regression y is (N, K) in the run's dtype, the
    targets standardised with ``targets`` (fitted on the training part); ``raw_targets``
    holds each split's targets in their own units (float64) and ``n_classes`` is K.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    n_classes: int
    class_names: list[str]
    image_shape: tuple[int, ...] | None
    normalization: Normalization
    targets: Normalization | None = None
    raw_targets: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def regression(self) -> bool:
        return self.targets is not None

    def splits(self) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
        """The splits present, by name: ``train``, and ``val``/``test`` when they exist."""
        found = {"train": (self.x_train, self.y_train)}
        if self.x_val is not None:
            found["val"] = (self.x_val, self.y_val)
        if self.x_test is not None:
            found["test"] = (self.x_test, self.y_test)
        return found

    def digest(self) -> str:
        """A fingerprint (blake2b, hex) of every array a run trains and is measured on, with
        their dtypes and shapes: equal exactly when the data are (how a resume knows that
        it continues on the data the run started with)."""
        digest = hashlib.blake2b(digest_size=16)
        for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
            array = getattr(self, name)
            digest.update(name.encode())
            if array is None:
                continue
            array = np.ascontiguousarray(array)
            digest.update(f"{array.dtype.str}{array.shape}".encode())
            digest.update(array.data)
        return digest.hexdigest()


def check_labels(y: np.ndarray, where: str) -> np.ndarray:
    """Labels as int64 (N,), or a DataError saying what is wrong with them."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise DataError(f"{where}: labels must be one-dimensional (N,), got shape {y.shape}")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            example = y[np.isfinite(y) & (y != np.round(y))][:1]
            found = (
                f"found non-integers (e.g. {example[0]:g})" if len(example) else "found NaN or inf"
            )
            raise DataError(
                f"{where}: labels must be whole numbers 0..C-1, {found}; for real-valued "
                "targets set task: regression"
            )
    elif y.dtype.kind not in "iub":
        raise DataError(f"{where}: labels must be integers 0..C-1, got dtype {y.dtype}")
    if len(y) and y.min() < 0:
        raise DataError(f"{where}: labels must be >= 0, found {y.min():g}")
    return y.astype(np.int64)


def check_targets(y: np.ndarray, where: str) -> np.ndarray:
    """Regression targets as float64 (N, K), from (N,) or (N, K) real numbers, or a
    DataError saying what is wrong with them."""
    y = np.asarray(y)
    if y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[1] == 0):
        raise DataError(
            f"{where}: regression targets must be (N,) or (N, outputs), got shape {y.shape}"
        )
    if y.dtype.kind not in "fiub":
        raise DataError(f"{where}: regression targets must be real numbers, got dtype {y.dtype}")
    y = y.astype(np.float64)
    if y.ndim == 1:
        y = y[:, None]
    bad = np.flatnonzero(~np.isfinite(y).all(axis=1))
    if len(bad):
        raise DataError(
            f"{where}: {len(bad)} target(s) are NaN or inf (first at index {bad[0]}); "
            "remove those samples"
        )
    return y


def check_inputs(x: np.ndarray, where: str) -> np.ndarray:
    """Inputs (N, ...) as an array of real numbers without NaN or inf, or a DataError."""
    x = np.asarray(x)
    if x.dtype.kind not in "fiub":
        raise DataError(f"{where}: inputs must be real numbers, got dtype {x.dtype}")
    if x.dtype.kind == "f":
        finite = np.isfinite(x).all(axis=tuple(range(1, x.ndim)))
        if not finite.all():
            bad = np.flatnonzero(~finite)
            raise DataError(
                f"{where}: {len(bad)} sample(s) contain NaN or inf values "
                f"(first at index {bad[0]}); remove or impute them"
            )
    return x


def stratified_split(
    y: np.ndarray, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held_out) with about ``fraction`` of every class held out.

    A class of n >= 2 samples keeps at least one on each side; a class of one sample stays
    in the training part. Both index arrays are sorted.
    """
    held = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        n = len(members)
        k = min(max(int(round(fraction * n)), 1), n - 1) if n >= 2 else 0
        held.append(members[:k])
    held_out = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    train = np.setdiff1d(np.arange(len(y)), held_out)
    return train, held_out


def stratified_subset(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of exactly ``n`` samples of y (N,), each class kept in proportion.

    Class c gets floor(n * N_c / N) samples, and the samples left over go to the classes with
    the largest remainders (the first classes on ties); which samples is seeded by ``rng``.
    """
    labels, counts = np.unique(y, return_counts=True)
    exact = n * counts / len(y)
    quota = np.floor(exact).astype(np.int64)
    leftover = n - int(quota.sum())
    quota[np.argsort(-(exact - quota), kind="stable")[:leftover]] += 1
    kept = [
        rng.permutation(np.flatnonzero(y == label))[:k]
        for label, k in zip(labels, quota, strict=True)
    ]
    return np.sort(np.concatenate(kept))


def stratified_folds(y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """The fold (0..k-1) of every sample of y (N,): stratified and seeded.

    Every class's samples are shuffled and dealt out to the folds in turn, the deal going on
    from class to class, so that fold sizes differ by at most one and so do the counts of
    any one class in two folds.
    """
    order = np.concatenate([rng.permutation(np.flatnonzero(y == label)) for label in np.unique(y)])
    folds = np.empty(len(y), dtype=np.int64)
    folds[order] = np.arange(len(y)) % k
    return folds


def _holdout(
    y: np.ndarray, config: DataSettings, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray] | None:
    """Indices (train, val) of the validation split the config asks for, or None."""
    if config.folds is not None:
        if config.fold is None:
            raise DataError(
                f"data.folds={config.folds}: one run trains one fold; set data.fold (1.."
                f"{config.folds}), or let `mlpx train` run every fold"
            )
        if config.folds > len(y):
            raise DataError(f"data.folds={config.folds}: the dataset has only {len(y)} samples")
        folds = stratified_folds(y, config.folds, rng)
        return np.flatnonzero(folds != config.fold - 1), np.flatnonzero(folds == config.fold - 1)
    if config.val_fraction == 0:
        return None
    train_idx, val_idx = stratified_split(y, config.val_fraction, rng)
    if len(val_idx) == 0:
        raise DataError(
            f"data.val_fraction={config.val_fraction} leaves no validation sample "
            f"({len(y)} samples, at most one per class); use data.val_fraction: 0"
        )
    return train_idx, val_idx


def prepare(
    source: Source, config: DataSettings, seed: int, dtype: str, task: str = "classification"
) -> Dataset:
    """Limit, split, fit normalisation on the training part and cast.

    ``data.limit`` keeps a seeded stratified subset of exactly that many samples of the
    training part (the official test split stays whole). The validation part is then either
    fold ``data.fold`` of ``data.folds`` seeded stratified folds (``data.val_fraction`` is
    ignored) or a seeded stratified ``data.val_fraction`` of it. Both use the generator
    seeded by ``[seed, 1]``, so every fold of a cross-validation sees the same partition.
    For ``task`` regression the same is done without strata (every sample one stratum), and
    the targets are standardised on the training part (see :func:`_regression`).
    """
    x = check_inputs(source.x, config.name)
    regression = task == "regression"
    y = check_targets(source.y, config.name) if regression else check_labels(source.y, config.name)
    if len(x) != len(y):
        raise DataError(f"{config.name}: {len(x)} inputs but {len(y)} labels")
    if len(y) == 0:
        raise DataError(f"{config.name}: the dataset has no samples")
    rng = np.random.default_rng([seed, 1])
    strata = np.zeros(len(y), dtype=np.int64) if regression else y
    if config.limit is not None and config.limit < len(y):
        keep = stratified_subset(strata, config.limit, rng)
        x, y, strata = x[keep], y[keep], strata[keep]
    x_val = y_val = None
    split = _holdout(strata, config, rng)
    if split is not None:
        train_idx, val_idx = split
        x_val, y_val = x[val_idx], y[val_idx]
        x, y = x[train_idx], y[train_idx]
    x_test = None if source.x_test is None else check_inputs(source.x_test, f"{config.name} test")
    norm = Normalization.fit(config.normalize, x.reshape(len(x), -1))
    if regression:
        return _regression(source, config, dtype, norm, (x, y), (x_val, y_val), x_test)
    y_test = None
    if source.y_test is not None:
        y_test = check_labels(source.y_test, f"{config.name} test")
    labelled = [z for z in (y, y_val, y_test) if z is not None and len(z)]
    n_classes = max(max(int(z.max()) for z in labelled) + 1, len(source.class_names or ()))
    return Dataset(
        name=config.name,
        x_train=norm.apply(x, dtype),
        y_train=y,
        x_val=norm.apply(x_val, dtype) if x_val is not None else None,
        y_val=y_val,
        x_test=norm.apply(x_test, dtype) if x_test is not None else None,
        y_test=y_test,
        n_classes=n_classes,
        class_names=list(source.class_names or map(str, range(n_classes))),
        image_shape=source.image_shape,
        normalization=norm,
    )


def _regression(
    source: Source,
    config: DataSettings,
    dtype: str,
    norm: Normalization,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray | None, np.ndarray | None],
    x_test: np.ndarray | None,
) -> Dataset:
    """The regression Dataset: targets (N, K) standardised with each output's mean and
    standard deviation on the training part (an output constant there keeps scale 1)."""
    (x, y), (x_val, y_val) = train, val
    y_test = None if source.y_test is None else check_targets(source.y_test, f"{config.name} test")
    if y_test is not None and y_test.shape[1] != y.shape[1]:
        raise DataError(
            f"{config.name} test: {y_test.shape[1]} target(s) per sample, the training part "
            f"has {y.shape[1]}"
        )
    targets = Normalization.fit("standard", y)
    raw = {"train": y, "val": y_val, "test": y_test}
    outputs = y.shape[1]
    names = source.class_names  # a regression source's output names; a classification
    if names is None or len(names) != outputs:  # source's class names name no output
        names = ["y"] if outputs == 1 else [f"y{k}" for k in range(1, outputs + 1)]
    return Dataset(
        name=config.name,
        x_train=norm.apply(x, dtype),
        y_train=targets.apply(y, dtype),
        x_val=norm.apply(x_val, dtype) if x_val is not None else None,
        y_val=targets.apply(y_val, dtype) if y_val is not None else None,
        x_test=norm.apply(x_test, dtype) if x_test is not None else None,
        y_test=targets.apply(y_test, dtype) if y_test is not None else None,
        n_classes=outputs,
        class_names=list(names),
        image_shape=source.image_shape,
        normalization=norm,
        targets=targets,
        raw_targets={split: z for split, z in raw.items() if z is not None},
    )
