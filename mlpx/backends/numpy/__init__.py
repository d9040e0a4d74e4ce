"""The NumPy backend: layers, update rules and an MLP written from scratch."""

from mlpx.backends.numpy.backend import NumpyBackend

BACKEND = NumpyBackend

__all__ = ["BACKEND", "NumpyBackend"]
