"""The training loop: backend-agnostic epochs, batches, metrics, early stopping and files.

The loop owns the batch order (a seeded NumPy permutation per epoch), the initial weights
(drawn by :func:`mlpx.model.init_params`), the metrics and the run directory; the backend it
drives owns only arithmetic. Nothing here prints: progress goes to an optional observer.
"""

from __future__ import annotations

import functools
import math
import sys
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from mlpx.backends import Backend, Evaluation, create_backend
from mlpx.config import Config
from mlpx.data import Dataset, load_dataset
from mlpx.data.npz import file_sha256
from mlpx.errors import RunDirError
from mlpx.interrupts import deferred_interrupts
from mlpx.metrics import regression_metrics
from mlpx.model import check_model_fits, init_params, mismatched_shape, model_spec
from mlpx.runs import (
    CHECKPOINT,
    CONFIG,
    CONFUSION_TEST_PLOT,
    SUMMARY,
    TEST_PREDICTIONS,
    RunDir,
    process_info,
    run_status,
)
from mlpx.schedules import Schedule, build_schedule
from mlpx.tracking import check_trackers, open_trackers

BEST = "best/"
"""Prefix of the best epoch's weights (``train.restore_best``) in the checkpoint, beside the
state of the last epoch; ``best/epoch`` says which epoch they are from."""

Training = Generator[None, None, "TrainResult"]
"""A run in progress (:meth:`Trainer.training`): it pauses once per epoch, after the epoch's
steps are handed to the backend and before their losses are read, so that a stacked backend
can train many runs' epochs at once; :func:`drain` runs one to its end."""

CHECKPOINT_SECONDS = 2.0
"""A checkpoint goes to disk after the first epoch, then at most this often, and always when
the run stops: an epoch of a small model takes milliseconds, and writing (and fsyncing) one
file per epoch would cost more than the epoch. A kill loses at most this much training,
which a resume recomputes exactly."""


class TrainObserver(Protocol):
    """Receives progress; the CLI renders it, tests and sweeps may pass None."""

    def on_start(self, run: RunDir, epochs: int, steps_per_epoch: int, info: dict) -> None: ...

    def on_step(self, epoch: int, step: int) -> None: ...

    def on_epoch(self, record: dict[str, Any]) -> None: ...


@dataclass
class TrainResult:
    """What a finished (or stopped) run produced; ``summary`` is summary.json's content."""

    run_dir: Path
    status: str
    summary: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def message(self) -> str | None:
        return self.summary.get("message")


def schedule_for(config: Config, steps_per_epoch: int) -> Schedule:
    """The learning-rate schedule of a run: ``schedule`` of the config, or the exponential
    one when ``optimizer.lr_decay`` (its older spelling) is below 1."""
    section = config.schedule
    name, settings = section.name, section.settings()
    if config.optimizer.lr_decay != 1:
        name, settings = "exponential", {"gamma": config.optimizer.lr_decay}
    epochs, lr = config.train.epochs, config.optimizer.lr
    return build_schedule(name, settings, section.warmup_epochs, lr, epochs, steps_per_epoch)


