"""``mlpx runs``: past runs, sweeps and cross-validations, newest first."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import typer

from mlpx.cli.render import console, reports_errors, runs_table
from mlpx.errors import UsageError


@reports_errors
def runs(
    runs_dir: Path = typer.Argument(Path("runs"), help="Directory holding run directories."),
    sort: str = typer.Option(
        "started",
        "--sort",
        help="Order by started (newest first), name, status, data, backend, optimizer, lr, "
        "best_val_acc, test_acc (highest first) or seconds (longest first).",
        metavar="KEY",
    ),
    filters: list[str] = typer.Option(
        [],
        "--filter",
        "-f",
        help="Only rows whose column or dotted config path has this value: status=completed, "
        "data=digits, model.kind=complex (repeatable; all must match).",
        metavar="KEY=VALUE",
    ),
    last: int | None = typer.Option(
        None, "--last", "-n", help="Only the N newest (after --filter).", metavar="N"
    ),
    search_all: bool = typer.Option(
        False, "--all", "-a", help="Also look in subfolders (runs/project/..., not in sweeps)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as a JSON list."),
    as_csv: bool = typer.Option(False, "--csv", help="Print the rows as CSV with a header."),
) -> None:
    """List past runs, sweeps and cross-validations, newest first, in the terminal's width.

    A directory whose files cannot be read is a row marked unreadable, with the reason.

    Example: mlpx runs runs/ --filter status=completed --sort best_val_acc --last 10
    """
    from mlpx.listing import RunRow, choose_rows, list_runs

    if as_json and as_csv:
        raise UsageError("--json and --csv: choose one")
    found = list_runs(runs_dir, recursive=search_all)
    rows = choose_rows(found, filters, last, sort)
    if as_json:
        sys.stdout.write(json.dumps([row.record() for row in rows], indent=2) + "\n")
        return
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=RunRow.COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(row.record() for row in rows)
        return
    if not rows:
        chosen = " match" if filters else ""
        console.print(f"no runs{chosen} in {runs_dir}", highlight=False)
        return
    shown = f"{len(rows)} of {len(found)}" if len(rows) < len(found) else f"{len(rows)}"
    console.print(runs_table(rows, f"{shown} run(s) in {runs_dir}", console.width))
    for row in rows:
        if row.reason:
            console.print(
                f"unreadable: {row.name}: {row.reason}",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
