"""Small datasets written in the real on-disk formats, for tests and benchmarks (no downloads).

Each writer draws one random template image per class and makes every sample its class's
template plus noise, so a model learns them in an epoch or two. Every class occurs in every
split. The files are what torchvision's own classes read:

- MNIST / Fashion-MNIST: the four uncompressed IDX files in ``<root>/MNIST/raw`` or
  ``<root>/FashionMNIST/raw`` (torchvision only checks that they exist).
- CIFAR-10: pickled dicts ``data_batch_1..5``, ``test_batch`` and ``batches.meta`` in
  ``<root>/cifar-10-batches-py``. Their MD5 sums are not the official ones.
- npz: ``data_x``, ``data_y`` and optional ``test_x``, as a prediction challenge ships them.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


def template_images(
    n: int, shape: tuple[int, ...], seed: int, part: int, classes: int = 10, noise: float = 40.0
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images of ``shape`` and their labels (n,) int64, every class present when
    n >= classes: a per-class template (fixed by ``seed``) plus Gaussian noise (drawn anew
    for every ``part`` of a dataset: a split or a batch file)."""
    templates = np.random.default_rng(seed).integers(0, 256, size=(classes, *shape))
    rng = np.random.default_rng([seed, part])
    labels = rng.permutation(np.arange(n) % classes)
    images = templates[labels] + rng.normal(0.0, noise, size=(n, *shape))
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.int64)


def write_idx(path: Path, array: np.ndarray) -> None:
    """An uncompressed IDX file of unsigned bytes: magic 0x0000 08 <ndim>, big-endian sizes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    path.write_bytes(header + array.tobytes())


def write_mnist(
    root: Path, n_train: int = 200, n_test: int = 50, seed: int = 0, folder: str = "MNIST"
) -> Path:
    """Write MNIST-format IDX files (28x28 images, labels 0..9) into ``root/folder/raw``.

    Returns the raw folder. ``folder="FashionMNIST"`` writes Fashion-MNIST's.
    """
    raw = Path(root) / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for part, (split, n) in enumerate((("train", n_train), ("test", n_test))):
        images, labels = template_images(n, (28, 28), seed, part)
        images_file, labels_file = MNIST_FILES[split]
        write_idx(raw / images_file, images)
        write_idx(raw / labels_file, labels)
    return raw


def write_fashion_mnist(root: Path, n_train: int = 200, n_test: int = 50, seed: int = 0) -> Path:
    """Fashion-MNIST's IDX files in ``root/FashionMNIST/raw`` (see :func:`write_mnist`)."""
    return write_mnist(root, n_train, n_test, seed, folder="FashionMNIST")


def write_cifar10(root: Path, per_batch: int = 40, n_test: int = 50, seed: int = 0) -> Path:
    """Write CIFAR-10's python batches into ``root/cifar-10-batches-py``.

    Five training batches of ``per_batch`` images and a test batch of ``n_test``, each a
    pickled dict with ``data`` (n, 3072) uint8 rows (1024 red, 1024 green, 1024 blue values,
    row-major) and ``labels``; ``batches.meta`` holds the ten ``label_names``. Returns the
    folder.
    """
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    batches = {f"data_batch_{i}": per_batch for i in range(1, 6)} | {"test_batch": n_test}
    for part, (name, n) in enumerate(batches.items()):
        images, labels = template_images(n, (3, 32, 32), seed, part)
        entry = {
            "batch_label": name,
            "labels": labels.tolist(),
            "data": images.reshape(n, 3072),
            "filenames": [f"{name}_{i}.png" for i in range(n)],
        }
        with open(folder / name, "wb") as handle:
            pickle.dump(entry, handle)
    meta = {"label_names": CIFAR10_CLASSES, "num_cases_per_batch": per_batch, "num_vis": 3072}
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump(meta, handle)
    return folder


def write_challenge(
    path: Path,
    n: int = 300,
    n_test: int = 60,
    features: int = 12,
    classes: int = 3,
    seed: int = 0,
    test: bool = True,
) -> Path:
    """A prediction-challenge .npz: ``data_x`` (n, features) float32 Gaussian blobs around
    per-class centres, ``data_y`` (n,) labels 0..classes-1 and, with ``test``, unlabeled
    ``test_x`` (n_test, features) from the same blobs. Returns ``path``."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 2.0, size=(classes, features))
    y = rng.permutation(np.arange(n + n_test) % classes)
    x = (centres[y] + rng.normal(size=(n + n_test, features))).astype(np.float32)
    arrays = {"data_x": x[:n], "data_y": y[:n]}
    if test:
        arrays["test_x"] = x[n:]
    np.savez(path, **arrays)
    return Path(path)
