"""The rows of ``mlpx runs``: one per run, sweep or cross-validation found under a folder,
read from the files :mod:`mlpx.runs` names, with the filters and orders the command offers.

Reading never fails on one directory: a summary.json that is not an object, a status that is
not a status, a start time that is not a time or a file that cannot be read make that row
``unreadable`` with the reason, and the others list normally.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mlpx.config import parse_yaml
from mlpx.errors import MlpxError, RunDirError, UsageError
from mlpx.groups.plan import SWEEP_TRIALS
from mlpx.groups.results import RESULTS
from mlpx.runs import CONFIG, SUMMARY, RunDir, run_status
from mlpx.status import GROUP_STATUSES, RUN_STATUSES, group_status

UNREADABLE = "unreadable"
"""The status of a row whose files cannot be made sense of (its ``reason`` says why)."""

PLANS = {"sweep.yaml": "sweep", "cv.yaml": "cv"}
"""The file that makes a directory a group, and the group's kind."""


class Unreadable(Exception):
    """A run directory's file cannot be read or makes no sense; the message says which."""


@dataclass
class RunRow:
    """One row of ``mlpx runs``; :meth:`record` is what ``--json`` and ``--csv`` print."""

    name: str
    """The directory's path relative to the listed folder."""
    path: Path
    kind: str
    """``run``, ``sweep`` or ``cv``."""
    status: str
    started: float | None = None
    data: str = ""
    backend: str = ""
    model: str = ""
    optimizer: str = ""
    lr: float | None = None
    param: str = ""
    """A sweep's parameter (``lr``); empty for runs and cross-validations."""
    swept: str = ""
    """The config path a sweep varies (``optimizer.lr``)."""
    progress: str = ""
    """Epochs completed of planned (``12/50``), or a group's completed members of planned."""
    best_val_acc: float | None = None
    best_val_loss: float | None = None
    best_val_r2: float | None = None
    """A regression's R² at its best epoch (then there is no accuracy)."""
    test_acc: float | None = None
    test_r2: float | None = None
    seconds: float | None = None
    """A run's training time; a group's wall time, from its first start to its last end."""
    finished: float | None = None
    reason: str = ""
    """Why the row is unreadable."""
    config: dict[str, Any] = field(default_factory=dict, repr=False)

    COLUMNS = (
        "name", "kind", "status", "started", "data", "backend", "model", "optimizer", "lr",
        "param", "progress", "best_val_acc", "best_val_r2", "test_acc", "test_r2", "seconds",
        "reason", "path",
    )  # fmt: skip
    """The fields of :meth:`record`, in order."""

    def record(self) -> dict[str, Any]:
        """The row as plain values: ``started`` as local ISO 8601 time, ``path`` a string."""
        out = {name: getattr(self, name) for name in self.COLUMNS}
        out["path"] = str(self.path)
        if self.started is not None:
            out["started"] = (
                datetime.fromtimestamp(self.started).astimezone().isoformat("T", "seconds")
            )
        return out

    def value(self, key: str) -> Any:
        """A field, or a dotted config path (``model.kind``) of the run or the group's base."""
        if key in self.COLUMNS:
            return self.record()[key]
        node: Any = self.config
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        return node


# --- reading --------------------------------------------------------------------------------


