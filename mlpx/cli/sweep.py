"""``mlpx sweep``: one config over a grid of values of a hyperparameter, several seeds each."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from mlpx.cli import options
from mlpx.cli.render import (
    GroupProgress,
    console,
    fail,
    print_wide,
    reports_errors,
    sweep_table,
    trials_table,
)


@reports_errors
def sweep(
    param: str | None = typer.Argument(
        None,
        help="What to sweep: lr, hidden, optimizer, depth, l1, l2, dropout, batch_size, epochs "
        "or a dotted config path (with --values).",
        show_default=False,
    ),
    values: str | None = typer.Option(
        None,
        "--values",
        help='Comma-separated values, each read as YAML: 0.1,0.01 or "[64],[64,64]" (default: '
        "PARAM's own grid; --dry-run lists it).",
        show_default=False,
    ),
    config: Path | None = typer.Option(
        None, "--config", help="Base YAML config (default: the built-in digits config)."
    ),
    seeds: int | None = typer.Option(
        None,
        "--seeds",
        help="Seeds per value: the base seed, +1, ... (default 1).",
        show_default=False,
    ),
    jobs: int | None = options.JOBS,
    executor: str = options.EXECUTOR,
    scheduler: str | None = options.SCHEDULER,
    overrides: list[str] = options.OVERRIDES,
    runs_dir: Path | None = typer.Option(
        None, "--runs-dir", help="Where the sweep directory goes (default: output.runs_dir)."
    ),
    resume: Path | None = typer.Option(
        None,
        "--resume",
        help="Finish an interrupted sweep: run only its unfinished trials.",
        show_default=False,
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the trials that would run and exit; writes nothing."
    ),
) -> None:
    """Train one config over a grid of values of a hyperparameter, several seeds each.

    Trials that differ only in hyperparameters and seeds train together as one stacked
    model (draw their plots with mlpx plot), the others in separate processes (or on a Dask
    cluster); one that fails, diverges or is killed is recorded and the others go on. Writes
    runs/sweep-PARAM-TIME/ with sweep.yaml, trials/, results.csv, plots/sweep.png and
    plots/curves.png.

    Example: mlpx sweep lr --seeds 3 -s train.epochs=20
    """
    from mlpx import launch
    from mlpx.groups.executors import ExecutorOptions

    request = launch.SweepRequest(
        param, values, config, seeds, overrides, runs_dir, resume,
        ExecutorOptions(executor, jobs, scheduler),
    )  # fmt: skip
    target = launch.open_sweep(request)
    if dry_run:
        pending, plan = target.pending(), target.plan
        console.print(trials_table(pending, plan.param))
        if target.resumed:
            what = (
                f"{len(pending)} of {len(plan.trials)} trial(s) would run again in {target.target}"
            )
        else:
            shape = f"{len(plan.values)} value(s) x {len(plan.seeds)} seed(s)"
            what = f"{len(plan.trials)} trial(s) ({shape}) would run in {target.target}"
        console.print(f"dry run: {what}; nothing was written", highlight=False)
        return
    with GroupProgress(console) as progress:
        result = target.run(progress, sys.argv)
    if result.completed:
        print_wide(sweep_table(result), 180)
    done = result.directory
    if result.interrupted:
        fail(f"interrupted; resume with: mlpx sweep --resume {done}", 130)
    written = [f"results: {done / 'results.csv'}"]
    if (done / "plots").is_dir():  # drawn when a trial completed
        written.append(f"plots: {done / 'plots'}")
    # whatever did not complete: where the results are first, then why
    console.print(", ".join(written), highlight=False, soft_wrap=True)
    if result.problems:
        names = ", ".join(f"{r.trial.name} ({r.status})" for r in result.problems)
        counts = f"{len(result.problems)} of {len(result.results)} trial(s)"
        fail(f"{counts} did not complete: {names}; see {done / 'results.csv'}", 1)
