"""The command line: each command parses, calls one library function and renders its result.

Heavy libraries (torch, matplotlib, scikit-learn) are imported inside the commands that use
them, so that ``mlpx --help`` answers at once.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
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
