"""The command line: each command parses, calls one library function and renders its result.

Heavy libraries (torch, matplotlib, scikit-learn) are imported inside the commands that use
them, so that ``mlpx --help`` answers at once.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import TypeVar

import typer
from rich.console import Console

from mlpx.errors import MlpxError

app = typer.Typer(
    name="mlpx",
    help="Train, sweep and check multi-layer perceptrons from a YAML config.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 2) -> None:
    """Print one red line to stderr and exit with ``code`` (2: usage or config error)."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


F = TypeVar("F", bound=Callable)


def reports_errors(command: F) -> F:
    """Turn project errors raised by a command into one red line and their exit code."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except MlpxError as exc:
            fail(str(exc), exc.exit_code)

    return wrapper  # type: ignore[return-value]


def main() -> None:
    """Entry point of the ``mlpx`` console script: project errors become one line, exit 2."""
    try:
        app()
    except MlpxError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)


@app.callback()
def commands() -> None:
    # A callback keeps `mlpx gradcheck` a subcommand even while it is the only command
    # (Typer runs a lone command as the app itself).
    pass


class GradcheckOracle(str, Enum):
    """Oracles ``mlpx gradcheck --against`` accepts besides finite differences."""

    torch = "torch"


@app.command("gradcheck")
@reports_errors
def gradcheck_command(
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Check this config's architecture (toy data: the toy set)."
    ),
    tol: float = typer.Option(
        1e-7, "--tol", min=0.0, help="Largest max relative error that passes."
    ),
    against: GradcheckOracle | None = typer.Option(
        None, "--against", help="Also compare with PyTorch autograd on the same arrays."
    ),
) -> None:
    """Check the numpy backend's backprop against finite differences (and torch autograd).

    Without --config, simple and complex MLPs with each activation, batch norm, dropout and
    L1/L2 are checked. Exit code 0 when every gradient passes, 1 otherwise.

    Example: mlpx gradcheck --config configs/toy.yaml --against torch
    """
    from rich.table import Table

    from mlpx.config import load_config
    from mlpx.gradcheck import run_gradcheck

    cfg = load_config(config) if config is not None else None
    report = run_gradcheck(cfg, tol, against_torch=against is GradcheckOracle.torch)
    console.print(f"Gradient check in float64, tolerance {tol:g}", highlight=False)
    for model in dict.fromkeys(row.model for row in report.rows):
        table = Table(title=model, title_justify="left")
        for column in ("parameter", "shape", "vs", "checked"):
            table.add_column(column)
        table.add_column("max rel. error", justify="right")
        table.add_column("result")
        for row in report.rows:
            if row.model == model:
                table.add_row(
                    row.parameter,
                    "x".join(map(str, row.shape)),
                    row.oracle,
                    str(row.checked),
                    f"{row.max_rel_error:.2e}",
                    "[green]PASS[/]" if row.passed else "[bold red]FAIL[/]",
                )
        console.print(table)
    if report.initial_loss is not None:
        line = f"initial loss {report.initial_loss:.11f}"
        if report.reference_loss is not None:
            verdict = "[green]PASS[/]" if report.loss_passed else "[bold red]FAIL[/]"
            line += (
                f" (reference {report.reference_loss:.11f},"
                f" |diff| {abs(report.initial_loss - report.reference_loss):.1e}): {verdict}"
            )
        console.print(line, highlight=False)
    failed = sum(not row.passed for row in report.rows) + (not report.loss_passed)
    if failed:
        console.print(f"[bold red]{failed} check(s) failed[/]")
        raise typer.Exit(1)
    console.print(f"[green]all {len(report.rows)} gradient checks passed[/]")
