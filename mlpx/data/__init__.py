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
    "diabetes": "mlpx.data.diabetes",
    "synth_regression": "mlpx.data.synth_regression",
}

REGRESSION_SOURCES = frozenset({"diabetes", "synth_regression"})
"""Datasets whose targets are real numbers: their task is regression. ``npz`` files hold
either; every other source holds class labels."""

__all__ = [
    "REGRESSION_SOURCES",
    "SOURCES",
    "Dataset",
    "Normalization",
    "Source",
    "default_task",
    "load_dataset",
    "load_source",
]


def default_task(name: str) -> str:
    """The task of dataset ``name`` when the config does not set one: regression for the
    sources of real-valued targets, classification otherwise (npz files included, whose
    data_y may be integer-valued floats: only ``task: regression`` makes them targets)."""
    return "regression" if name in REGRESSION_SOURCES else "classification"


def load_source(config, task: str = "classification") -> Source:
    """Load the raw arrays of the dataset ``config.name`` (a DataConfig); an npz file's
    data_y is read as labels or, for ``task`` regression, as real targets."""
    module = importlib.import_module(SOURCES[config.name])
    if config.name == "npz":
        return module.load(config, task)
    return module.load(config)


def load_dataset(
    config, seed: int, dtype: str = "float32", task: str = "classification"
) -> Dataset:
    """Load, split (seeded; stratified for classification) and normalise the dataset a
    DataConfig names; for ``task`` regression the targets are standardised too."""
    return prepare(load_source(config, task), config, seed, dtype, task)
