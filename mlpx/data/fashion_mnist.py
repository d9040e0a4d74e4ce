"""Fashion-MNIST through torchvision: 60,000 training and 10,000 test 28x28 clothing images.

The same IDX format as MNIST, read by torchvision from ``<data.root>/FashionMNIST/raw``
(downloaded there when ``data.download`` is true).
"""

from __future__ import annotations

from mlpx.data.dataset import Source
from mlpx.data.mnist import load_idx

MIRROR = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"


def load(config) -> Source:
    """Fashion-MNIST as (60000, 28, 28) uint8 images, labels 0..9 (T-shirt/top .. Ankle
    boot) and the 10,000-image test split."""
    from torchvision.datasets import FashionMNIST

    return load_idx(config, FashionMNIST, MIRROR)
