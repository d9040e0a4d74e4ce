"""mlpx: a command-line experiment runner for multi-layer perceptrons."""

__version__ = "0.1.0"
