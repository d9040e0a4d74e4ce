"""report.txt: per-class precision, recall and F1 and the confusion matrix.

Computed with NumPy, in the layout and with the numbers of scikit-learn's
``classification_report(..., digits=4, zero_division=0)`` (the tests hold it to that
oracle): importing ``sklearn.metrics`` would take longer than training a small model.
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts (C, C) int64 of samples of true class i (row) predicted as j (column), for
    labels y_true, y_pred (N,) in [0, C)."""
    cells = np.asarray(y_true, dtype=np.int64) * n_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(cells, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator in float64, 0 where the denominator is 0 (zero_division=0)."""
    denominator = np.asarray(denominator, dtype=np.float64)
    safe = np.where(denominator == 0, 1.0, denominator)
    return np.where(denominator == 0, 0.0, np.asarray(numerator, dtype=np.float64) / safe)


def scores(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 (C,) float64 and support (C,) int64 of a confusion matrix (C, C).

    F1 is 2 tp / (2 tp + fp + fn), which is 2 p r / (p + r) where that is defined and
    scikit-learn's formula; an undefined ratio is 0.
    """
    tp = np.diag(matrix)
    predicted, support = matrix.sum(axis=0), matrix.sum(axis=1)
    f1 = ratio(2.0 * tp, support.astype(np.float64) + predicted)
    return ratio(tp, predicted), ratio(tp, support), f1, support


def classification_report(matrix: np.ndarray, class_names: list[str], digits: int = 4) -> str:
    """scikit-learn's text classification report of a confusion matrix (C, C) over every class.

    Rows per class, then accuracy (the micro average, as every class is listed), the
    macro average and the support-weighted average.
    """
    precision, recall, f1, support = scores(matrix)
    total = int(support.sum())
    width = max(*(len(name) for name in class_names), len("weighted avg"), digits)
    row = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
    head = " " * (width + 1) + " {:>9}" * 4
    text = head.format("precision", "recall", "f1-score", "support") + "\n\n"
    for name, *values in zip(class_names, precision, recall, f1, support, strict=True):
        text += row.format(name, *values, width=width, digits=digits)
    text += "\n"
    # the accuracy row (micro-averaged F1) leaves precision and recall blank
    accuracy = np.trace(matrix) / total if total else 0.0
    text += f"{'accuracy':>{width}s} " + " " * 20 + f" {accuracy:>9.{digits}f} {total:>9}\n"
    macro = [float(np.nanmean(values)) for values in (precision, recall, f1)]
    text += row.format("macro avg", *macro, total, width=width, digits=digits)
    weights = support.astype(np.float64) if total else None
    weighted = [float(np.average(values, weights=weights)) for values in (precision, recall, f1)]
    return text + row.format("weighted avg", *weighted, total, width=width, digits=digits)


def classification_text(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    class_names: list[str],
    split: str,
    drawn: bool = False,
) -> str:
    """The classification report and confusion matrix of labels y_true, y_pred (N,);
    ``drawn``: the run draws this split's misclassified images (misclassified.png), so a
    split with none says why there is no such file."""
    matrix = confusion_matrix(y_true, y_pred, len(class_names))
    report = classification_report(matrix, class_names)
    width = max(4, *(len(name) for name in class_names), len(str(matrix.max())))
    header = " " * (width + 2) + " ".join(f"{name:>{width}}" for name in class_names)
    rows = [
        f"{name:>{width}}  " + " ".join(f"{count:>{width}}" for count in row)
        for name, row in zip(class_names, matrix, strict=True)
    ]
    wrong = int(np.sum(y_true != y_pred))
    misclassified = (
        f"{wrong} of {len(y_true)} {split} samples misclassified\n"
        if wrong
        else f"No {split} sample is misclassified"
        + (" (so there is no misclassified.png)\n" if drawn else "\n")
    )
    return (
        f"Classification report on the {split} split ({len(y_true)} samples)\n\n{report}\n"
        f"Confusion matrix (rows: true class, columns: predicted)\n{header}\n"
        + "\n".join(rows)
        + "\n\n"
        + misclassified
    )
