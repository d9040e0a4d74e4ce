"""The command line, a thin face over the library: each command parses its options, calls one
library function and renders the result (:mod:`mlpx.cli.render` holds every table, display
and colour). One module per command group; this one builds the Typer app and the entry point.

Heavy libraries (torch, matplotlib, scikit-learn) are imported inside the commands that use
them, so that ``mlpx --help`` answers at once.
"""

from __future__ import annotations

import sys

import typer

from mlpx.cli import compare, data, diagnostics, plot, predict, runs, sweep, train
from mlpx.cli.conventions import Command, Group
from mlpx.cli.failures import explain
from mlpx.cli.render import ProgressDisplay, console, fail

__all__ = ["ProgressDisplay", "app", "main"]

app = typer.Typer(
    name="mlpx",
    cls=Group,
    help="Train, sweep and check multi-layer perceptrons from a YAML config.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("mlpx")
        except PackageNotFoundError:  # a source checkout that was never installed
            number = "unknown (not installed)"
        console.print(f"mlpx {number}", highlight=False)
        raise typer.Exit()


@app.callback()
def _options(
    show_version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print the version of mlpx and exit.",
    ),
) -> None:
    """Train, sweep and check multi-layer perceptrons from a YAML config."""


app.command(cls=Command)(train.train)
app.command(cls=Command)(runs.runs)
app.command(cls=Command)(compare.compare)
app.command("crossentropy-demo", cls=Command, help=diagnostics.CROSSENTROPY_HELP)(
    diagnostics.crossentropy_demo
)
app.command("gradcheck", cls=Command, help=diagnostics.GRADCHECK_HELP)(
    diagnostics.gradcheck_command
)
app.command("backprop", cls=Command, help=diagnostics.BACKPROP_HELP)(diagnostics.backprop)
app.command(cls=Command)(predict.predict)
app.command("data", cls=Command, help=data.DATA_HELP)(data.data)
app.command(cls=Command)(sweep.sweep)
app.command(cls=Command)(plot.plot)


def main() -> None:
    """Entry point of the ``mlpx`` console script.

    Every exception becomes one red line, never a traceback or a boxed panel: project and
    usage errors exit 2, the rest as :func:`mlpx.cli.failures.explain` decides; Ctrl-C outside
    training exits 130.
    """
    if len(sys.argv) == 1:  # bare `mlpx`: the help screen, as no_args_is_help promises
        app(prog_name="mlpx")
    try:
        code = app(standalone_mode=False, prog_name="mlpx")
    except (KeyboardInterrupt, typer.Abort):
        fail("interrupted", 130)
    except Exception as exc:
        if not (hasattr(exc, "format_message") and hasattr(exc, "exit_code")):
            fail(*explain(exc))
        # a usage error from Typer/Click: bad option, missing argument, wrong type
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        fail(f"{exc.format_message()}{hint}", exc.exit_code)
    if code == 130:  # Typer returns this for a KeyboardInterrupt that no command handled
        fail("interrupted", 130)
    sys.exit(code if isinstance(code, int) else 0)
