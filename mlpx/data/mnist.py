"""MNIST through torchvision: 60,000 training and 10,000 test 28x28 handwritten digits.

torchvision reads the four uncompressed IDX files from ``<data.root>/MNIST/raw`` (and
downloads them there when ``data.download`` is true). The official test split is the test
set; validation is carved from the training part.
"""

from __future__ import annotations

from mlpx.data import vision
from mlpx.data.dataset import Source

MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"


def load(config) -> Source:
    """MNIST as (60000, 28, 28) uint8 images, labels 0..9 and the 10,000-image test split."""
    from torchvision.datasets import MNIST

    return load_idx(config, MNIST, MIRROR)


def load_idx(config, dataset_class, mirror: str) -> Source:
    """A dataset of torchvision's MNIST family (MNIST, FashionMNIST) from its IDX files.

    Parameters
    ----------
    config : the DataConfig (``name``, ``root``, ``download``).
    dataset_class : ``torchvision.datasets.MNIST`` or a subclass; its ``resources`` name the
        files and its class name the folder (``<root>/<ClassName>/raw``).
    mirror : where a user can download the ``.gz`` files by hand, for the error message.
    """
    root = vision.root_folder(config.root)
    folder = root / dataset_class.__name__ / "raw"
    files = [name.removesuffix(".gz") for name, _ in dataset_class.resources]
    vision.ensure_files(
        config.name,
        folder,
        files,
        config.download,
        lambda: dataset_class(root, train=True, download=True),
        f"download the .gz files from {mirror}, gunzip them and put them there",
    )
    train = vision.read(config.name, folder, lambda: dataset_class(root, train=True))
    test = vision.read(config.name, folder, lambda: dataset_class(root, train=False))
    return Source(
        x=train.data.numpy(),
        y=train.targets.numpy(),
        x_test=test.data.numpy(),
        y_test=test.targets.numpy(),
        image_shape=tuple(train.data.shape[1:]),
        class_names=list(dataset_class.classes),
    )
