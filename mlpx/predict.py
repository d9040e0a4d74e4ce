"""Predictions of a trained run for an .npz file (``mlpx predict``).

A run directory holds everything needed: config.yaml (the architecture and backend),
normalization.npz (fitted on that run's training part) and the model file (model.pt or
model.npz, whichever backend trained it). The model is rebuilt through the same Backend
interface that trained it, so both backends predict the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlpx.atomic import atomic_path
from mlpx.backends import Backend, backend_class, create_backend
from mlpx.config import Config
from mlpx.data import Normalization
from mlpx.data import npz as npz_files
from mlpx.errors import DataError, RunDirError
from mlpx.model import mismatched_shape, model_spec
from mlpx.outputs import check_output_file
from mlpx.runs import CONFIG, RunDir, check_is_dir, values_csv

FORMATS = (".csv", ".npy")


@dataclass
class TrainedModel:
    """A run's model, ready to predict: its config, normalisation and backend."""

    run_dir: Path
    config: Config
    normalization: Normalization
    backend: Backend
    targets: Normalization | None = None

    @property
    def n_classes(self) -> int:
        return self.backend.spec.sizes[-1]

    @property
    def regression(self) -> bool:
        return self.targets is not None

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Labels (N,) int64 for raw inputs x (N, ...), normalised as in training; for a
        regression the predicted values (N, K) float64 in the targets' units."""
        outputs = self.backend.predict(self.normalization.apply(x, self.config.dtype))
        return self.targets.invert(outputs) if self.targets is not None else outputs


@dataclass
class Prediction:
    """What ``mlpx predict`` found: labels (N,) of ``inputs`` (test_x or data_x) and, when
    the file labels them (test_y or data_y), those true labels ``y`` (N,), the accuracy and
    the number of classes the model knows."""

    labels: np.ndarray
    inputs: str
    accuracy: float | None
    r2: float | None = None
    names: list[str] | None = None
    """A regression's output names (the CSV header); None for labels."""
    y: np.ndarray | None = None
    """The true labels (N,) of a classification's inputs, when the file has them."""
    n_classes: int = 0

    def report(self) -> str:
        """The classification report and confusion matrix against the true labels."""
        from mlpx.report import classification_text

        names = [str(c) for c in range(self.n_classes)]
        return classification_text(self.y, self.labels, names, self.inputs)


def report_outputs(path: Path) -> tuple[Path, Path]:
    """Where the report and the confusion matrix of labelled inputs go, beside the labels
    file ``path``: ``<stem>-report.txt`` and ``<stem>-confusion.png``."""
    return path.with_name(f"{path.stem}-report.txt"), path.with_name(f"{path.stem}-confusion.png")


def check_report_outputs(path: Path, force: bool) -> None:
    """Refuse to overwrite the report files beside the labels file ``path`` (unless
    ``force``); called before anything is written."""
    for other in report_outputs(path):
        if other.exists() and not force:
            raise DataError(
                f"{other}: exists (the report beside --out {path}); pass --force to overwrite it"
            )


def write_report(prediction: Prediction, path: Path) -> tuple[Path, Path]:
    """Write the report and the confusion matrix of a labelled prediction beside the labels
    file ``path`` (:func:`report_outputs`); return their paths."""
    from mlpx import plots
    from mlpx.atomic import write_text_atomic

    text_path, png_path = report_outputs(path)
    write_text_atomic(text_path, prediction.report())
    names = [str(c) for c in range(prediction.n_classes)]
    plots.plot_confusion(png_path, prediction.y, prediction.labels, names, prediction.inputs)
    return text_path, png_path


def load_trained(run_dir: Path) -> TrainedModel:
    """Rebuild the model of a run directory written by ``mlpx train``.

    Runs on the CPU or the GPU, whichever is there (``device: auto``), whatever device the run
    trained on. The number of classes is read from the last layer's bias.
    """
    run_dir = Path(run_dir).expanduser()
    check_run_dir(run_dir)
    run = RunDir(run_dir)
    config = run.read_config(["device=auto"])
    normalization = run.read_normalization()
    backend_type = backend_class(config.backend)
    params = run.read_model(backend_type)
    last_bias = f"b{len(config.model.hidden) + 1}"
    if last_bias not in params:
        raise RunDirError(
            f"{run_dir}: {backend_type.model_filename} has no {last_bias}; it does not match "
            f"{CONFIG}"
        )
    spec = model_spec(config, len(normalization.shift), len(params[last_bias]))
    why = mismatched_shape(params, spec)
    if why is not None:
        raise RunDirError(
            f"{run_dir}: {backend_type.model_filename} does not hold the model of {CONFIG} "
            f"({spec.describe()}): {why}; was {CONFIG} edited?"
        )
    backend = create_backend(config, spec, params)
    return TrainedModel(run_dir, config, normalization, backend, run.read_target_scaling())


