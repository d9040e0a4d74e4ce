"""Runs seen by the tools the field already watches them with: TensorBoard event files in the
run directory (``output.tensorboard: true``) and MLflow runs (``output.mlflow: <tracking
URI>``: params, per-epoch metrics, tags, the run directory as artifacts; a sweep's or
cross-validation's members as child runs of one parent).

The trainer calls a :class:`Tracker` after each epoch and when the run ends; a tracker's
package is imported only when a config asks for it, and a missing one is a one-line error
naming the pip command before anything is written.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mlpx.config import Config
from mlpx.errors import ConfigError
from mlpx.runs import PLOTS, RunDir

EXTRAS = {
    "tensorboard": ("tensorboard", "output.tensorboard"),
    "mlflow": ("mlflow", "output.mlflow"),
}
"""An extra of mlpx: the package it installs and the config key that needs it."""


class Tracker(Protocol):
    """Receives a run's numbers as they come."""

    def epoch(self, record: dict[str, Any], first_step: int, losses: np.ndarray) -> None: ...

    def start(self, summary: dict[str, Any]) -> None: ...

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
    if config.output.mlflow is not None:
        require("mlflow")


def open_trackers(
    config: Config, run: RunDir, summary: dict[str, Any], history: list[dict[str, Any]]
) -> list[Tracker]:
    """The trackers the config asks for, writing for ``run``; ``summary`` and ``history``
    are the run's (a resumed run's name the MLflow run it continues and the epochs before)."""
    trackers: list[Tracker] = []
    if config.output.tensorboard:
        trackers.append(TensorBoardTracker(config, run))
    if config.output.mlflow is not None:
        previous = summary.get("mlflow_run_id")
        trackers.append(MlflowTracker(config, run, previous, history))
    return trackers


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

    def start(self, summary: dict[str, Any]) -> None:
        pass

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


MLFLOW_EXPERIMENT = "mlpx"
MLFLOW_STATUS = {"completed": "FINISHED", "interrupted": "KILLED"}
"""An mlpx status as an MLflow run status (any other: FAILED)."""


