"""Options that more than one command takes, spelled once."""

from __future__ import annotations

import copy

import typer

from mlpx.groups.executors import EXECUTORS, executor_names

OVERRIDES = typer.Option(
    [],
    "--set",
    "-s",
    help="Override a config field: -s optimizer.lr=0.01 (repeatable).",
    metavar="KEY=VALUE",
)
JOBS = typer.Option(
    None,
    "--jobs",
    "-j",
    help="Processes run side by side, each a trial, a fold or a stack of trials (--executor "
    "local, process or stacked; default: the number of cores). With more than one, each "
    "gets one thread, and a stack of at least 2N trials is split into N.",
    show_default=False,
)
EXECUTOR = typer.Option(
    "local",
    "--executor",
    help=f"Where trials run: {executor_names()}. local (the default) trains trials of one "
    "shape as one stacked model and the others in a process each; process: a process per "
    "trial; stacked: one stack, or refuse.",
    metavar="|".join(EXECUTORS),
)
SCHEDULER = typer.Option(
    None,
    "--scheduler",
    help="Dask scheduler address, e.g. tcp://host:8786 (--executor dask).",
    metavar="ADDRESS",
)


def under(heading: str, option):
    """``option`` (one of the above) shown in --help under its own ``heading``."""
    shown = copy.copy(option)
    shown.rich_help_panel = heading
    return shown
