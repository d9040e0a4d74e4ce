"""k-fold cross-validation: one run per fold under a parent directory, then mean and std.

``data.folds: K`` splits the training part into K seeded stratified folds
(:func:`mlpx.data.dataset.stratified_folds`); run k trains on the other K-1 folds and
validates on fold k. Each run is an ordinary run directory, ``<parent>/fold-k``, whose
config.yaml has ``data.fold: k`` and so reruns exactly that fold. The parent holds the
cross-validation's config (cv.yaml) and cv.json: every fold's final metrics and, over the
folds that completed, their mean and (population, ddof=0) standard deviation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlpx.config import Config, build_config, dump_config
from mlpx.runs import RunDir
from mlpx.train import Trainer, TrainObserver

CV_JSON = "cv.json"
CV_CONFIG = "cv.yaml"
METRICS = (
    "val_acc",
    "val_loss",
    "best_val_acc",
    "best_val_loss",
    "train_acc",
    "train_loss",
    "test_acc",
    "test_loss",
)


@dataclass
class FoldOutcome:
    """One fold's run: where it is, how it ended and its final metrics (names of METRICS)."""

    fold: int
    run_dir: Path | None
    status: str
    message: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class CrossValResult:
    """A whole cross-validation; ``mean``/``std`` cover the completed folds only.

    ``status`` is ``completed`` when every fold completed, ``interrupted`` after Ctrl-C and
    ``incomplete`` when a fold diverged or failed (the others still ran).
    """

    path: Path
    name: str
    folds: int
    status: str
    outcomes: list[FoldOutcome]
    mean: dict[str, float]
    std: dict[str, float]

    @property
    def completed(self) -> list[FoldOutcome]:
        return [o for o in self.outcomes if o.status == "completed"]

    def to_dict(self) -> dict[str, Any]:
        """cv.json's content."""
        return {
            "status": self.status,
            "name": self.name,
            "folds": self.folds,
            "folds_completed": len(self.completed),
            "mean": self.mean,
            "std": self.std,
            "runs": [
                {"fold": o.fold, "run_dir": o.run_dir, "status": o.status, "message": o.message}
                | o.metrics
                for o in self.outcomes
            ],
        }


def fold_config(config: Config, fold: int) -> Config:
    """The config of fold ``fold`` (1-based) of a cross-validation config."""
    return build_config(config.to_dict(), [f"data.fold={fold}"])


def fold_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The METRICS a run's summary.json holds: final train/val, best val and test."""
    final = summary.get("final") or {}
    found = {
        key: final[key]
        for key in ("train_loss", "train_acc", "val_loss", "val_acc")
        if key in final
    }
    found |= {key: summary[key] for key in ("best_val_acc", "best_val_loss") if key in summary}
    test = summary.get("test") or {}
    found |= {f"test_{key}": test[key] for key in ("acc", "loss") if test.get(key) is not None}
    return {key: found[key] for key in METRICS if key in found}


def aggregate(outcomes: list[FoldOutcome]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and population standard deviation of every metric the completed folds share."""
    done = [o.metrics for o in outcomes if o.status == "completed"]
    shared = [key for key in METRICS if done and all(key in m for m in done)]
    values = {key: np.array([m[key] for m in done], dtype=np.float64) for key in shared}
    return (
        {key: float(v.mean()) for key, v in values.items()},
        {key: float(v.std()) for key, v in values.items()},
    )


def _no_observer(fold: int) -> AbstractContextManager[None]:
    return contextlib.nullcontext()


def cross_validate(
    config: Config,
    runs_dir: Path | None = None,
    command: list[str] | None = None,
    observe_fold: Callable[[int], AbstractContextManager[TrainObserver | None]] = _no_observer,
) -> CrossValResult:
    """Train one run per fold of ``config.data.folds`` and summarise them.

    Parameters
    ----------
    config : a validated config with ``data.folds`` set and ``data.fold`` unset.
    runs_dir : where the parent directory ``<stamp>-<name>-cv`` goes (default:
        ``output.runs_dir``).
    command : the command line, for each run's env.json.
    observe_fold : called with the fold number before each run; the context manager it
        returns yields that run's progress observer (or None).

    Returns
    -------
    CrossValResult, also written to cv.json after every fold.

    Raises
    ------
    MlpxError
        a config or data problem: it would be the same in every fold, so none is trained.
        A run that diverges or crashes is recorded and the next fold goes on.
    """
    if not config.data.folds or config.data.fold is not None:
        raise ValueError("cross_validate needs data.folds set and data.fold unset")
    k = config.data.folds
    parent: RunDir | None = None
    outcomes: list[FoldOutcome] = []
    interrupted = False
    for fold in range(1, k + 1):
        try:
            trainer = Trainer(fold_config(config, fold))
        except KeyboardInterrupt:
            if parent is None:
                raise
            interrupted = True
            break
        if parent is None:  # only once the data has loaded: a data error leaves nothing behind
            parent = RunDir.create(Path(runs_dir or config.output.runs_dir), f"{config.name}-cv")
            parent.write_text(CV_CONFIG, dump_config(config))
        run_path = parent.path / f"fold-{fold}"
        try:
            with observe_fold(fold) as observer:
                trainer.observer = observer
                run = trainer.run(command=command, run_path=run_path)
            outcome = FoldOutcome(
                fold, run.run_dir, run.status, run.message, fold_metrics(run.summary)
            )
        except KeyboardInterrupt:
            outcome = FoldOutcome(fold, run_path, "interrupted", "interrupted")
        except Exception as exc:  # a crash in one fold: recorded, like a sweep's failed trial
            outcome = FoldOutcome(fold, run_path, "failed", f"{type(exc).__name__}: {exc}")
        outcomes.append(outcome)
        interrupted = outcome.status == "interrupted"
        parent.write_json(CV_JSON, _result(parent.path, config, outcomes, interrupted).to_dict())
        if interrupted:
            break
    assert parent is not None  # k >= 2 folds, and the first one either ran or raised
    result = _result(parent.path, config, outcomes, interrupted)
    parent.write_json(CV_JSON, result.to_dict())
    return result


def _result(
    path: Path, config: Config, outcomes: list[FoldOutcome], interrupted: bool
) -> CrossValResult:
    mean, std = aggregate(outcomes)
    k = config.data.folds or 0
    if interrupted:
        status = "interrupted"
    elif len(outcomes) == k and all(o.status == "completed" for o in outcomes):
        status = "completed"
    elif len(outcomes) < k:
        status = "running"
    else:
        status = "incomplete"
    return CrossValResult(path, config.name, k, status, outcomes, mean, std)
