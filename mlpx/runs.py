"""Run directories on disk: the name of every file in one, typed readers and writers for
them, unique creation, incremental and atomic writes, listing.

This module is the one place that knows the layout (README.md, "A run directory", shows it to
users): the trainer, ``mlpx predict`` and ``mlpx runs`` read and write a run through
:class:`RunDir`. A model file's name is the one its backend class gives
(``Backend.model_filename``: model.npz or model.pt), since the backend owns that format.

Lines of metrics.jsonl and steps.csv are appended whole and flushed once per epoch, so a
killed process leaves only complete lines; JSON documents, arrays and model files are written
through :mod:`mlpx.atomic`, so they are never half-written.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import zipfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import numpy as np

from mlpx.atomic import (
    atomic_path,
    json_default,
    write_arrays_atomic,
    write_json_atomic,
    write_text_atomic,
)
from mlpx.config import Config, dump_config, load_config
from mlpx.data.dataset import Normalization
from mlpx.data.vision import one_line
from mlpx.errors import RunDirError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from mlpx.backends import Backend

Result = TypeVar("Result")
"""What a reader of normalization.npz returns."""

CONFIG = "config.yaml"
"""The resolved config, every default filled in; ``mlpx train`` it to rerun."""
ENV = "env.json"
"""Versions, device, git commit and command line."""
METRICS = "metrics.jsonl"
"""One JSON line per epoch."""
STEPS = "steps.csv"
"""``step,epoch,loss`` of every batch."""
SUMMARY = "summary.json"
"""Status, final and best metrics, test metrics, who is writing the run."""
CHECKPOINT = "checkpoint.npz"
"""Weights, optimizer and RNG states after the last checkpointed epoch (``epoch`` in it)."""
NORMALIZATION = "normalization.npz"
"""The normalisation fitted on the training part (:meth:`Normalization.to_arrays`)."""
REPORT = "report.txt"
"""Per-class precision/recall/F1 and the confusion matrix."""
TEST_PREDICTIONS = "predictions.csv"
"""Labels of an unlabeled test split, one per line."""
LOCK = ".lock"
"""Held (``flock``) by the process that resumes the run, so that a second one is refused."""
PLOTS = "plots"
"""The folder of the run's figures."""
LOSS_PLOT = "loss.png"
ACCURACY_PLOT = "accuracy.png"
CONFUSION_PLOT = "confusion.png"
CONFUSION_TEST_PLOT = "confusion-test.png"
"""The confusion matrix on a labelled test split, beside confusion.png (validation)."""
MISCLASSIFIED_PLOT = "misclassified.png"
BOUNDARY_PLOT = "boundary.png"
WEIGHTS_PLOT = "weights.png"
"""The first layer's weights of every hidden unit (up to 64) as images (image data only)."""
PREDICTED_PLOT = "predicted.png"
"""A regression's predicted against true targets, with the diagonal."""
RESIDUALS_PLOT = "residuals.png"
"""A regression's residuals (predicted - true) against the predictions."""
FIT_PLOT = "fit.png"
"""A regression's fitted function over its data (inputs of one or two features)."""


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
        blocker = next(
            (p for p in (path, *path.parents) if p.is_symlink() and not p.exists()), None
        )
        if blocker is not None:
            raise RunDirError(
                f"{what}: {blocker} is a symbolic link that leads nowhere (a loop or a "
                "missing target)"
            ) from None
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
        raise RunDirError(f"{what}: {blocker} exists and is not a directory") from None
    except OSError as exc:
        raise RunDirError(f"{what}: cannot create {path} ({exc.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise RunDirError(f"{what}: {path} is not writable; choose another directory")


def check_is_dir(path: Path, what: str) -> None:
    """A RunDirError, ``what`` first, for a ``path`` that is missing or not a directory."""
    if not path.exists():
        raise RunDirError(f"{what}: no such directory")
    if not path.is_dir():
        raise RunDirError(f"{what}: not a directory")


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
    """One run's directory and the files in it (the module docstring lists its files)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.plots = self.path / PLOTS
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

    def lock(self, what: str) -> None:
        """Hold the run's lock file until this process ends (the kernel lets go of it even
        after a kill); a RunDirError, prefixed ``what``, when another process holds it."""
        import fcntl

        handle = open(self.file(LOCK), "a+", encoding="utf-8")  # noqa: SIM115 (held open)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise RunDirError(
                f"{what}: another mlpx (process {holder}) is resuming this run; wait for it "
                "or stop it"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._lock = handle

    def unlock(self) -> None:
        """Let go of the lock :meth:`lock` took (if it did)."""
        handle = getattr(self, "_lock", None)
        if handle is not None:
            handle.close()
            self._lock = None

    # --- writing -----------------------------------------------------------------------

    def write_json(self, name: str, data: Any) -> None:
        write_json_atomic(self.file(name), data)

    def write_text(self, name: str, text: str) -> None:
        write_text_atomic(self.file(name), text)

    def write_arrays(self, name: str, arrays: dict[str, np.ndarray]) -> None:
        """Write arrays as an .npz file atomically."""
        write_arrays_atomic(self.file(name), arrays)

    def write_config(self, config: Config) -> None:
        """config.yaml: the resolved config, as ``mlpx train --print-config`` prints it."""
        self.write_text(CONFIG, dump_config(config))

    def write_env(self, env: dict[str, Any]) -> None:
        """env.json: versions, device, git commit and command line."""
        self.write_json(ENV, env)

    def write_summary(self, summary: dict[str, Any]) -> None:
        """summary.json, replaced whole."""
        self.write_json(SUMMARY, summary)

    def write_normalization(
        self, normalization: Normalization, targets: Normalization | None = None
    ) -> None:
        """normalization.npz: ``shift``, ``scale`` (D,) and ``method``; for regression also
        the targets' standardisation, ``target_shift`` and ``target_scale`` (K,)."""
        arrays = normalization.to_arrays()
        if targets is not None:
            arrays |= {"target_shift": targets.shift, "target_scale": targets.scale}
        self.write_arrays(NORMALIZATION, arrays)

    def write_checkpoint(self, state: dict[str, np.ndarray]) -> None:
        """checkpoint.npz: a backend's state plus ``epoch`` (a 0-d integer array)."""
        self.write_arrays(CHECKPOINT, state)

    def write_model(self, backend: Backend) -> None:
        """Save a backend's model (model.pt or model.npz) atomically."""
        with atomic_path(self.file(backend.model_filename)) as tmp:
            backend.save_model(tmp)

    def write_report(self, text: str) -> None:
        """report.txt: the classification report."""
        self.write_text(REPORT, text)

    def write_test_predictions(self, labels: np.ndarray) -> None:
        """predictions.csv: labels (N,) of an unlabeled test split, one integer per line."""
        self.write_text(TEST_PREDICTIONS, "".join(f"{int(label)}\n" for label in labels))

    def write_test_values(self, values: np.ndarray, names: list[str]) -> None:
        """predictions.csv of a regression: a header of the outputs' names, then one row of
        predicted values (N, K) per sample of the unlabeled test split."""
        self.write_text(TEST_PREDICTIONS, values_csv(values, names))

    def truncate_metrics(self, epochs: int) -> None:
        """Keep the first ``epochs`` complete lines of metrics.jsonl (atomically)."""
        self.close_logs()  # the file is replaced: an open handle would append to the old one
        lines = [json.dumps(r, default=json_default) + "\n" for r in self.read_metrics()[:epochs]]
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
        self._append(METRICS, json.dumps(record, default=json_default) + "\n")

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

    def has_config(self) -> bool:
        """Whether the directory holds a config.yaml (every run directory does)."""
        return self.file(CONFIG).is_file()

    def read_config(self, overrides: Sequence[str] = ()) -> Config:
        """config.yaml validated (with ``overrides`` such as ``device=auto`` applied); a
        ConfigError says what is wrong with it."""
        return load_config(self.file(CONFIG), list(overrides))

    def read_summary(self) -> dict[str, Any] | None:
        """summary.json, or None when it is missing or unreadable."""
        return self.read_json(SUMMARY)

    def read_checkpoint(self) -> dict[str, np.ndarray] | None:
        """checkpoint.npz's arrays, or None when it is missing or unreadable."""
        return self.read_arrays(CHECKPOINT)

    def read_normalization(self) -> Normalization:
        """The normalisation of normalization.npz; a RunDirError when it is missing or
        damaged."""
        return self._read_normalization_file(Normalization.from_arrays)

    def read_target_scaling(self) -> Normalization | None:
        """The targets' standardisation of a regression run (normalization.npz's
        ``target_shift`` and ``target_scale``), or None for a classification run; a
        RunDirError when the file is missing or damaged."""
        return self._read_normalization_file(_target_scaling)

    def _read_normalization_file(self, read: Callable[[Any], Result]) -> Result:
        """``read`` of normalization.npz's arrays (never unpickled: an object array is
        refused); a RunDirError when the file is missing or damaged."""
        path = self.file(NORMALIZATION)
        if not path.is_file():
            raise RunDirError(f"{self.path}: no {NORMALIZATION}; not a complete run directory")
        try:
            with np.load(path, allow_pickle=False) as arrays:
                return read(arrays)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise RunDirError(
                f"{self.path}: cannot read {NORMALIZATION} ({type(exc).__name__}: {one_line(exc)})"
            ) from None

    def read_model(self, backend_type: type[Backend]) -> dict[str, np.ndarray]:
        """The parameters (by mlpx's names) of the model file ``backend_type`` wrote; a
        RunDirError when it is missing or damaged."""
        path = self.file(backend_type.model_filename)
        if not path.is_file():
            checkpoint = self.read_checkpoint()
            if run_status(self.read_summary()) == "completed":
                raise RunDirError(
                    f"{self.path}: no {path.name}, though the run completed; was it moved or "
                    "deleted?"
                )
            if checkpoint is not None and "epoch" in checkpoint:
                raise RunDirError(
                    f"{self.path}: no {path.name}: the run stopped before writing its model "
                    f"(killed or crashed after {int(checkpoint['epoch'])} epoch(s) of its "
                    f"{CHECKPOINT}); finish it with: mlpx train --resume {self.path}"
                )
            raise RunDirError(f"{self.path}: no {path.name}; the run did not complete an epoch")
        try:
            return backend_type.load_model(path)
        except Exception as exc:  # torch.load and np.load fail in many ways on damaged files
            raise RunDirError(
                f"{self.path}: cannot read {path.name} ({type(exc).__name__}: {one_line(exc)})"
            ) from None


def _target_scaling(arrays: Any) -> Normalization | None:
    """The targets' standardisation among normalization.npz's arrays, or None."""
    if "target_shift" not in arrays.files:
        return None
    return Normalization("standard", arrays["target_shift"], arrays["target_scale"])


def values_csv(values: np.ndarray, names: list[str]) -> str:
    """CSV text of real values (N, K): a header of the K names, then one row per sample
    (each number written so that it reads back exactly)."""
    rows = [",".join(names)]
    rows += [
        ",".join(repr(float(v)) for v in row) for row in np.asarray(values).reshape(len(values), -1)
    ]
    return "\n".join(rows) + "\n"


def process_info() -> dict[str, Any]:
    """Who is writing a run: pid, host and start time (used to tell crashed runs apart)."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}


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