def _read_text(path: Path) -> str | None:
    """A file's text, None when it does not exist; Unreadable when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise Unreadable(f"{path.name} is not UTF-8 text") from None
    except OSError as exc:
        raise Unreadable(f"cannot read {path.name} ({exc.strerror or exc})") from None


def _read_summary(path: Path) -> dict[str, Any] | None:
    """summary.json checked field by field; None when there is none."""
    text = _read_text(path / SUMMARY)
    if text is None:
        return None
    try:
        summary = json.loads(text)
    except ValueError:
        raise Unreadable(f"{SUMMARY} is not valid JSON") from None
    if not isinstance(summary, dict):
        raise Unreadable(f"{SUMMARY} holds a {type(summary).__name__}, not an object")
    status = summary.get("status", "crashed")
    if not isinstance(status, str) or status not in RUN_STATUSES:
        raise Unreadable(f"{SUMMARY}: status {status!r} is not one of {', '.join(RUN_STATUSES)}")
    for key in ("started", "finished", "seconds", "best_val_acc", "best_val_loss", "best_val_r2"):
        _number(summary, key, f"{SUMMARY}: {key}")
    epochs = summary.get("epochs_completed")
    if epochs is not None and (not isinstance(epochs, int) or isinstance(epochs, bool)):
        raise Unreadable(f"{SUMMARY}: epochs_completed {epochs!r} is not a whole number")
    test = summary.get("test")
    if test is not None:
        if not isinstance(test, dict):
            raise Unreadable(f"{SUMMARY}: test {test!r} is not an object")
        _number(test, "acc", f"{SUMMARY}: test.acc")
    return summary


def _number(document: dict[str, Any], key: str, where: str) -> None:
    value = document.get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        what = "a time in seconds" if key in ("started", "finished") else "a number"
        raise Unreadable(f"{where} is {value!r}, not {what}")


def _read_document(path: Path, name: str) -> dict[str, Any] | None:
    """A YAML document of the directory as a mapping; None when the file does not exist."""
    text = _read_text(path / name)
    if text is None:
        return None
    try:
        document = parse_yaml(text, name)
    except MlpxError as exc:
        raise Unreadable(str(exc)) from None
    if not isinstance(document, dict):
        raise Unreadable(f"{name} holds a {type(document).__name__}, not a mapping")
    return document


def _section(config: dict[str, Any], key: str) -> dict[str, Any]:
    value = config.get(key)
    return value if isinstance(value, dict) else {}


def _describe(row: RunRow, config: dict[str, Any]) -> None:
    """Fill the config's columns of a row (any mlpx version's config.yaml, unvalidated)."""
    row.config = config
    model, optimizer = _section(config, "model"), _section(config, "optimizer")
    hidden = model.get("hidden")
    hidden = "-".join(map(str, hidden)) if isinstance(hidden, list) else str(hidden or "")
    row.data = str(_section(config, "data").get("name", "?"))
    row.backend = str(config.get("backend", "?"))
    row.model = f"{model.get('kind', '?')} {hidden}".strip()
    row.optimizer = str(optimizer.get("name", "?"))
    lr = optimizer.get("lr")
    row.lr = float(lr) if isinstance(lr, (int, float)) and not isinstance(lr, bool) else None


def _best_from_metrics(path: Path) -> tuple[float | None, float | None, int]:
    """(best val acc, its loss, epochs) from metrics.jsonl: the epoch of lowest validation
    loss, as summary.json would say once the run ends."""
    records = [r for r in RunDir(path).read_metrics() if isinstance(r, dict)]
    scored = [r for r in records if isinstance(r.get("val_loss"), (int, float))]
    if not scored:
        return None, None, len(records)
    best = min(scored, key=lambda r: r["val_loss"])
    acc = best.get("val_acc")
    return (acc if isinstance(acc, (int, float)) else None), best["val_loss"], len(records)


def read_run(path: Path, name: str) -> RunRow:
    """The row of one run directory; ``unreadable`` with the reason when it makes no sense."""
    row = RunRow(name, path, "run", UNREADABLE)
    try:
        summary = _read_summary(path)
        _describe(row, _read_document(path, CONFIG) or {})
        row.status = run_status(summary)
        summary = summary or {}
        epochs = summary.get("epochs_completed")
        row.best_val_acc = summary.get("best_val_acc")
        row.best_val_loss = summary.get("best_val_loss")
        live = row.status in ("running", "crashed")  # only metrics.jsonl knows how far
        if live or row.best_val_loss is None or epochs is None:
            acc, loss, done = _best_from_metrics(path)
            if loss is not None and (live or row.best_val_loss is None):
                row.best_val_acc, row.best_val_loss = acc, loss
            epochs = done if live or epochs is None else epochs
        planned = _section(row.config, "train").get("epochs", "?")
        row.progress = f"{epochs if epochs is not None else '?'}/{planned}"
        row.test_acc = (summary.get("test") or {}).get("acc")
        row.test_r2 = (summary.get("test") or {}).get("r2")
        row.best_val_r2 = summary.get("best_val_r2")
        row.seconds = summary.get("seconds")
        row.started = summary.get("started")
        row.finished = summary.get("finished")
        if row.started is None:
            row.started = path.stat().st_mtime
    except Unreadable as exc:
        row.status, row.reason = UNREADABLE, str(exc)
    except OSError as exc:
        row.status, row.reason = UNREADABLE, f"cannot read {path.name} ({exc.strerror or exc})"
    return row


def read_group(path: Path, name: str, plan: str) -> RunRow:
    """One row for a sweep or a cross-validation: its base config, the best validation
    accuracy of its member with the lowest validation loss, its wall time, and how many of
    its members completed; a sweep's row names the parameter it sweeps."""
    kind = PLANS[plan]
    row = RunRow(name, path, kind, UNREADABLE)
    try:
        document = _read_document(path, plan) or {}
        if kind == "sweep":
            _describe(row, _section(document, "base"))
            row.param, row.swept = str(document.get("param", "?")), str(document.get("path", ""))
            members = [p for p in (path / SWEEP_TRIALS).glob("*") if not p.name.startswith(".")]
            members.sort()
            trials = document.get("trials")
            planned = len(trials) if isinstance(trials, list) else 0
        else:
            _describe(row, document)
            members = sorted(path.glob("fold-*"))
            planned = _section(document, "data").get("folds") or 0
        rows = [read_run(m, m.name) for m in members if (m / CONFIG).is_file()]
        planned = planned if isinstance(planned, int) and planned >= len(rows) else len(rows)
        row.status = group_status([r.status for r in rows], planned)
        scored = [r for r in rows if r.best_val_loss is not None]
        if scored:
            best = min(scored, key=lambda r: r.best_val_loss)
            row.best_val_acc, row.best_val_loss = best.best_val_acc, best.best_val_loss
            row.best_val_r2 = best.best_val_r2
        done = sum(r.status == "completed" for r in rows)
        row.progress = f"{kind} {row.param} {done}/{planned}".replace("  ", " ")
        # wall time: from the plan's writing to the last results.csv (or now, if running)
        row.started = (path / plan).stat().st_mtime
        results = path / RESULTS
        if row.status == "running":
            row.seconds = time.time() - row.started
        elif results.is_file():
            row.seconds = max(0.0, results.stat().st_mtime - row.started)
    except Unreadable as exc:
        row.status, row.reason = UNREADABLE, str(exc)
    except OSError as exc:
        row.status, row.reason = UNREADABLE, f"cannot read {path.name} ({exc.strerror or exc})"
    return row


