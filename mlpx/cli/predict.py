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
        help="An .npz file: test_x is predicted; without test_x, data_x. With their labels "
        "(test_y, data_y) the accuracy, a classification report and confusion matrix are shown "
        "and written beside the labels (a regression's R² is shown).",
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
    force: bool = typer.Option(
        False, "--force", help="Overwrite --out (and its report files) if they exist."
    ),
) -> None:
    """Predict the labels of an .npz file with a trained run (either backend); a regression
    run writes the predicted numbers, one column per output.

    Example: mlpx predict runs/20261123-141503-challenge --data challenge.npz --out labels.csv
    """
    from mlpx.predict import (
        check_output,
        check_report_outputs,
        check_run_dir,
        default_output,
        predict_file,
        write_predictions,
        write_report,
    )

    check_run_dir(run_dir)  # before its default output is checked
    path = out if out is not None else default_output(run_dir, data)
    check_output(path, force)
    with console.status(f"Predicting {data} with {run_dir}..."):
        result = predict_file(run_dir, data)
    if result.y is not None:
        check_report_outputs(path, force)
    write_predictions(result.labels, path, result.names)
    console.print(
        f"wrote {len(result.labels)} predictions of {result.inputs} to {path}",
        highlight=False,
        soft_wrap=True,
    )
    labels = "data_y" if result.inputs == "data_x" else "test_y"
    if result.r2 is not None:
        console.print(f"R² against {labels}: {result.r2:.4f}", highlight=False)
    if result.y is not None:
        correct = int(round(result.accuracy * len(result.labels)))
        console.print(
            f"accuracy against {labels}: {result.accuracy:.4f} ({correct}/{len(result.labels)})",
            highlight=False,
        )
        console.print(result.report(), highlight=False, end="")
        text_path, png_path = write_report(result, path)
        console.print(f"wrote {text_path} and {png_path}", highlight=False, soft_wrap=True)
