"""``mlpx data``: the dataset as a run sees it, in numbers and in a picture of samples."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from mlpx.cli import options
from mlpx.cli.render import console, data_tables, reports_errors

DATA_HELP = (
    "Show the dataset a config trains on, in numbers and in a picture.\n\n"
    "Split sizes, feature shape, class counts per split, and value ranges before and after "
    "normalisation, with the data loaded, split and normalised exactly as mlpx train does "
    "(same seed, data.val_fraction, data.limit, data.normalize); and a PNG of training samples "
    "per class: images in a grid (the first training images first), a scatter of 2-D points, "
    "or line plots of 1-D signals.\n\n"
    "Example: mlpx data configs/mnist1d.yaml -s data.normalize=none --out mnist1d.png"
)


@reports_errors
def data(
    config: Optional[Path] = typer.Argument(  # noqa: UP045 (typer needs Optional)
        None,
        help="YAML config file (default: the built-in digits config).",
        show_default=False,
        metavar="CONFIG",
    ),
    overrides: list[str] = options.OVERRIDES,
    out: Optional[Path] = typer.Option(  # noqa: UP045
        None,
        "--out",
        help="Where to draw the samples per class, a .png (default: <name>-data.png here).",
        show_default=False,
    ),
    json_file: Optional[Path] = typer.Option(  # noqa: UP045
        None, "--json", metavar="FILE", help="Also write every number to this JSON file."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite --out or --json if they exist."),
) -> None:
    """Describe and draw a config's dataset (help text in DATA_HELP)."""
    from mlpx import plots
    from mlpx.atomic import write_json_atomic
    from mlpx.config import load_config
    from mlpx.data.overview import load_overview
    from mlpx.diagnostics.crossentropy import check_output_path

    cfg = load_config(config, overrides)
    png = out if out is not None else Path(f"{cfg.name}-data.png")
    check_output_path(png, "--out", force, suffix=".png")
    if json_file is not None:
        check_output_path(json_file, "--json", force, suffix=".json")
    with console.status(f"Loading {cfg.data.name}..."):
        summary, loaded = load_overview(cfg.data, cfg.seed, cfg.dtype, cfg.task)
    for table in data_tables(summary):
        console.print(table)
    png.parent.mkdir(parents=True, exist_ok=True)
    plots.plot_samples(png, loaded)
    console.print(f"wrote {png}", highlight=False)
    if json_file is not None:
        json_file.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(json_file, summary.to_dict())
        console.print(f"wrote {json_file}", highlight=False)
