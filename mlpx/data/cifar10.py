"""CIFAR-10 through torchvision: 50,000 training and 10,000 test 32x32 colour images.

torchvision reads the pickled batches from ``<data.root>/cifar-10-batches-py`` (downloading
and extracting the archive into ``data.root`` when ``data.download`` is true and files are
missing). torchvision refuses files whose MD5 sums differ from the official ones; mlpx checks
the sums once itself and, when they differ but the files are there (a local copy, a subset,
generated test files), still reads them with torchvision's reader and says so with a
:class:`~mlpx.errors.DataWarning` instead of failing.
"""

from __future__ import annotations

import warnings

import numpy as np

from mlpx.data import vision
from mlpx.data.dataset import Source
from mlpx.errors import DataWarning

ARCHIVE = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


def load(config) -> Source:
    """CIFAR-10 as (50000, 32, 32, 3) uint8 images (HWC), labels 0..9 and the test split."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import check_integrity

    class PrecheckedCIFAR10(CIFAR10):
        """torchvision's reader with the MD5 checks left out: :func:`load` did them."""

        train_list = [[name, None] for name, _ in CIFAR10.train_list]
        test_list = [[name, None] for name, _ in CIFAR10.test_list]
        meta = {**CIFAR10.meta, "md5": None}

    root = vision.root_folder(config.root)
    folder = root / CIFAR10.base_folder
    sums = dict(CIFAR10.train_list + CIFAR10.test_list)
    sums[CIFAR10.meta["filename"]] = CIFAR10.meta["md5"]
    vision.ensure_files(
        config.name,
        folder,
        list(sums),
        config.download,
        lambda: CIFAR10(root, train=True, download=True),
        f"download {ARCHIVE} and extract it into {root}",
    )
    differ = [name for name, md5 in sums.items() if not check_integrity(folder / name, md5)]
    if differ:
        warnings.warn(
            DataWarning(
                f"cifar10: {', '.join(differ)} in {folder} differ from the official files "
                "(MD5 mismatch); reading them anyway"
            ),
            stacklevel=2,
        )
    train = vision.read(config.name, folder, lambda: PrecheckedCIFAR10(root, train=True))
    test = vision.read(config.name, folder, lambda: PrecheckedCIFAR10(root, train=False))
    return Source(
        x=train.data,
        y=np.asarray(train.targets),
        x_test=test.data,
        y_test=np.asarray(test.targets),
        image_shape=tuple(train.data.shape[1:]),
        class_names=list(train.classes),
    )
