"""Regression metrics, in the targets' own units: MAE, RMSE and R² (scikit-learn's
``mean_absolute_error``, ``root_mean_squared_error`` and ``r2_score`` with their default
averaging over outputs), without importing scikit-learn."""

from __future__ import annotations

import numpy as np

REGRESSION_METRICS = ("mae", "rmse", "r2")


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """``mae``, ``rmse`` and ``r2`` of predictions y_pred against targets y_true, both (N, K).

    mae : mean of ``|y_pred - y_true|`` over every element.
    rmse : per output the root of the mean squared error, then the mean over outputs.
    r2 : per output ``1 - SS_res / SS_tot``, then the mean over outputs (``r2_score``'s
        ``uniform_average``); an output constant in y_true scores 1 when predicted exactly
        and 0 otherwise, as in scikit-learn.
    """
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    error = y_pred - y_true
    residual = np.square(error).sum(axis=0)
    total = np.square(y_true - y_true.mean(axis=0)).sum(axis=0)
    safe = np.where(total > 0, total, 1.0)
    r2 = np.where(total > 0, 1 - residual / safe, np.where(residual == 0, 1.0, 0.0))
    return {
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt(np.square(error).mean(axis=0)).mean()),
        "r2": float(r2.mean()),
    }


def regression_report(parts: list[tuple[np.ndarray, np.ndarray, str]], names: list[str]) -> str:
    """report.txt of a regression: for each (y_true, y_pred, split) of ``parts``, MAE, RMSE
    and R² of every output of y_pred against y_true (N, K), their average over outputs, and
    the targets' mean and spread; then, once, what the columns mean."""
    sections = [_regression_section(y, predicted, names, split) for y, predicted, split in parts]
    return "\n\n".join(sections) + (
        "\n\nMAE and RMSE in the targets' units; R2 as scikit-learn's r2_score (1 is a "
        "perfect fit, 0 predicting the mean); mean and std: of the true targets\n"
    )


def _regression_section(
    y_true: np.ndarray, y_pred: np.ndarray, names: list[str], split: str
) -> str:
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    width = max(len("average"), *(len(name) for name in names))
    head = f"{'':>{width}} {'MAE':>12} {'RMSE':>12} {'R2':>9} {'mean':>12} {'std':>12}"
    rows = []
    for k, name in enumerate(names):
        m = regression_metrics(y_true[:, k], y_pred[:, k])
        column = y_true[:, k]
        rows.append(
            f"{name:>{width}} {m['mae']:>12.6g} {m['rmse']:>12.6g} {m['r2']:>9.4f} "
            f"{column.mean():>12.6g} {column.std():>12.6g}"
        )
    if len(names) > 1:
        m = regression_metrics(y_true, y_pred)
        rows.append(f"{'average':>{width}} {m['mae']:>12.6g} {m['rmse']:>12.6g} {m['r2']:>9.4f}")
    title = f"Regression report on the {split} split ({len(y_true)} samples)"
    return f"{title}\n\n{head}\n" + "\n".join(rows)
