"""Datasets: a registry of sources (one module each) and the split/normalise step they share.

A source module defines ``load(config: DataConfig) -> Source``; :func:`load_dataset` turns
that into the train/validation/test arrays the loop uses.
"""

from __future__ import annotations

import importlib

from mlpx.data.dataset import Dataset, Normalization, Source, prepare

SOURCES = {
    "digits": "mlpx.data.digits",
    "toy": "mlpx.data.toy",
    "synth": "mlpx.data.synth",
    "mnist": "mlpx.data.mnist",
    "fashion_mnist": "mlpx.data.fashion_mnist",
    "cifar10": "mlpx.data.cifar10",
    "mnist1d": "mlpx.data.mnist1d",
    "npz": "mlpx.data.npz",
}

__all__ = ["SOURCES", "Dataset", "Normalization", "Source", "load_dataset", "load_source"]


def load_source(config) -> Source:
    """Load the raw arrays of the dataset ``config.name`` (a DataConfig)."""
    return importlib.import_module(SOURCES[config.name]).load(config)


def load_dataset(config, seed: int, dtype: str = "float32") -> Dataset:
    """Load, split (stratified, seeded) and normalise the dataset a DataConfig names."""
    return prepare(load_source(config), config, seed, dtype)
