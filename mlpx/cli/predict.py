"""``mlpx predict``: labels for an .npz file from a trained run."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mlpx.cli.render import console, reports_errors


@reports_errors
def predict(
    run_dir: Path = typer.Argument(
        ..., help="A run directory written by mlpx train.", show_default=False
    ),
    data: Path = typer.Option(
        ...,
        "--data",
        help="An .npz file: test_x is predicted; without test_x, data_x (and with data_y the "
        "accuracy, or a regression's R², is shown).",
        show_default=False,
    ),
    out: Optional[Path] = typer.Option(  # noqa: UP045 (typer needs Optional)
        None,
        "--out",
        help="Where to write the labels: .csv (one per line; a regression's values: a header "
        "and one column per output) or .npy "
        "(default: RUN_DIR/predictions-<data file name>.csv).",
        show_default=False,
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
) -> None:
    """Predict the labels of an .npz file with a trained run (either backend); a regression
    run writes the predicted numbers, one column per output.

    Example: mlpx predict runs/20261123-141503-challenge --data challenge.npz --out labels.csv
    """
    from mlpx.predict import check_output, default_output, predict_file, write_predictions

    path = out if out is not None else default_output(run_dir, data)
    check_output(path, force)
    with console.status(f"Predicting {data} with {run_dir}..."):
        result = predict_file(run_dir, data)
        write_predictions(result.labels, path, result.names)
    console.print(
        f"wrote {len(result.labels)} predictions of {result.inputs} to {path}",
        highlight=False,
        soft_wrap=True,
    )
    if result.r2 is not None:
        console.print(f"R² against data_y: {result.r2:.4f}", highlight=False)
    if result.accuracy is not None:
        correct = int(round(result.accuracy * len(result.labels)))
        console.print(
            f"accuracy against data_y: {result.accuracy:.4f} ({correct}/{len(result.labels)})",
            highlight=False,
        )