def _mlflow_client(uri: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(MLFLOW_EXPERIMENT)
    if experiment is None:
        return client, client.create_experiment(MLFLOW_EXPERIMENT, _artifact_location(uri))
    return client, experiment.experiment_id


def _artifact_location(uri: str) -> str | None:
    """Where a new experiment keeps its files: for a ``sqlite:`` store, an ``mlruns`` folder
    beside the database file (MLflow's default, ``./mlruns`` of whatever folder the command
    ran in, would scatter them); otherwise the tracking store's own default."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    return (Path(uri[len(prefix) :]).expanduser().resolve().parent / "mlruns").as_uri()


class MlflowTracker:
    """An MLflow run in experiment ``mlpx`` of ``output.mlflow``: the config as params, each
    epoch's metrics (step = epoch), tags (status, backend, dataset, run directory), and at
    the end the final metrics and the whole run directory as artifacts. Its id goes into
    summary.json (``mlflow_run_id``), where a group finds its members.

    A resumed run (``previous``: the id its summary names) goes on in the same MLflow run
    when the tracking store still has it: epochs it logged before are not logged again (the
    resume trains them again to the same numbers on the CPU), and params MLflow already holds
    keep their values (it allows no change: ``--epochs`` shows in the artifacts' config.yaml
    and summary.json); the tag ``resumed`` counts the resumes. Otherwise a new run starts,
    holding the resumed run's earlier epochs (``history``) too.
    """

    def __init__(
        self,
        config: Config,
        run: RunDir,
        previous: str | None = None,
        history: Sequence[dict[str, Any]] = (),
    ):
        from mlflow.entities import Param

        self.run = run
        self.client, experiment = _mlflow_client(str(config.output.mlflow))
        self.logged_through = 0
        """The last epoch the MLflow run has metrics of (a resumed run's earlier epochs)."""
        found = self._continued(previous, experiment)
        if found is None:
            tags = {
                "backend": config.backend,
                "dataset": config.data.name,
                "status": "running",
                "mlpx.run_dir": str(run.path.resolve()),
            }
            created = self.client.create_run(experiment, run_name=run.path.name, tags=tags)
            self.run_id, logged = created.info.run_id, {}
            for record in history:  # a resumed run's epochs before, in a new MLflow run
                self.epoch(record, 0, np.zeros(0))
        else:
            self.run_id, logged = found.info.run_id, found.data.params
            resumed = int(found.data.tags.get("resumed", "0")) + 1
            self.client.update_run(self.run_id, status="RUNNING")
            self.client.set_tag(self.run_id, "status", "running")
            self.client.set_tag(self.run_id, "resumed", str(resumed))
            losses = self.client.get_metric_history(self.run_id, "train_loss")  # every epoch's
            self.logged_through = max((m.step for m in losses), default=0)
        params = [
            Param(k, str(v)[:6000]) for k, v in scalar_hparams(config).items() if k not in logged
        ]
        for first in range(0, len(params), 100):  # MLflow takes 100 params per batch
            self.client.log_batch(self.run_id, params=params[first : first + 100])

    def _continued(self, previous: str | None, experiment: str):
        """The MLflow run ``previous`` names, when this store holds it, live, in ``mlpx``."""
        if not previous:
            return None
        from mlflow.exceptions import MlflowException

        try:
            found = self.client.get_run(previous)
        except MlflowException:
            return None
        live = found.info.lifecycle_stage == "active"
        return found if live and found.info.experiment_id == experiment else None

    def start(self, summary: dict[str, Any]) -> None:
        summary["mlflow_run_id"] = self.run_id

    def epoch(self, record: dict[str, Any], first_step: int, losses: np.ndarray) -> None:
        import time

        from mlflow.entities import Metric

        now, step = int(time.time() * 1000), record["epoch"]
        if step <= self.logged_through:  # logged before the run was resumed
            return
        metrics = [
            Metric(key, float(value), now, step)
            for key, value in record.items()
            if key != "epoch" and isinstance(value, (int, float))
        ]
        self.client.log_batch(self.run_id, metrics=metrics)

    def finish(self, summary: dict[str, Any]) -> None:
        status = summary.get("status", "failed")
        self.client.set_tag(self.run_id, "status", status)
        final = {f"final_{k}": v for k, v in (summary.get("final") or {}).items()}
        for key in ("best_val_loss", "best_val_acc", "best_epoch"):
            if isinstance(summary.get(key), (int, float)):
                final[key] = summary[key]
        if isinstance(summary.get("test"), dict):
            final |= {f"test_{k}": v for k, v in summary["test"].items() if v is not None}
        for key, value in final.items():
            self.client.log_metric(self.run_id, key, float(value))
        self.client.log_artifacts(self.run_id, str(self.run.path))
        self.client.set_terminated(self.run_id, MLFLOW_STATUS.get(status, "FAILED"))


def link_group(uri: str, directory: Any, kind: str, members: list[dict[str, Any]]) -> str:
    """Make the MLflow runs of a group's members (their summaries) children of one parent run
    named after the group's directory (created the first time, found again on resume);
    return the parent's id."""
    client, experiment = _mlflow_client(uri)
    name = Path(directory).name
    found = client.search_runs(
        [experiment], filter_string=f"tags.`mlpx.group_dir` = '{Path(directory).resolve()}'"
    )
    if found:
        parent = found[0].info.run_id
    else:
        tags = {"mlpx.group_dir": str(Path(directory).resolve()), "kind": kind}
        parent = client.create_run(experiment, run_name=name, tags=tags).info.run_id
    for summary in members:
        run_id = summary.get("mlflow_run_id")
        if isinstance(run_id, str):
            client.set_tag(run_id, "mlflow.parentRunId", parent)
    client.set_terminated(parent, "FINISHED")
    return parent
