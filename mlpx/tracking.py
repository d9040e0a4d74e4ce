"""Runs seen by the tools the field already watches them with: TensorBoard event files in the
run directory (``output.tensorboard: true``).

The trainer calls a :class:`Tracker` after each epoch and when the run ends; a tracker's
package is imported only when a config asks for it, and a missing one is a one-line error
naming the pip command before anything is written.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

import numpy as np

from mlpx.config import Config
from mlpx.errors import ConfigError
from mlpx.runs import PLOTS, RunDir

EXTRAS = {"tensorboard": ("tensorboard", "output.tensorboard")}
"""An extra of mlpx: the package it installs and the config key that needs it."""


class Tracker(Protocol):
    """Receives a run's numbers as they come."""

    def epoch(self, record: dict[str, Any], first_step: int, losses: np.ndarray) -> None: ...

    def finish(self, summary: dict[str, Any]) -> None: ...


def require(extra: str) -> None:
    """A ConfigError naming the pip command when ``extra``'s package is not installed."""
    package, key = EXTRAS[extra]
    try:
        importlib.import_module(package)
    except ImportError:
        raise ConfigError(
            f"{key}: needs the {package} package, which is not installed; "
            f"pip install 'mlpx[{extra}]'"
        ) from None


def check_trackers(config: Config) -> None:
    """Refuse, before a run starts, a tracker whose package is missing."""
    if config.output.tensorboard:
        require("tensorboard")


def open_trackers(config: Config, run: RunDir) -> list[Tracker]:
    """The trackers the config asks for, writing for ``run``."""
    return [TensorBoardTracker(config, run)] if config.output.tensorboard else []


def scalar_hparams(config: Config) -> dict[str, Any]:
    """The config flattened to dotted keys, with values TensorBoard's hparams can show
    (numbers, strings, booleans; lists as text)."""
    flat: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(node, (bool, int, float, str)):
            flat[prefix] = node
        elif node is not None:
            flat[prefix] = str(node)

    walk(config.to_dict(), "")
    return flat


class TensorBoardTracker:
    """Event files in the run directory: ``epoch/<metric>`` per epoch (losses, accuracies,
    lr, seconds), ``step/loss`` per batch, the config and final metrics through the hparams
    plugin, and the run's plots as images (``plots/<name>``)."""

    def __init__(self, config: Config, run: RunDir):
        from torch.utils.tensorboard import SummaryWriter

        self.config, self.run = config, run
        self.writer = SummaryWriter(log_dir=str(run.path))

    def epoch(self, record: dict[str, Any], first_step: int, losses: np.ndarray) -> None:
        epoch = record["epoch"]
        for key, value in record.items():
            if key != "epoch" and isinstance(value, (int, float)):
                self.writer.add_scalar(f"epoch/{key}", value, epoch)
        for offset, loss in enumerate(losses.tolist()):
            self.writer.add_scalar("step/loss", loss, first_step + offset)
        self.writer.flush()

    def finish(self, summary: dict[str, Any]) -> None:
        from matplotlib.image import imread

        for png in sorted((self.run.path / PLOTS).glob("*.png")):
            image = imread(png)[..., :3]
            self.writer.add_image(f"plots/{png.stem}", image, dataformats="HWC")
        final = summary.get("final") or {}
        metrics = {f"final/{key}": value for key, value in final.items()}
        for key in ("best_val_loss", "best_val_acc"):
            if summary.get(key) is not None:
                metrics[f"best/{key.removeprefix('best_')}"] = summary[key]
        if metrics:
            # into the run's own directory, beside its scalars (torch would make a subfolder)
            self.writer.add_hparams(scalar_hparams(self.config), metrics, run_name=".")
        self.writer.close()