def check_run_dir(run_dir: Path) -> None:
    """Refuse what is not a run directory (no config.yaml), saying what it is instead."""
    from mlpx.groups.plan import SWEEP_TRIALS, CrossValPlan, SweepPlan

    path = Path(run_dir).expanduser()
    if RunDir(path).has_config():
        return
    try:
        check_is_dir(path, str(run_dir))
    except RunDirError as error:
        raise RunDirError(f"{error}; give a run directory written by mlpx train") from None
    sweep = SweepPlan.plan_file
    if (path / sweep).is_file():
        raise RunDirError(
            f"{run_dir}: a sweep ({sweep}), not a run; its trials' runs are in "
            f"{Path(run_dir) / SWEEP_TRIALS}/"
        )
    if (path / CrossValPlan.plan_file).is_file():
        raise RunDirError(
            f"{run_dir}: a cross-validation ({CrossValPlan.plan_file}), not a run; its folds' "
            "runs are the directories in it"
        )
    raise RunDirError(f"{run_dir}: no {CONFIG}; give a run directory written by mlpx train")


def predict_file(run_dir: Path, data: Path) -> Prediction:
    """Predict ``test_x`` of the .npz ``data`` or, when it has none, ``data_x`` (with their
    true labels, ``test_y`` or ``data_y``, when the file has them)."""
    model = load_trained(run_dir)
    arrays = npz_files.read(Path(data).expanduser(), training=False, task=model.config.task)
    inputs, x = ("test_x", arrays.x_test) if arrays.x_test is not None else ("data_x", arrays.x)
    y = arrays.y if inputs == "data_x" else arrays.y_test
    expected = len(model.normalization.shift)
    if x[0].size != expected:
        raise DataError(
            f"{data}: {inputs} has {x[0].size} features per sample but the model of {run_dir} "
            f"expects {expected}"
        )
    if model.regression:
        return _regression_prediction(model, x, y, inputs, data)
    if y is not None and y.max() >= model.n_classes:
        raise DataError(
            f"{data}: {'data_y' if inputs == 'data_x' else 'test_y'} has label {y.max()} but "
            f"the model knows {model.n_classes} classes (0..{model.n_classes - 1})"
        )
    labels = model.predict(x)
    accuracy = None if y is None else float(np.mean(labels == y))
    return Prediction(labels, inputs, accuracy, y=y, n_classes=model.n_classes)


def _regression_prediction(
    model: TrainedModel, x: np.ndarray, y: np.ndarray | None, inputs: str, data: Path
) -> Prediction:
    """Predicted values (N, K) and, with data_y, their R² (``r2_score``'s average)."""
    from mlpx.metrics import regression_metrics

    if y is not None and y.shape[1] != model.n_classes:
        raise DataError(
            f"{data}: data_y has {y.shape[1]} target(s) per sample but the model of "
            f"{model.run_dir} predicts {model.n_classes}"
        )
    values = model.predict(x)
    r2 = None if y is None else regression_metrics(y, values)["r2"]
    outputs = model.n_classes
    names = ["y"] if outputs == 1 else [f"y{k}" for k in range(1, outputs + 1)]
    return Prediction(values, inputs, None, r2, names)


def default_output(run_dir: Path, data: Path) -> Path:
    """Where predictions go without ``--out``: ``RUN_DIR/predictions-<data file stem>.csv``."""
    return Path(run_dir).expanduser() / f"predictions-{Path(data).stem}.csv"


def check_output(path: Path, force: bool) -> None:
    """Refuse an output path that has the wrong suffix, no writable directory, or already
    exists (unless ``force``); called before predicting so that no work is wasted."""
    if path.suffix.lower() not in FORMATS:
        raise DataError(f"--out {path}: write .csv (one label per line) or .npy")
    if path.is_file() and not force:
        raise DataError(f"--out {path}: exists; pass --force to overwrite it")
    check_output_file(path, "--out", force)


def write_predictions(labels: np.ndarray, path: Path, names: list[str] | None = None) -> None:
    """Write labels (N,) atomically: .csv one integer per line (no header), .npy int64.
    With ``names`` (a regression's outputs) write values (N, K) instead: .csv with a header
    of the names and one column per output, .npy float64."""
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".npy":
            dtype = np.float64 if names is not None else np.int64
            with open(tmp, "wb") as handle:
                np.save(handle, np.asarray(labels, dtype=dtype))
        elif names is not None:
            tmp.write_text(values_csv(labels, names), encoding="utf-8")
        else:
            tmp.write_text("".join(f"{int(label)}\n" for label in labels), encoding="utf-8")
