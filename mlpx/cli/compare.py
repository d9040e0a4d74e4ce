"""``mlpx compare``: runs side by side, a table and one figure."""

from __future__ import annotations

from pathlib import Path

import typer

from mlpx.cli.render import compare_table, console, reports_errors


@reports_errors
def compare(
    runs: list[Path] = typer.Argument(
        ...,
        help="Run directories, or sweeps and cross-validations (their members).",
        show_default=False,
        metavar="RUN",
    ),
    out: Path = typer.Option(
        Path("compare.png"),
        "--out",
        help="The figure overlaying their curves (.png).",
        metavar="FILE.png",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite --out if it exists."),
) -> None:
    """Compare runs: the config keys in which they differ, final and best metrics, and one
    figure overlaying their loss and accuracy curves.

    Example: mlpx compare runs/20261123-141503-digits-simple runs/20261123-142210-digits-simple
    """
    from mlpx.compare import check_plot_path, differing_keys, load_compared, plot_comparison

    check_plot_path(out, force)
    found = load_compared(runs)
    console.print(compare_table(found, differing_keys(found)))
    plot_comparison(out, found)
    console.print(f"curves: {out}", highlight=False)
