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


@app.callback()
def _commands() -> None:
    # A callback keeps `mlpx COMMAND` a group while only one command is registered
    # (Typer otherwise runs a lone command without its name).
    """Train, sweep and check multi-layer perceptrons from a YAML config."""


@app.command(
    "crossentropy-demo",
    help=(
        "Why cross-entropy must be computed with log-sum-exp: five ways, measured.\n\n"
        "For each range, draws batches of scores uniform in (lo, hi) and random labels, "
        "computes the mean cross-entropy (a) with torch's F.cross_entropy, the reference, "
        "(b) as softmax then -log, (c) with a naive log(sum exp), (d) with torch.logsumexp "
        "and (e) with the max-shift trick, and counts how often each equals the reference to "
        "3 decimals, meaning abs(loss - reference) < 0.5e-3 (NaN and inf never do). "
        "Needs no dataset.\n\n"
        "Example: mlpx crossentropy-demo --range 0,1 --range 0,10 --range 0,100 --plot ce.png"
    ),
)
@reports_errors
def crossentropy_demo(
    ranges: list[str] = typer.Option(
        None,
        "--range",
        metavar="LO,HI",
        help="Score range, lo < hi; repeat for several.  (default: 0,1 and 0,100)",
        show_default=False,
    ),
    batch_size: int = typer.Option(64, "--batch-size", help="Samples per batch."),
    classes: int = typer.Option(10, "--classes", help="Number of classes."),
    iterations: int = typer.Option(1000, "--iterations", help="Batches drawn per range."),
    seed: int = typer.Option(0, "--seed", help="Seed of NumPy's default_rng, for each range."),
    dtype: str = typer.Option("float32", "--dtype", help="float32 or float64."),
    json_file: str = typer.Option(
        None, "--json", metavar="FILE", help="Write every number to this JSON file."
    ),
    plot_file: str = typer.Option(
        None,
        "--plot",
        metavar="FILE.png",
        help="Draw agreement % against each range's upper end.",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite existing --json/--plot files."),
) -> None:
    """Run the cross-entropy demo: validate, measure, render (help text in the decorator)."""
    from pathlib import Path

    from mlpx import crossentropy

    settings = crossentropy.demo_settings(ranges, batch_size, classes, iterations, seed, dtype)
    json_path = Path(json_file) if json_file is not None else None
    plot_path = Path(plot_file) if plot_file is not None else None
    if json_path is not None:
        crossentropy.check_output_path(json_path, "--json", force)
    if plot_path is not None:
        crossentropy.check_output_path(plot_path, "--plot", force, suffix=".png")
    with console.status("Computing cross-entropy five ways..."):
        result = crossentropy.run_demo(settings)
    console.print(_crossentropy_table(result))
    console.print(_illustration_table(result))
    for line in crossentropy.conclusion(result):
        console.print(f"- {line}", highlight=False)
    if json_path is not None:
        crossentropy.write_json(result, json_path)
        console.print(f"wrote {json_path}", highlight=False)
    if plot_path is not None:
        crossentropy.plot_agreement(result, plot_path)
        console.print(f"wrote {plot_path}", highlight=False)


def _crossentropy_table(result):
    """One row per range and way: agreement %, NaN/inf count, largest finite difference."""
    from rich.table import Table

    from mlpx.crossentropy import REFERENCE, TOLERANCE, WAYS

    s = result.settings
    table = Table(
        title=f"Cross-entropy vs {REFERENCE.label}, {s.dtype}, "
        f"{s.iterations} batches of {s.batch_size}x{s.classes} per range",
        caption=f"agree: abs(loss - reference) < {TOLERANCE:g}; NaN and inf never agree",
    )
    for column in ("range", "way", "agree %", "NaN/inf", "max |diff|"):
        table.add_column(column, justify="left" if column in ("range", "way") else "right")
    for r in result.ranges:
        for k, way in enumerate(WAYS):
            stats = r.ways[way.key]
            table.add_row(
                r.name if k == 0 else "",
                way.label,
                f"{stats.agreement_percent:.1f}",
                str(stats.nan_inf),
                "-" if stats.max_abs_diff is None else f"{stats.max_abs_diff:.3g}",
                style="red" if stats.agreement_percent < 100 else None,
            )
        table.add_section()
    return table


def _illustration_table(result):
    """Equal scores through every way, one column per illustration: each should give log(C)."""
    import math

    from rich.table import Table

    from mlpx.crossentropy import WAYS

    expected = {case.expected for case in result.illustrations}
    table = Table(title=f"Equal scores: every class's loss should be log(3) = {min(expected):.4f}")
    table.add_column("way")
    for case in result.illustrations:
        table.add_column("scores " + ", ".join(f"{v:g}" for v in case.scores), justify="right")
    for way in WAYS:
        values = [case.values[way.key] for case in result.illustrations]
        table.add_row(
            way.label, *(f"{v:.4f}" if math.isfinite(v) else f"[red]{v}[/]" for v in values)
        )
    return table
