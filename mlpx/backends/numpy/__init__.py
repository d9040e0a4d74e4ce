"""The NumPy backend: layers, an MLP and its update stepping, written from scratch."""

from mlpx.backends.numpy.backend import NumpyBackend

BACKEND = NumpyBackend

__all__ = ["BACKEND", "NumpyBackend"]
