"""report.txt's numbers and layout, held to scikit-learn's classification_report as the oracle."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from sklearn.metrics import classification_report as sklearn_report
from sklearn.metrics import confusion_matrix as sklearn_confusion

from mlpx.report import classification_report, classification_text, confusion_matrix


def oracle(y_true, y_pred, names: list[str]) -> str:
    """What report.txt showed when it called scikit-learn."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a single label present, which is the point here
        return sklearn_report(
            y_true,
            y_pred,
            labels=list(range(len(names))),
            target_names=names,
            digits=4,
            zero_division=0,
        )


def labels(seed: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Labels of a random case: 1 to 12 classes, a few to 300 samples, some classes absent
    from the truth or the predictions, names of any width."""
    rng = np.random.default_rng(seed)
    c, n = int(rng.integers(1, 13)), int(rng.integers(1, 300))
    y_true = rng.integers(0, rng.integers(1, c + 1), n)
    kind = seed % 4
    if kind == 0:  # guessing
        y_pred = rng.integers(0, c, n)
    elif kind == 1:  # mostly right
        y_pred = np.where(rng.random(n) < 0.8, y_true, rng.integers(0, c, n))
    elif kind == 2:  # one class for everything
        y_pred = np.full(n, rng.integers(0, c))
    else:
        y_pred = y_true.copy()
    names = [f"{k}" + "x" * int(rng.integers(0, 15)) for k in range(c)]
    return y_true, y_pred, names


@pytest.mark.parametrize("seed", range(120))
def test_report_is_scikit_learns(seed):
    y_true, y_pred, names = labels(seed)
    ours = classification_report(confusion_matrix(y_true, y_pred, len(names)), names)
    expected = oracle(y_true, y_pred, names)
    if not np.any(y_true == y_pred):
        # with no true positive at all, scikit-learn's supports become floats ("36.0"): a
        # quirk of its code path for that case, not another number; ours stay integers
        expected = re.sub(r"(\d+)\.0$", r"  \1", expected, flags=re.MULTILINE)
    assert ours == expected


def test_classes_absent_from_predictions_and_truth_score_zero():
    names = ["cat", "dog", "bird", "fish"]
    y_true = np.array([0, 0, 1, 1, 1, 2])  # no fish
    y_pred = np.array([0, 1, 1, 1, 0, 0])  # no bird, no fish
    ours = classification_text(y_true, y_pred, names, "val")
    assert oracle(y_true, y_pred, names) in ours
    assert re.search(r"bird +0\.0000 +0\.0000 +0\.0000 +1$", ours, re.MULTILINE)
    assert re.search(r"fish +0\.0000 +0\.0000 +0\.0000 +0$", ours, re.MULTILINE)
    assert re.search(r"accuracy +0\.5000 +6$", ours, re.MULTILINE)


def test_confusion_matrix_is_scikit_learns():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 7, 500), rng.integers(0, 6, 500)  # class 6 never predicted
    ours = confusion_matrix(y_true, y_pred, 8)  # class 7 nowhere
    expected = sklearn_confusion(y_true, y_pred, labels=list(range(8)))
    assert ours.dtype == np.int64 and np.array_equal(ours, expected)


def test_report_text_has_the_report_then_the_matrix():
    y_true, y_pred = np.array([0, 1, 2, 2]), np.array([0, 2, 2, 2])
    text = classification_text(y_true, y_pred, ["a", "b", "c"], "val")
    head, matrix = text.split("Confusion matrix (rows: true class, columns: predicted)\n")
    assert head.startswith("Classification report on the val split (4 samples)\n\n")
    assert oracle(y_true, y_pred, ["a", "b", "c"]) in head
    assert matrix.splitlines() == [
        "         a    b    c",
        "   a     1    0    0",
        "   b     0    0    1",
        "   c     0    0    2",
        "",
        "1 of 4 val samples misclassified",
    ]


def test_a_split_with_nothing_misclassified_names_misclassified_png_only_where_it_is_drawn():
    from mlpx.report import classification_text

    y = np.array([0, 1, 2, 1])
    drawn = classification_text(y, y, ["a", "b", "c"], "val", drawn=True)
    assert drawn.endswith("No val sample is misclassified (so there is no misclassified.png)\n")
    # predict's report, a test split, or data that is not images: no such file to explain
    text = classification_text(y, y, ["a", "b", "c"], "test_x")
    assert text.endswith("No test_x sample is misclassified\n")
