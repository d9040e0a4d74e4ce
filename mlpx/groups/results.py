"""What a group's trials gave: one row per trial (results.csv), summaries per value, the
group's status, cv.json for a cross-validation and the sweep's plots.

Spreads are sample standard deviations (ddof 1, as :func:`statistics.stdev`) over the
completed trials of a value or the completed folds; 0 when there is only one.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlpx.atomic import write_json_atomic, write_text_atomic
from mlpx.groups.plan import CrossValPlan, GroupPlan, SweepPlan, Trial, value_label
from mlpx.runs import STEPS, RunDir
from mlpx.status import group_status

RESULTS = "results.csv"
REGRESSION_METRICS = (
    "val_r2",
    "val_mae",
    "val_rmse",
    "best_val_r2",
    "test_r2",
    "test_mae",
    "test_rmse",
)
CV_JSON = "cv.json"
COLUMNS = (
    "value",
    "seed",
    "status",
    "final_train_acc",
    "final_val_acc",
    "best_train_acc",
    "best_val_acc",
    "final_train_loss",
    "final_val_loss",
    "best_train_loss",
    "best_val_loss",
    "test_acc",
    "test_loss",
    "seconds",
    "wall_seconds",
    "error",
    "trial",
)
"""results.csv's columns; ``test_acc`` and ``test_loss`` only when a trial has a test split
(:func:`result_columns`)."""
TEST_COLUMNS = ("test_acc", "test_loss")
METRICS = (
    "val_acc",
    "val_loss",
    "best_val_acc",
    "best_val_loss",
    "train_acc",
    "train_loss",
    "best_train_acc",
    "best_train_loss",
    "test_acc",
    "test_loss",
    *REGRESSION_METRICS,
)
"""A trial's metrics, as cv.json names them: final train/val, train and validation at the
best epoch (lowest validation loss: ``best_val_loss``, ``best_val_acc``, ``best_train_loss``
and ``best_train_acc`` of that one epoch) and test; a regression's R², MAE and RMSE in place
of the accuracies."""
COLUMN_METRICS = {
    "final_train_acc": "train_acc",
    "final_val_acc": "val_acc",
    "final_train_loss": "train_loss",
    "final_val_loss": "val_loss",
    "final_val_r2": "val_r2",
}
"""results.csv's name of a metric where it differs from :data:`METRICS`' (final ones)."""
STD = "sample standard deviation (ddof 1)"
REGRESSION_COLUMNS = ("final_val_r2", "best_val_r2")
"""results.csv's extra columns in a sweep of regressions (after ``best_val_loss``)."""


def run_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """The :data:`METRICS` a run's summary.json holds."""
    final = summary.get("final") or {}
    finals = ("train_loss", "train_acc", "val_loss", "val_acc", "val_r2", "val_mae", "val_rmse")
    found = {key: final[key] for key in finals if key in final}
    bests = (
        "best_val_acc",
        "best_val_loss",
        "best_val_r2",
        "best_train_acc",
        "best_train_loss",
    )
    found |= {key: summary[key] for key in bests if key in summary}
    test = summary.get("test") or {}
    tests = ("acc", "loss", "r2", "mae", "rmse")
    found |= {f"test_{key}": test[key] for key in tests if test.get(key) is not None}
    return {key: found[key] for key in METRICS if key in found}