def batch_bounds(n: int, batch_size: int, batchnorm: bool) -> np.ndarray:
    """(start, stop) of every batch of an epoch, (n_batches, 2).

    Batch norm cannot normalise a batch of one sample in training (its variance is 0,
    and PyTorch refuses it), so such a last batch joins the one before.
    """
    starts = np.arange(0, n, batch_size)
    stops = np.minimum(starts + batch_size, n)
    if batchnorm and len(starts) > 1 and stops[-1] - starts[-1] == 1:
        starts, stops = starts[:-1], np.append(stops[:-2], n)
    return np.column_stack([starts, stops])


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The batch order of one epoch: a permutation seeded by (seed, epoch), the same for
    every backend and reproducible for any epoch alone (so a resumed run sees the same)."""
    return np.random.default_rng([seed, 2, epoch]).permutation(n)


@functools.cache
def _installed() -> tuple[tuple[tuple[str, str | None], ...], str | None]:
    """The versions of Python and the packages that matter, and the git commit of the
    working directory: read once per process (a stack writes env.json for every trial,
    and reading package metadata and running git took 20 ms a trial)."""
    import platform
    import subprocess
    from importlib.metadata import PackageNotFoundError, version

    versions = [("python", platform.python_version())]
    for package in ("mlpx", "numpy", "torch", "scikit-learn"):
        try:
            versions.append((package, version(package)))
        except PackageNotFoundError:
            versions.append((package, None))
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return tuple(versions), commit or None


def environment(backend: Backend, command: list[str] | None) -> dict[str, Any]:
    """Versions, device, git commit and command line, for env.json."""
    import platform

    versions, commit = _installed()
    return {
        "versions": dict(versions),
        "backend": backend.name,
        "device": backend.device,
        "platform": platform.platform(),
        "cpu_count": __import__("os").cpu_count(),
        "threads": backend.threads,
        "git_commit": commit,
        "command": command if command is not None else sys.argv,
    }


class Trainer:
    """One run: build everything from a config, then :meth:`run` the epochs."""

    def __init__(
        self,
        config: Config,
        observer: TrainObserver | None = None,
        dataset: Dataset | None = None,
        make_backend: Callable[..., Backend] = create_backend,
    ):
        """``dataset``: the config's data, already loaded (trials of a stack that share it);
        ``make_backend(config, spec, params)``: the backend (a stack's trial view)."""
        self.config = config
        self.observer = observer
        if dataset is None:
            dataset = load_dataset(config.data, config.seed, config.dtype, config.task)
        self.dataset: Dataset = dataset
        self.spec = model_spec(config, self.dataset.n_features, self.dataset.n_classes)
        m = config.model
        check_model_fits(
            self.spec, config.train.batch_size, config.dtype, f"model.hidden {m.hidden}"
        )
        params = init_params(self.spec, m.init, m.init_std, config.seed, config.dtype)
        self.backend = make_backend(config, self.spec, params)
        for split, (x, y) in self.dataset.splits().items():
            self.backend.set_data(split, x, y)
        self.history: list[dict[str, Any]] = []
        self.batches = batch_bounds(
            len(self.dataset.y_train), config.train.batch_size, self.spec.uses_batchnorm
        )
        self.schedule = schedule_for(config, len(self.batches))
        self.draw_plots = config.output.plots
        """Whether the run draws its plots as it ends (a stacked trial's are drawn later)."""
        self.checkpoint_seconds = CHECKPOINT_SECONDS
        """Seconds between checkpoints (K runs trained as one stack share the time)."""
        check_trackers(config)

    def run(
        self,
        runs_dir: Path | None = None,
        command: list[str] | None = None,
        run_path: Path | None = None,
    ) -> TrainResult:
        """Train in a new run directory: exactly ``run_path`` when given (a sweep's trial),
        else a fresh timestamped one under ``runs_dir`` (default: output.runs_dir)."""
        return drain(self.training(runs_dir, command, run_path))

    def training(
        self,
        runs_dir: Path | None = None,
        command: list[str] | None = None,
        run_path: Path | None = None,
    ) -> Training:
        """:meth:`run` as a :data:`Training` that pauses after each epoch's steps."""
        config = self.config
        if run_path is not None:
            run = RunDir.create_at(run_path)
        else:
            run = RunDir.create(Path(runs_dir or config.output.runs_dir), config.name)
        run.write_config(config)
        run.write_env(environment(self.backend, command))
        run.write_normalization(self.dataset.normalization, self.dataset.targets)
        self.summary: dict[str, Any] = {
            "status": "running",
            "name": config.name,
            "run_dir": str(run.path),
            "dataset": config.data.name,
            "task": config.task,
            "loss": config.loss,
            "backend": self.backend.name,
            "device": self.backend.device,
            "model": self.spec.describe(),
            "n_params": self.spec.n_params(),
            "epochs_planned": config.train.epochs,
            "epochs_completed": 0,
            **process_info(),
            "started_with": self.started_with(),
        }
        self._best: dict[str, np.ndarray] | None = None
        return (yield from self._train(run, first_epoch=1))

    def started_with(self) -> dict[str, Any]:
        """What the run starts with, for a resume to check (summary.json's ``started_with``):
        the resolved config and its hash, the fingerprint of the data (:meth:`Dataset.digest`)
        and, for a file of the user's, its resolved path and SHA-256."""
        record: dict[str, Any] = {
            "config_sha256": self.config.sha256(),
            "config": self.config.to_dict(),
            "data_digest": self.dataset.digest(),
        }
        if self.config.data.name == "npz" and self.config.data.path:
            path = Path(self.config.data.path).expanduser().resolve()
            record["data_file"] = {"path": str(path), "sha256": file_sha256(path)}
        return record

    def resume(self, run: RunDir, checkpoint: dict[str, np.ndarray]) -> TrainResult:
        """Continue ``run`` from its last checkpoint to the configured number of epochs.

        Weights, optimizer and RNG states come from the checkpoint; batch orders and learning
        rates are functions of the epoch; the files are cut back to the checkpoint's epoch
        (a killed run may have written one more metrics line) and then appended to. On the
        CPU the result is the same, bit for bit, as a run that was never interrupted.
        """
        epoch = int(checkpoint["epoch"])
        self.backend.load_state(checkpoint)
        best = {k.removeprefix(BEST): v for k, v in checkpoint.items() if k.startswith(BEST)}
        self._best = best or None
        self.history = run.read_metrics()[:epoch]
        for record in self.history:  # a schedule's state is a function of the metrics
            self.schedule.observe(record)
        run.truncate_metrics(epoch)
        run.truncate_steps(epoch * self.steps_per_epoch)
        previous = run.read_summary() or {}
        self.summary = previous | process_info() | {"status": "running"}
        self.summary["resumed"] = previous.get("resumed", 0) + 1
        self.summary["seconds_before"] = previous.get("seconds", 0.0)
        self.summary.pop("message", None)
        planned = run.read_config().train.epochs  # the plan, as open_resume checked it
        if planned != self.config.train.epochs:  # --epochs N
            extended = {"from": planned, "to": self.config.train.epochs, "after_epoch": epoch}
            self.summary["epochs_extended"] = [*previous.get("epochs_extended", []), extended]
            run.write_config(self.config)
        self.summary["epochs_planned"] = self.config.train.epochs
        try:
            return drain(self._train(run, first_epoch=epoch + 1))
        finally:
            run.unlock()

    @property
    def steps_per_epoch(self) -> int:
        return len(self.batches)

    def _write_checkpoint(self, run: RunDir) -> None:
        """Put the state after the last complete epoch on disk (see CHECKPOINT_SECONDS)."""
        run.write_checkpoint(self._snapshot)
        self._checkpointed = time.monotonic()

    def _train(self, run: RunDir, first_epoch: int) -> Training:
        self._snapshot: dict[str, np.ndarray] | None = None
        self._checkpointed = -math.inf
        self.trackers = open_trackers(self.config, run, self.summary, self.history)
        for tracker in self.trackers:
            tracker.start(self.summary)
        run.write_summary(self.summary)
        if self.observer:
            self.observer.on_start(
                run, self.config.train.epochs, self.steps_per_epoch, self.summary
            )
            for record in self.history:
                self.observer.on_epoch(record)
        self.run_dir = run
        try:
            status, message = yield from self._epochs(run, first_epoch)
        except KeyboardInterrupt:
            status = "interrupted"
            message = f"interrupted after {len(self.history)} complete epoch(s)"
        except BaseException as exc:
            self._finish(run, "failed", f"{type(exc).__name__}: {exc}", final_files=False)
            raise
        return self._finish(run, status, message)

    def _epochs(
        self, run: RunDir, first_epoch: int
    ) -> Generator[None, None, tuple[str, str | None]]:
        config = self.config
        n, steps_per_epoch = len(self.dataset.y_train), self.steps_per_epoch
        patience = config.train.early_stopping
        bounds, sizes = self.batches.tolist(), np.diff(self.batches, axis=1)[:, 0]
        rate = self.schedule.rate
        for epoch in range(first_epoch, config.train.epochs + 1):
            started = time.perf_counter()
            self.backend.start_epoch(epoch_order(config.seed, epoch, n))
            for step, (start, stop) in enumerate(bounds):
                self.backend.train_step(start, stop, rate(epoch, step))
                if self.observer:
                    self.observer.on_step(epoch, step + 1)
            yield
            stats = self.backend.end_epoch()
            first_step = (epoch - 1) * steps_per_epoch + 1
            bad = np.flatnonzero(~np.isfinite(stats.losses))
            if len(bad):
                run.append_steps(epoch, first_step, stats.losses[: bad[0] + 1])
                # the model, plots and report keep the last finite weights, not NaNs
                if self._snapshot is not None:
                    self.backend.load_state(self._snapshot)
                return "diverged", (
                    f"training diverged at epoch {epoch}, step {first_step + bad[0]} "
                    f"(loss {stats.losses[bad[0]]}); try a smaller optimizer.lr "
                    f"(now {config.optimizer.lr:g})"
                )
            record: dict[str, Any] = {
                "epoch": epoch,
                "train_loss": float(np.dot(stats.losses, sizes) / n),
            }
            if not self.dataset.regression:
                record["train_acc"] = stats.correct / n
            if self.dataset.x_val is not None:
                val = self.backend.evaluate("val")
                record |= {f"val_{key}": value for key, value in self._metrics("val", val).items()}
            record |= {"lr": rate(epoch, 0), "seconds": time.perf_counter() - started}
            # An epoch's files are written as one unit: Ctrl-C waits for them, and a kill
            # leaves metrics ahead of the checkpoint, which resume cuts back.
            with deferred_interrupts():
                run.append_steps(epoch, first_step, stats.losses)
                run.append_metrics(record)
                for tracker in self.trackers:
                    tracker.epoch(record, first_step, stats.losses)
                if config.train.restore_best and improves(self.history, record):
                    self._best = self.backend.params() | {"epoch": np.array(epoch)}
                self._snapshot = self.backend.state() | {"epoch": np.array(epoch)}
                if self._best is not None:
                    self._snapshot |= {BEST + k: v for k, v in self._best.items()}
                if time.monotonic() - self._checkpointed >= self.checkpoint_seconds:
                    self._write_checkpoint(run)
                self.history.append(record)
                self.schedule.observe(record)
                self.summary["epochs_completed"] = epoch
            if self.observer:
                self.observer.on_epoch(record)
            if patience is not None and epochs_without_improvement(self.history) >= patience:
                return "completed", (
                    f"early stopping at epoch {epoch}: validation loss has not improved "
                    f"for {patience} epoch(s)"
                )
        return "completed", None

    def _finish(
        self, run: RunDir, status: str, message: str | None, final_files: bool = True
    ) -> TrainResult:
        """Write the model, summary, report and plots for whatever epochs completed.

        Ctrl-C or SIGTERM while they are written waits for them (a few seconds at most), then
        is dropped: training is over, and what it would stop is what the user keeps.
        """
        run.close_logs()
        summary = self.summary
        summary |= {"status": status, "finished": time.time()}
        since = summary["finished"] - summary["started"]
        summary["seconds"] = summary.pop("seconds_before", 0.0) + since
        if message:
            summary["message"] = message
        summary |= summarize(self.history)
        try:
            with deferred_interrupts():
                self._final_files(run, summary, final_files)
                for tracker in self.trackers:
                    tracker.finish(summary)
        except KeyboardInterrupt:
            pass
        return TrainResult(run.path, status, summary, self.history)

    def _final_files(self, run: RunDir, summary: dict[str, Any], final_files: bool) -> None:
        if self._snapshot is not None:
            self._write_checkpoint(run)
        if final_files and self.history:
            summary["model_epoch"] = self._load_model_weights()
            run.write_model(self.backend)
            if self.dataset.x_test is not None:
                test = self.backend.evaluate("test")
                if test.loss is not None:
                    summary["test"] = self._metrics("test", test)
                else:
                    summary["test_predictions"] = TEST_PREDICTIONS
                    self._write_test_predictions(run, test.predictions)
            self._report_and_plots(run)
        run.write_summary(summary)

    def _metrics(self, split: str, evaluation: Evaluation) -> dict[str, float]:
        """A labelled split's metrics: ``loss`` and ``acc``, or for regression ``loss`` (of
        the standardised targets, the one minimised) and ``mae``, ``rmse`` and ``r2`` of
        the predictions mapped back to the targets' units."""
        if not self.dataset.regression:
            return {"loss": evaluation.loss, "acc": evaluation.accuracy}
        return {"loss": evaluation.loss} | regression_metrics(
            self.dataset.raw_targets[split], self.dataset.targets.invert(evaluation.predictions)
        )

    def _write_test_predictions(self, run: RunDir, predictions: np.ndarray) -> None:
        if self.dataset.regression:
            values = self.dataset.targets.invert(predictions)
            run.write_test_values(values, self.dataset.class_names)
        else:
            run.write_test_predictions(predictions)

    def _load_model_weights(self) -> int:
        """Put the weights the model file, test metrics, report and plots are to come from
        into the backend, and return their epoch: the best epoch's with restore_best, else
        the last complete epoch's (not those of an epoch that Ctrl-C cut short)."""
        if self._best is not None:
            weights = {k: v for k, v in self._best.items() if k != "epoch"}
            self.backend.load_state(self.backend.state() | weights)
            return int(self._best["epoch"])
        if self._snapshot is not None:
            self.backend.load_state(self._snapshot)
        return int(self.history[-1]["epoch"])

    def _report_and_plots(self, run: RunDir) -> None:
        from mlpx import plots
        from mlpx.report import classification_text

        split = "val" if self.dataset.x_val is not None else "train"
        if self.dataset.regression:
            return self._regression_report_and_plots(run, split)
        x, y = self.dataset.splits()[split]
        predictions = self.backend.evaluate(split).predictions
        names = self.dataset.class_names
        drawn = self.draw_plots and self.dataset.image_shape is not None
        report = classification_text(y, predictions, names, split, drawn)
        y_test = self.dataset.y_test
        if y_test is not None:  # a labelled test split: reported beside validation
            test_predictions = self.backend.evaluate("test").predictions
            report += "\n\n" + classification_text(y_test, test_predictions, names, "test")
        run.write_report(report)
        if self.draw_plots:
            plots.plot_run(run, self.history, self.dataset, split, predictions, self.backend)
            if y_test is not None:
                path = run.plots / CONFUSION_TEST_PLOT
                plots.plot_confusion(path, y_test, test_predictions, names, "test")

    def _regression_report_and_plots(self, run: RunDir, split: str) -> None:
        from mlpx import regression_plots
        from mlpx.metrics import regression_report

        data = self.dataset
        y_true = data.raw_targets[split]
        y_pred = data.targets.invert(self.backend.evaluate(split).predictions)
        parts = [(y_true, y_pred, split)]
        if "test" in data.raw_targets:  # a labelled test split: reported beside validation
            test_pred = data.targets.invert(self.backend.evaluate("test").predictions)
            parts.append((data.raw_targets["test"], test_pred, "test"))
        run.write_report(regression_report(parts, data.class_names))
        if self.draw_plots:
            x = data.splits()[split][0]
            raw_x = data.normalization.invert(x)
            fit = None
            if data.n_features <= 2:
                fit = regression_plots.FittedFunction(raw_x, y_true, self._predict_raw)
            regression_plots.plot_regression_run(
                run, self.history, y_true, y_pred, data.class_names, split, fit
            )

    def _predict_raw(self, raw_x: np.ndarray) -> np.ndarray:
        """The model's predictions (N, K) in the targets' units for raw inputs (N, D)."""
        data = self.dataset
        x = data.normalization.apply(raw_x, self.config.dtype)
        return data.targets.invert(self.backend.predict(x))


Result = TypeVar("Result")


def drain(steps: Generator[None, None, Result]) -> Result:
    """Run a generator that pauses with None (a :data:`Training`) to its end; its result."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def improves(history: list[dict[str, Any]], record: dict[str, Any]) -> bool:
    """Whether ``record``'s validation loss is lower than every one in ``history``."""
    return all(record["val_loss"] < earlier["val_loss"] for earlier in history)


def epochs_without_improvement(history: list[dict[str, Any]]) -> int:
    """Epochs since the lowest validation loss so far (derived, so resume needs no state)."""
    losses = [record["val_loss"] for record in history]
    return len(losses) - 1 - int(np.argmin(losses))


def best_record(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The epoch with the lowest validation loss (the first of equals), as early stopping and
    restore_best choose it; the last epoch when there is no validation split."""
    if "val_loss" not in history[-1]:
        return history[-1]
    return min(history, key=lambda record: record["val_loss"])


def summarize(history: list[dict[str, Any]]) -> dict[str, Any]:
    """Final and best metrics of a history of epoch records.

    The best epoch is :func:`best_record`'s; ``best_val_loss`` and ``best_val_acc`` are both
    that one epoch's numbers (not the best of each over all epochs), and so are
    ``best_train_loss`` and ``best_train_acc``.
    """
    if not history:
        return {"final": None, "best_epoch": None}
    final, best = history[-1], best_record(history)
    out: dict[str, Any] = {
        "final": {k: v for k, v in final.items() if k not in ("epoch", "lr", "seconds")},
        "best_epoch": best["epoch"],
    }
    if "val_loss" in best:
        out["best_val_loss"] = best["val_loss"]
        out["best_train_loss"] = best["train_loss"]
        for key in ("val_acc", "val_r2", "train_acc"):
            if key in best:
                out[f"best_{key}"] = best[key]
    return out


def open_resume(
    run_path: Path, epochs: int | None = None
) -> tuple[Trainer, RunDir, dict[str, np.ndarray]]:
    """The Trainer of an interrupted or crashed run, its directory (locked: a second resume
    is refused) and its checkpoint, ready for :meth:`Trainer.resume`.

    A run resumes as it started: config.yaml, the data and the model the checkpoint holds
    must be those recorded when it started (summary.json's ``started_with``; runs of an
    older mlpx have only the model to check). The one change allowed is ``epochs``: more
    epochs in all than planned. A RunDirError says why a directory cannot be resumed.
    """
    run = RunDir(Path(run_path))
    what = f"--resume {run_path}"
    if not run.has_config():
        raise RunDirError(f"{what}: not a run directory (no {CONFIG})")
    run.lock(what)
    try:
        trainer, checkpoint = _checked_resume(run, what, epochs)
    except BaseException:
        run.unlock()
        raise
    return trainer, run, checkpoint


def _checked_resume(
    run: RunDir, what: str, epochs: int | None
) -> tuple[Trainer, dict[str, np.ndarray]]:
    summary = run.read_summary()
    if not isinstance(summary, dict) or not isinstance(summary.get("model"), str):
        raise RunDirError(
            f"{what}: {SUMMARY} is missing or damaged, so what the run started with cannot be "
            "checked; start it anew"
        )
    status = run_status(summary)
    planned = summary.get("epochs_planned")
    if status == "completed" and (
        epochs is None or not isinstance(planned, int) or epochs <= planned
    ):
        more = (
            f"; to train it longer, give --epochs N with N > {planned}"
            if isinstance(planned, int)
            else ""
        )
        raise RunDirError(f"{what}: the run has already completed{more}")
    if status == "running":
        raise RunDirError(f"{what}: the run is still running (pid alive)")
    if not run.file(CHECKPOINT).exists():
        raise RunDirError(f"{what}: no {CHECKPOINT} (no epoch had completed); start it anew")
    checkpoint = run.read_checkpoint()
    if checkpoint is None or "epoch" not in checkpoint:
        raise RunDirError(
            f"{what}: {CHECKPOINT} is damaged (not a readable .npz archive with an epoch); "
            "the run cannot continue from it; start it anew"
        )
    config = run.read_config()
    started = summary.get("started_with")
    if isinstance(started, dict) and isinstance(started.get("config"), dict):
        changes = _config_changes(started["config"], config.to_dict())
        if changes:
            raise RunDirError(
                f"{what}: {CONFIG} changed since the run started ({'; '.join(changes)}); a run "
                "resumes as it started: undo the change, or start a new run"
            )
    planned = summary.get("epochs_planned", config.train.epochs)
    if config.train.epochs != planned:
        raise RunDirError(
            f"{what}: train.epochs is {config.train.epochs} in {CONFIG} but the run planned "
            f"{planned}; put it back, and to train longer pass --epochs N"
        )
    if epochs is not None and epochs < planned:
        raise RunDirError(
            f"{what} --epochs {epochs}: the run plans {planned} epochs; --epochs only adds "
            f"epochs (give {planned} or more)"
        )
    if epochs is not None:
        config = config.model_copy(
            update={"train": config.train.model_copy(update={"epochs": epochs})}
        )
    backend = summary.get("backend")
    if isinstance(backend, str) and backend != config.backend:
        raise RunDirError(
            f"{what}: the run trained with backend {backend}, {CONFIG} now says "
            f"{config.backend}; put it back"
        )
    trainer = Trainer(config)
    why = mismatched_shape(checkpoint, trainer.spec)
    if why is not None:
        raise RunDirError(
            f"{what}: {CHECKPOINT} does not hold the model of {CONFIG} "
            f"({trainer.spec.describe()}): {why}"
        )
    if isinstance(started, dict) and started.get("data_digest") not in (
        None,
        trainer.dataset.digest(),
    ):
        raise RunDirError(f"{what}: {_data_change(started, config)}; a run resumes on its own data")
    return trainer, checkpoint


def _config_changes(before: dict[str, Any], after: dict[str, Any], prefix: str = "") -> list[str]:
    """``key: old -> new`` for every setting that differs (``train.epochs`` aside: --epochs
    and the summary's plan decide it)."""
    changes = []
    for key in sorted(set(before) | set(after), key=str):
        path = f"{prefix}{key}"
        old, new = before.get(key, "(absent)"), after.get(key, "(absent)")
        if path == "train.epochs":
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            changes += _config_changes(old, new, f"{path}.")
        elif old != new:
            changes.append(f"{path}: {old!r} -> {new!r}")
    return changes


def _data_change(started: dict[str, Any], config: Config) -> str:
    """What changed about the data: the file's content, or the data themselves."""
    recorded = started.get("data_file")
    if isinstance(recorded, dict) and config.data.path:
        path = Path(config.data.path).expanduser().resolve()
        now = file_sha256(path)
        if now != recorded.get("sha256"):
            return (
                f"data.path {path} holds other data than when the run started (sha256 "
                f"{str(recorded.get('sha256'))[:12]}... then, {now[:12]}... now)"
            )
    return f"the data of data.name {config.data.name} differ from those the run started with"


def train(
    config: Config,
    observer: TrainObserver | None = None,
    runs_dir: Path | None = None,
    command: list[str] | None = None,
    run_path: Path | None = None,
) -> TrainResult:
    """Build and train one run from a validated config; see :class:`Trainer`."""
    return Trainer(config, observer).run(runs_dir, command, run_path)
