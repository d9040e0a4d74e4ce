"""``mlpx runs``: past runs, sweeps and cross-validations, newest first."""

from __future__ import annotations

from pathlib import Path

import typer

from mlpx.cli.render import console, print_wide, reports_errors, runs_table


@reports_errors
def runs(
    runs_dir: Path = typer.Argument(Path("runs"), help="Directory holding run directories."),
) -> None:
    """List past runs, newest first.

    Example: mlpx runs runs/
    """
    from mlpx.runs import list_runs

    found = list_runs(runs_dir)
    if not found:
        console.print(f"no runs in {runs_dir}")
        return
    print_wide(runs_table(found, runs_dir), 140)