def mean_and_std(numbers: list[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (ddof 1; 0 for one number; None for none)."""
    if not numbers:
        return None, None
    spread = statistics.stdev(numbers) if len(numbers) > 1 else 0.0
    return statistics.fmean(numbers), spread


@dataclass
class TrialResult:
    """One row of results.csv: a trial, its status and its final metrics.

    ``seconds`` is the run's training time from summary.json; ``wall_seconds`` the whole
    trial's (process start to end: data loading, training, report and plots).
    """

    trial: Trial
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: float | None = None
    wall_seconds: float | None = None
    error: str | None = None

    @classmethod
    def from_summary(
        cls,
        trial: Trial,
        summary: dict[str, Any] | None,
        status: str | None = None,
        error: str | None = None,
        wall_seconds: float | None = None,
    ) -> TrialResult:
        """A row from a trial's summary.json; ``status``, ``error``, ``wall_seconds`` when
        known from the trial's outcome."""
        summary = summary or {}
        status = status or summary.get("status") or "failed"
        if error is None and status != "completed":
            error = summary.get("message")
        metrics = run_metrics(summary)
        return cls(trial, status, metrics, summary.get("seconds"), wall_seconds, error)

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    @property
    def final_val_acc(self) -> float | None:
        return self.metrics.get("val_acc")

    @property
    def final_val_loss(self) -> float | None:
        return self.metrics.get("val_loss")

    @property
    def final_val_r2(self) -> float | None:
        return self.metrics.get("val_r2")

    def row(self, columns: tuple[str, ...] = COLUMNS) -> list[str]:
        """The CSV cells of ``columns``, numbers as exact as summary.json's."""
        text = {
            "value": self.trial.label,
            "seed": str(self.trial.seed),
            "status": self.status,
            "error": self.error or "",
            "trial": self.trial.name,
        }
        numbers = {"seconds": self.seconds, "wall_seconds": self.wall_seconds}
        cells = []
        for column in columns:
            if column in text:
                cells.append(text[column])
                continue
            number = numbers.get(column, self.metrics.get(COLUMN_METRICS.get(column, column)))
            cells.append("" if number is None else repr(float(number)))
        return cells


def _finite(results: list[TrialResult], metric: str) -> list[float]:
    """``metric`` of the completed trials that have a finite one."""
    values = (r.metrics.get(metric) for r in results if r.ok)
    return [v for v in values if v is not None and math.isfinite(v)]


@dataclass
class ValueSummary:
    """The trials of one value; means and sample standard deviations over its completed
    seeds."""

    value: Any
    label: str
    results: list[TrialResult]

    @property
    def val_accs(self) -> list[float]:
        return _finite(self.results, "val_acc")

    @property
    def val_losses(self) -> list[float]:
        return _finite(self.results, "val_loss")

    @property
    def acc(self) -> tuple[float | None, float | None]:
        """Mean and sample standard deviation of the final validation accuracy over seeds."""
        return mean_and_std(self.val_accs)

    @property
    def loss(self) -> tuple[float | None, float | None]:
        """Mean and sample standard deviation of the final validation loss over seeds."""
        return mean_and_std(self.val_losses)

    @property
    def val_r2s(self) -> list[float]:
        return _finite(self.results, "val_r2")

    @property
    def r2(self) -> tuple[float | None, float | None]:
        """Mean and sample standard deviation of a regression's final validation R²."""
        return mean_and_std(self.val_r2s)

    @property
    def best_r2(self) -> float | None:
        """Mean over seeds of a regression's validation R² at each trial's best epoch."""
        return mean_and_std(_finite(self.results, "best_val_r2"))[0]

    def stat(self, metric: str) -> tuple[float | None, float | None]:
        """Mean and sample standard deviation over the completed seeds of any
        :data:`METRICS` entry (None, None when no seed has it)."""
        return mean_and_std(_finite(self.results, metric))

    @property
    def wall_seconds(self) -> float | None:
        times = [r.wall_seconds for r in self.results if r.wall_seconds is not None]
        return statistics.fmean(times) if times else None

    @property
    def completed(self) -> int:
        return sum(r.ok for r in self.results)

    @property
    def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for result in self.results:
            counts[result.status] = counts.get(result.status, 0) + 1
        return counts


@dataclass
class GroupResult:
    """A group's directory, plan and the results of every trial that has ended.

    ``running``: trials are still to end (cv.json written while the group runs);
    ``interrupted``: Ctrl-C or SIGTERM stopped the group.
    """

    directory: Path
    plan: GroupPlan
    results: list[TrialResult]
    interrupted: bool = False
    running: bool = False

    @property
    def status(self) -> str:
        """The group's status by :func:`mlpx.status.group_status`."""
        statuses = [r.status for r in self.results] + ["running"] * self.running
        return group_status(statuses, len(self.plan.trials), self.interrupted)

    @property
    def completed(self) -> list[TrialResult]:
        return [r for r in self.results if r.ok]

    @property
    def problems(self) -> list[TrialResult]:
        """Trials that ended without completing (failed, diverged, killed, interrupted)."""
        return [r for r in self.results if not r.ok]

    @property
    def members_dir(self) -> Path:
        return self.plan.members_dir(self.directory)

    def by_value(self) -> list[ValueSummary]:
        """One summary per value, in the plan's order."""
        return [
            ValueSummary(value, label, [r for r in self.results if r.trial.label == label])
            for value, label in ((value, value_label(value)) for value in self.plan.values)
        ]

    @property
    def regression(self) -> bool:
        """Whether the trials are regressions (the base config's ``task``)."""
        return self.plan.base.get("task") == "regression"

    def ranking(self) -> list[ValueSummary]:
        """Values by mean final validation accuracy, best first, equal accuracies by mean
        final validation loss, lowest first; a regression's by mean final validation loss,
        lowest first; values with none last."""
        summaries = [s for s in self.by_value() if s.results]
        if self.regression:
            return sorted(summaries, key=lambda s: s.loss[0] if s.loss[0] is not None else math.inf)
        return sorted(summaries, key=_rank_key)

    def has_test(self) -> bool:
        """Whether some completed trial has test metrics (a labelled test split)."""
        return any("test_loss" in r.metrics for r in self.completed)

    def metric_stats(self) -> dict[str, tuple[float, float]]:
        """Mean and sample standard deviation of every :data:`METRICS` entry that all the
        completed trials have (over those trials)."""
        done = [r.metrics for r in self.completed]
        shared = [key for key in METRICS if done and all(key in m for m in done)]
        return {key: mean_and_std([m[key] for m in done]) for key in shared}  # type: ignore[misc]


def _rank_key(summary: ValueSummary) -> tuple[float, float]:
    acc, loss = summary.acc[0], summary.loss[0]
    return (
        -acc if acc is not None else math.inf,
        loss if loss is not None and math.isfinite(loss) else math.inf,
    )


def result_columns(result: GroupResult) -> tuple[str, ...]:
    """results.csv's columns: :data:`COLUMNS`, the test ones only when there is a test, and
    a regression's :data:`REGRESSION_COLUMNS` after ``best_val_loss``."""
    columns = COLUMNS
    if not result.has_test():
        columns = tuple(column for column in COLUMNS if column not in TEST_COLUMNS)
    if result.regression:
        at = columns.index("best_val_loss") + 1
        columns = columns[:at] + REGRESSION_COLUMNS + columns[at:]
    return columns


def write_results(result: GroupResult) -> None:
    """Rewrite results.csv atomically: one row per ended trial, in the plan's order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    columns = result_columns(result)
    writer.writerow(columns)
    for row in result.results:
        writer.writerow(row.row(columns))
    write_text_atomic(result.directory / RESULTS, buffer.getvalue())


def recorded_wall_seconds(directory: Path, trial: Trial) -> float | None:
    """A finished trial's wall time as results.csv recorded it (not in its run directory)."""
    path = directory / RESULTS
    with contextlib.suppress(OSError, ValueError, csv.Error), open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            if row.get("trial") == trial.name and row.get("wall_seconds"):
                return float(row["wall_seconds"])
    return None


def crossval_document(result: GroupResult) -> dict[str, Any]:
    """cv.json: every fold's final metrics and, over the completed folds, their mean and
    sample standard deviation."""
    stats = result.metric_stats()
    return {
        "status": result.status,
        "name": result.plan.base["name"],
        "folds": len(result.plan.trials),
        "folds_completed": len(result.completed),
        "mean": {key: mean for key, (mean, _) in stats.items()},
        "std": {key: std for key, (_, std) in stats.items()},
        "std_ddof": 1,
        "runs": [
            {
                "fold": r.trial.value,
                "run_dir": str(result.members_dir / r.trial.name),
                "status": r.status,
                "message": r.error,
            }
            | r.metrics
            for r in result.results
        ],
    }


def write_sweep_plots(result: GroupResult) -> None:
    """plots/sweep.png and plots/curves.png, when at least one trial completed."""
    from mlpx import plots
    from mlpx.side_by_side import side_by_side

    summaries = [s for s in result.by_value() if s.results]
    if not any(s.completed for s in summaries):
        return
    directory = result.directory / "plots"
    directory.mkdir(exist_ok=True)
    plan = result.plan
    scale = plots.axis_scale(plan.param, [s.value for s in summaries])
    panels = plots.REGRESSION_PANELS if result.regression else plots.SWEEP_PANELS

    def sweep() -> None:
        seeds = len(plan.seeds)
        plots.plot_sweep(directory / "sweep.png", plan.param, summaries, scale, seeds, panels)

    def curves() -> None:
        histories = [
            (s.label, [_seed_run(result, r) for r in s.results if r.ok]) for s in summaries
        ]
        plots.plot_curves(directory / "curves.png", plan.param, plots.seed_curves(histories))

    plots.warm_up()  # done by now in a sweep that ran trials (see mlpx.groups.runner)
    side_by_side([sweep, curves])  # half a second each: at once where there are two cores


def _seed_run(result: GroupResult, trial: TrialResult) -> tuple[list[dict], tuple]:
    """A completed trial's epoch records and its steps.csv (step, loss) arrays."""
    from mlpx.plots import read_steps

    run = RunDir(result.members_dir / trial.trial.name)
    return run.read_metrics(), read_steps(run.file(STEPS))


def write_group_files(result: GroupResult, final: bool = False) -> None:
    """What a group writes besides its trials: results.csv, and cv.json (a cross-validation)
    or, at the ``final`` call once its trials have ended, the plots (a sweep; drawing them
    takes seconds, so once)."""
    write_results(result)
    if isinstance(result.plan, CrossValPlan):
        write_json_atomic(result.directory / CV_JSON, crossval_document(result))
    elif isinstance(result.plan, SweepPlan) and final:
        write_sweep_plots(result)
