"""scikit-learn's diabetes data: 442 patients, 10 baseline measurements, and a number to
predict, a measure of disease progression one year later (25..346). Ships with
scikit-learn, no download.

The raw measurements (age, sex, BMI, blood pressure and six blood serum values, as
``load_diabetes(scaled=False)`` returns them) are read from the files scikit-learn ships,
without importing it (its import takes seconds, the files milliseconds).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from mlpx.data.dataset import Source
from mlpx.data.digits import sklearn_data_file
from mlpx.errors import DataError

DATA_FILES = ("diabetes_data_raw.csv.gz", "diabetes_target.csv.gz")
FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")


def read_table(path: Path) -> np.ndarray:
    """A gzipped table of numbers (space-separated, as scikit-learn ships them) as float64."""
    try:
        lines = gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()
        return np.loadtxt(lines, ndmin=2)
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"data.name diabetes: cannot read {path}: {exc}") from None


def load(config) -> Source:
    """The 442 x 10 raw measurements and their progression targets (442,)."""
    data_file, target_file = (sklearn_data_file("diabetes", name) for name in DATA_FILES)
    x, y = read_table(data_file), read_table(target_file).reshape(-1)
    if x.shape != (442, 10) or y.shape != (442,):
        raise DataError(
            f"data.name diabetes: {data_file} and {target_file} hold {x.shape} and {y.shape}, "
            "expected (442, 10) and (442,)"
        )
    return Source(x=x, y=y, class_names=["progression"])
