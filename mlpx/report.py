"""report.txt: per-class precision, recall and F1 and the confusion matrix (scikit-learn)."""

from __future__ import annotations

import numpy as np


def classification_text(
    y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], split: str
) -> str:
    """The classification report and confusion matrix of labels y_true, y_pred (N,)."""
    from sklearn.metrics import classification_report, confusion_matrix

    labels = list(range(len(class_names)))
    report = classification_report(
        y_true, y_pred, labels=labels, target_names=class_names, digits=4, zero_division=0
    )
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    width = max(4, *(len(name) for name in class_names), len(str(matrix.max())))
    header = " " * (width + 2) + " ".join(f"{name:>{width}}" for name in class_names)
    rows = [
        f"{name:>{width}}  " + " ".join(f"{count:>{width}}" for count in row)
        for name, row in zip(class_names, matrix, strict=True)
    ]
    return (
        f"Classification report on the {split} split ({len(y_true)} samples)\n\n{report}\n"
        f"Confusion matrix (rows: true class, columns: predicted)\n{header}\n"
        + "\n".join(rows)
        + "\n"
    )
