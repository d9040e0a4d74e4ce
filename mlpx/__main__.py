"""``python -m mlpx`` and the ``mlpx`` console script.

Loading the command line takes a moment (typer, rich, pydantic); a Ctrl-C or SIGTERM then
ends it with one line and exit code 130, not an import's traceback. Once it is loaded,
:func:`mlpx.cli.main` handles them.
"""

from __future__ import annotations

import os
import signal
import sys


def _stopped_while_loading(signum, frame) -> None:
    sys.stderr.write("error: interrupted before anything started; nothing was written\n")
    sys.stderr.flush()
    os._exit(130)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Load the command line with Ctrl-C and SIGTERM ending it quietly, then run it."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stopped_while_loading)
    from mlpx.cli import main as cli_main

    # from here on, SIGTERM stops a command as Ctrl-C does (one line, exit 130)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    cli_main()


if __name__ == "__main__":
    main()
