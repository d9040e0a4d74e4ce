"""``mlpx gradcheck`` and ``mlpx crossentropy-demo``: checks of the maths, no dataset needed."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from mlpx.cli.render import (
    console,
    crossentropy_table,
    gradcheck_report,
    illustration_table,
    reports_errors,
)

CROSSENTROPY_HELP = (
    "Why cross-entropy must be computed with log-sum-exp: five ways, measured.\n\n"
    "For each range, draws batches of scores uniform in (lo, hi) and random labels, "
    "computes the mean cross-entropy (a) with torch's F.cross_entropy, the reference, "
    "(b) as softmax then -log, (c) with a naive log(sum exp), (d) with torch.logsumexp "
    "and (e) with the max-shift trick, and counts how often each equals the reference to "
    "3 decimals, meaning abs(loss - reference) < 0.5e-3 (NaN and inf never do). "
    "Needs no dataset.\n\n"
    "Example: mlpx crossentropy-demo --range 0,1 --range 0,10 --range 0,100 --plot ce.png"
)


class GradcheckOracle(str, Enum):
    """Oracles ``mlpx gradcheck --against`` accepts besides finite differences."""

    torch = "torch"


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
    L1/L2 are checked, and every registered loss (nll, mse, mae, huber, ...) for each task
    it takes. Exit code 0 when every gradient passes, 1 otherwise.

    Example: mlpx gradcheck --config configs/toy.yaml --against torch
    """
    from mlpx.config import load_config
    from mlpx.diagnostics.gradcheck import run_gradcheck

    cfg = load_config(config) if config is not None else None
    report = run_gradcheck(cfg, tol, against_torch=against is GradcheckOracle.torch)
    if gradcheck_report(report, tol):
        raise SystemExit(1)


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
    from mlpx.diagnostics import crossentropy

    settings = crossentropy.demo_settings(ranges, batch_size, classes, iterations, seed, dtype)
    json_path = Path(json_file) if json_file is not None else None
    plot_path = Path(plot_file) if plot_file is not None else None
    if json_path is not None:
        crossentropy.check_output_path(json_path, "--json", force)
    if plot_path is not None:
        crossentropy.check_output_path(plot_path, "--plot", force, suffix=".png")
    with console.status("Computing cross-entropy five ways..."):
        result = crossentropy.run_demo(settings)
    console.print(crossentropy_table(result))
    console.print(illustration_table(result))
    for line in crossentropy.conclusion(result):
        console.print(f"- {line}", highlight=False)
    if json_path is not None:
        crossentropy.write_json(result, json_path)
        console.print(f"wrote {json_path}", highlight=False)
    if plot_path is not None:
        crossentropy.plot_agreement(result, plot_path)
        console.print(f"wrote {plot_path}", highlight=False)
