"""Run directories on disk: unique creation, incremental and atomic writes, listing.

Lines of metrics.jsonl and steps.csv are appended whole and flushed once per epoch, so a
killed process leaves only complete lines; JSON documents and model files are written to a
temporary file in the same directory, fsynced and renamed, so they are never half-written.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from mlpx.errors import MlpxError, RunDirError
from mlpx.status import group_status

CONFIG = "config.yaml"
SUMMARY = "summary.json"
METRICS = "metrics.jsonl"
STEPS = "steps.csv"


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it into place."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace ``path`` with ``data`` as indented JSON, atomically."""
    write_text_atomic(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine and has not exited.

    A process that exited but was not reaped yet (a zombie, e.g. an orphan under an init
    that does not reap) counts as gone: it writes nothing any more.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True  # no /proc (macOS): kill(pid, 0) is all we know


def ensure_writable_dir(path: Path, what: str) -> None:
    """Create ``path`` if needed and make sure files can be written in it."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise RunDirError(f"{what}: {path} exists and is not a directory") from None
    except OSError as exc:
        raise RunDirError(f"{what}: cannot create {path} ({exc.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise RunDirError(f"{what}: {path} is not writable; choose another directory")


def make_unique_dir(parent: Path, base: str) -> Path:
    """Create ``parent/base``, or ``base-2``, ``base-3``... if taken; return it.

    ``mkdir`` is atomic, so two processes asking at once never get the same directory.
    """
    for attempt in range(1, 10_000):
        path = parent / (base if attempt == 1 else f"{base}-{attempt}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RunDirError(f"{parent}: cannot find a free directory name for {base}")


class RunDir:
    """One run's directory and the files in it (see DESIGN.md for the layout)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.plots = self.path / "plots"
        self._logs: dict[str, TextIO] = {}

    @classmethod
    def create(cls, runs_dir: Path, name: str) -> RunDir:
        """Create ``runs_dir/YYYYmmdd-HHMMSS-name``, adding ``-2``, ``-3``... if it exists.

        ``mkdir`` is atomic, so two runs started in the same second (even in two processes)
        never share a directory, and an existing directory is never reused.
        """
        runs_dir = Path(runs_dir).expanduser()
        ensure_writable_dir(runs_dir, "output.runs_dir")
        return cls(make_unique_dir(runs_dir, f"{datetime.now():%Y%m%d-%H%M%S}-{name}"))

    @classmethod
    def create_at(cls, path: Path) -> RunDir:
        """Create exactly ``path`` (parents as needed); an existing one is never reused."""
        path = Path(path).expanduser()
        ensure_writable_dir(path.parent, "run directory")
        try:
            path.mkdir()
        except FileExistsError:
            raise RunDirError(f"{path} already exists; mlpx never overwrites a run") from None
        return cls(path)

    def file(self, name: str) -> Path:
        return self.path / name

    # --- writing -----------------------------------------------------------------------

    def write_json(self, name: str, data: Any) -> None:
        write_json_atomic(self.file(name), data)

    def write_text(self, name: str, text: str) -> None:
        write_text_atomic(self.file(name), text)

    def write_arrays(self, name: str, arrays: dict[str, np.ndarray]) -> None:
        """Write arrays as an .npz file atomically."""
        with atomic_path(self.file(name)) as tmp, open(tmp, "wb") as handle:
            np.savez(handle, **arrays)

    def write_model(self, backend) -> None:
        """Save a backend's model (model.pt or model.npz) atomically."""
        with atomic_path(self.file(backend.model_filename)) as tmp:
            backend.save_model(tmp)

    def truncate_metrics(self, epochs: int) -> None:
        """Keep the first ``epochs`` complete lines of metrics.jsonl (atomically)."""
        self.close_logs()  # the file is replaced: an open handle would append to the old one
        lines = [json.dumps(r, default=_json_default) + "\n" for r in self.read_metrics()[:epochs]]
        write_text_atomic(self.file(METRICS), "".join(lines))

    def truncate_steps(self, steps: int) -> None:
        """Keep the header and the first ``steps`` complete lines of steps.csv (atomically)."""
        self.close_logs()
        try:
            lines = self.file(STEPS).read_text(encoding="utf-8").splitlines(keepends=True)
        except OSError:
            return
        complete = [line for line in lines if line.endswith("\n")]
        write_text_atomic(self.file(STEPS), "".join(complete[: steps + 1]))

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one epoch's line to metrics.jsonl in a single write.

        A killed process cannot tear a line the kernel has accepted; a power cut can, and
        readers skip a torn last line. (fsync is kept for the checkpoint, which resume needs.)
        """
        self._append(METRICS, json.dumps(record, default=_json_default) + "\n")

    def append_steps(self, epoch: int, first_step: int, losses: np.ndarray) -> None:
        """Append one epoch of per-batch losses to steps.csv in a single write."""
        lines = [f"{first_step + i},{epoch},{loss!r}\n" for i, loss in enumerate(losses.tolist())]
        self._append(STEPS, "".join(lines), header="step,epoch,loss\n")

    def _append(self, name: str, text: str, header: str = "") -> None:
        """Append ``text`` to log file ``name`` in one write, flushed at once (readers and a
        killed process see whole lines), through a handle kept open until
        :meth:`close_logs`: opening the file every epoch cost more than the epoch of a
        small network. ``header`` starts a file that does not exist yet."""
        handle = self._logs.get(name)
        if handle is None:
            path = self.file(name)
            if header and not path.exists():
                text = header + text
            handle = self._logs[name] = open(path, "a", encoding="utf-8")  # noqa: SIM115
        handle.write(text)
        handle.flush()

    def close_logs(self) -> None:
        """Close the handles :meth:`_append` keeps open (reopened on the next append)."""
        for handle in self._logs.values():
            handle.close()
        self._logs.clear()

    # --- reading -----------------------------------------------------------------------

    def read_json(self, name: str) -> dict[str, Any] | None:
        """A JSON document of the run, or None when it is missing or unreadable."""
        try:
            return json.loads(self.file(name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def read_arrays(self, name: str) -> dict[str, np.ndarray] | None:
        """The arrays of an .npz file of the run, or None when missing or unreadable."""
        try:
            with np.load(self.file(name), allow_pickle=False) as archive:
                return {key: archive[key] for key in archive.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile):
            return None

    def read_metrics(self) -> list[dict[str, Any]]:
        """Every complete line of metrics.jsonl (a torn last line is skipped)."""
        try:
            text = self.file(METRICS).read_text(encoding="utf-8")
        except OSError:
            return []
        records = []
        for line in text.splitlines():
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
        return records

    def read_config(self) -> dict[str, Any] | None:
        from mlpx.config import parse_yaml

        try:
            data = parse_yaml(self.file(CONFIG).read_text(encoding="utf-8"), str(self.path))
        except (OSError, MlpxError):
            return None
        return data if isinstance(data, dict) else None


def process_info() -> dict[str, Any]:
    """Who is writing a run: pid, host and start time (used to tell crashed runs apart)."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}


@dataclass
class RunInfo:
    """One row of ``mlpx runs``."""

    path: Path
    config: dict[str, Any]
    summary: dict[str, Any]
    status: str
    started: float
    group: str = ""
    """For a sweep or a cross-validation: what it is and how many of its runs completed
    (e.g. ``sweep lr 5/5``, ``cv 3/3``)."""


def run_status(summary: dict[str, Any] | None) -> str:
    """The status of a run; a ``running`` run whose process is gone on this host is crashed."""
    if not summary:
        return "crashed"
    status = summary.get("status", "crashed")
    if status == "running" and summary.get("host") == socket.gethostname():
        pid = summary.get("pid")
        if not isinstance(pid, int) or not pid_alive(pid):
            return "crashed"
    return status


def read_run(path: Path) -> RunInfo:
    """The row of one run directory."""
    run = RunDir(path)
    summary = run.read_json(SUMMARY) or {}
    if summary.get("status", "running") == "running":  # only metrics know how far it got
        summary["epochs_completed"] = len(run.read_metrics())
    started = summary.get("started") or path.stat().st_mtime
    return RunInfo(path, run.read_config() or {}, summary, run_status(summary), started)


def read_group(path: Path, plan: str) -> RunInfo:
    """One row for a sweep (``sweep.yaml``) or a cross-validation (``cv.yaml``): its base
    config, its members' best validation accuracy and total time, and how many completed."""
    from mlpx.config import parse_yaml

    try:
        document = parse_yaml(path.joinpath(plan).read_text(encoding="utf-8"), str(path))
    except (OSError, MlpxError):
        document = None
    document = document if isinstance(document, dict) else {}
    if plan == "sweep.yaml":
        members = [p for p in (path / "trials").glob("*") if not p.name.startswith(".")]
        config, label = document.get("base") or {}, f"sweep {document.get('param', '?')}"
        planned = len(document.get("trials") or [])
    else:
        members, config, label = list(path.glob("fold-*")), document, "cv"
        planned = (document.get("data") or {}).get("folds") or 0
    rows = [read_run(member) for member in members if (member / CONFIG).is_file()]
    planned = planned if isinstance(planned, int) and planned >= len(rows) else len(rows)
    status = group_status([row.status for row in rows], planned)
    best = [row.summary["best_val_acc"] for row in rows if "best_val_acc" in row.summary]
    summary = {
        "best_val_acc": max(best) if best else None,
        "seconds": sum(row.summary.get("seconds") or 0 for row in rows),
    }
    done = sum(row.status == "completed" for row in rows)
    started = min((row.started for row in rows), default=path.stat().st_mtime)
    return RunInfo(path, config, summary, status, started, f"{label} {done}/{planned}")


def list_runs(runs_dir: Path) -> list[RunInfo]:
    """Runs, sweeps and cross-validations directly under ``runs_dir``, newest first (a sweep
    or cross-validation is one row; ``mlpx runs DIR/trials`` lists its members)."""
    runs_dir = Path(runs_dir).expanduser()
    if not runs_dir.is_dir():
        raise RunDirError(f"{runs_dir}: no such runs directory")
    found = []
    for path in runs_dir.iterdir():
        if not path.is_dir():
            continue
        if (path / CONFIG).is_file():
            found.append(read_run(path))
        for plan in ("sweep.yaml", "cv.yaml"):
            if (path / plan).is_file():
                found.append(read_group(path, plan))
    return sorted(found, key=lambda info: (info.started, info.path.name), reverse=True)