def list_runs(runs_dir: Path, recursive: bool = False) -> list[RunRow]:
    """Runs, sweeps and cross-validations under ``runs_dir``, newest first: its direct
    subfolders, or with ``recursive`` every folder below it (not inside a run or a group;
    hidden folders skipped). A sweep or cross-validation is one row; ``mlpx runs
    DIR/trials`` lists its members."""
    runs_dir = Path(runs_dir).expanduser()
    if not runs_dir.is_dir():
        raise RunDirError(f"{runs_dir}: no such runs directory")
    found: list[RunRow] = []

    def visit(folder: Path) -> None:
        try:
            children = sorted(p for p in folder.iterdir() if p.is_dir())
        except OSError as exc:
            name = str(folder.relative_to(runs_dir))
            reason = f"cannot list {folder.name} ({exc.strerror or exc})"
            found.append(RunRow(name, folder, "run", UNREADABLE, reason=reason))
            return
        for path in children:
            if path.name.startswith("."):
                continue
            name = str(path.relative_to(runs_dir))
            plans = [plan for plan in PLANS if (path / plan).is_file()]
            if (path / CONFIG).is_file():
                found.append(read_run(path, name))
            for plan in plans:
                found.append(read_group(path, name, plan))
            if recursive and not plans and not (path / CONFIG).is_file():
                visit(path)

    visit(runs_dir)
    return sorted(found, key=lambda row: (row.started or 0.0, row.name), reverse=True)


# --- choosing and ordering ------------------------------------------------------------------

STATUSES = (*RUN_STATUSES, *GROUP_STATUSES, UNREADABLE)

SORT_KEYS = {
    "started": True,
    "name": False,
    "status": False,
    "data": False,
    "backend": False,
    "optimizer": False,
    "lr": False,
    "best_val_acc": True,
    "test_acc": True,
    "seconds": True,
}
"""What ``--sort`` takes, and whether it puts the largest first (newest, most accurate,
longest); rows without the value go last."""


def sort_rows(rows: list[RunRow], key: str) -> list[RunRow]:
    """``rows`` ordered by ``key`` (see SORT_KEYS)."""
    if key not in SORT_KEYS:
        raise UsageError(f"--sort {key}: expected one of {', '.join(SORT_KEYS)}")
    descending = SORT_KEYS[key]
    present = [row for row in rows if row.record()[key] not in (None, "")]
    missing = [row for row in rows if row.record()[key] in (None, "")]
    present.sort(key=lambda row: row.record()[key], reverse=descending)
    return present + missing


def parse_filter(text: str) -> tuple[str, str]:
    """``key=value`` of ``--filter``: key a column (see RunRow.COLUMNS) or a dotted config
    path (``model.kind``)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"--filter {text!r}: expected KEY=VALUE, e.g. status=completed")
    if key not in RunRow.COLUMNS and "." not in key:
        columns = ", ".join(c for c in RunRow.COLUMNS if c not in ("path", "started"))
        raise UsageError(
            f"--filter {key}: not a column ({columns}) nor a dotted config path (model.kind)"
        )
    if key == "status" and value not in STATUSES:
        raise UsageError(f"--filter status={value}: expected one of {', '.join(STATUSES)}")
    return key, value


def matches(actual: Any, wanted: str) -> bool:
    """Whether a row's value is ``wanted``: numbers compared as numbers (``lr=1e-3`` matches
    0.001), everything else as text."""
    if actual is None:
        return wanted in ("", "null", "none")
    if isinstance(actual, (int, float)) and not isinstance(actual, bool):
        try:
            return float(wanted) == float(actual)
        except ValueError:
            return False
    if isinstance(actual, list):
        actual = ",".join(map(str, actual))
    return str(actual).lower() == wanted.lower()


def choose_rows(
    rows: list[RunRow],
    filters: list[str] = (),  # type: ignore[assignment]
    last: int | None = None,
    sort: str = "started",
) -> list[RunRow]:
    """The rows that match every filter, the ``last`` newest of them, in ``sort`` order."""
    wanted = [parse_filter(text) for text in filters]
    if last is not None and last < 1:
        raise UsageError(f"--last {last}: expected a positive number of runs")
    if sort not in SORT_KEYS:
        raise UsageError(f"--sort {sort}: expected one of {', '.join(SORT_KEYS)}")
    chosen = [row for row in rows if all(matches(row.value(k), v) for k, v in wanted)]
    if last is not None:
        chosen = sorted(chosen, key=lambda row: (row.started or 0.0, row.name))[-last:][::-1]
    return sort_rows(chosen, sort)
