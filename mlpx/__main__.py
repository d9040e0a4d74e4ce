"""``python -m mlpx`` and the ``mlpx`` console script.

Loading the command line takes a moment (typer, rich, pydantic); a Ctrl-C or SIGTERM then
ends it with one line and exit code 130, not an import's traceback. Once it is loaded,
:func:`mlpx.cli.main` handles them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys


def _stopped_while_loading(signum, frame) -> None:
    sys.stderr.write("error: interrupted before anything started; nothing was written\n")
    sys.stderr.flush()
    os._exit(130)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _unraisable(report) -> None:
    """``sys.unraisablehook``: a Ctrl-C that lands in a finalizer or a fork handler cannot
    stop anything (Python drops it and the command goes on): it is dropped without the
    traceback Python would print under a command's last line. Anything else is reported as
    Python reports it."""
    if not isinstance(report.exc_value, KeyboardInterrupt):
        sys.__unraisablehook__(report)


def main() -> None:
    """Load the command line with Ctrl-C and SIGTERM ending it quietly, then run it."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stopped_while_loading)
    sys.unraisablehook = _unraisable
    from mlpx.cli import main as cli_main

    # from here on, SIGTERM stops a command as Ctrl-C does (one line, exit 130)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        cli_main()
    except SystemExit as stop:
        _leave(stop.code)
    _leave(0)


def _leave(code: object) -> None:
    """End the process as ``sys.exit(code)`` would, without the interpreter's teardown:
    freeing every module of numpy, matplotlib and torch took 0.3-0.4 s after the command had
    finished. The exit handlers still run (multiprocessing's, MLflow's, logging's) and the
    standard streams are flushed. Python's own exit is kept where something waits for it: a
    thread still running (one that is not a daemon), or a profiler or tracer around mlpx
    (``python -m cProfile -m mlpx``, a debugger, coverage), which reports after mlpx returns."""
    import atexit
    import threading

    main = threading.main_thread()
    waiting = any(t is not main and t.is_alive() and not t.daemon for t in threading.enumerate())
    if waiting or sys.getprofile() is not None or sys.gettrace() is not None:
        raise SystemExit(code)
    if code is None or isinstance(code, int):
        status = code or 0
    else:  # sys.exit("message"): the message on stderr, status 1
        sys.stderr.write(f"{code}\n")
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # a closed pipe (mlpx runs | head) leaves nothing to say
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
