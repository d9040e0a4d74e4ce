"""scikit-learn's 8x8 handwritten digits (1,797 images, ships with scikit-learn, no download)."""

from __future__ import annotations

from mlpx.data.dataset import Source


def load(config) -> Source:
    """The digits as (1797, 8, 8) pixel intensities 0..16 and labels 0..9."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return Source(
        x=bunch.images,
        y=bunch.target,
        image_shape=(8, 8),
        class_names=[str(int(name)) for name in bunch.target_names],
    )
