"""``mlpx gradcheck``, ``mlpx backprop`` and ``mlpx crossentropy-demo``: checks of the maths,
no dataset needed."""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path

import typer

from mlpx.cli import options
from mlpx.cli.render import (
    backprop_report,
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

GRADCHECK_HELP = (
    "Check the numpy backend's backprop against finite differences (and torch autograd).\n\n"
    "Without --config, simple and complex MLPs with each activation, batch norm, dropout and "
    "L1/L2 are checked, and every registered loss (nll, mse, mae, huber, ...) for each task it "
    "takes; -s overrides apply to --config (or, without it, to the built-in "
    "defaults). On the toy config (configs/toy.yaml) it also prints the initial loss and the "
    "scores beside the classic two-layer net's references. Exit code 0 when every check "
    "passes, 1 otherwise.\n\n"
    "Example: mlpx gradcheck --config configs/toy.yaml --against torch"
)

BACKPROP_HELP = (
    "One forward and one backward pass through a tiny network given with its weights.\n\n"
    "Prints every pre-activation, activation and probability, the loss, the gradients of the "
    "pre-activations and activations, and the gradient of every weight and bias, computed with "
    "the NumPy backend's layers; each is checked against torch autograd, and every parameter "
    "gradient also against centred finite differences (float64). Exit code 0 when every check "
    "passes, 1 otherwise.\n\n"
    "CONFIG: x (rows of inputs), y (a class per row), activation (relu | sigmoid | tanh, of the "
    "hidden layers), layers (a list of {W: [[...]], b: [...]}: one 2-D weight, inputs x units, "
    "and one 1-D bias per layer, named as you like); softmax and mean cross-entropy follow the "
    "last layer.\n\n"
    "Example: mlpx backprop configs/backprop.yaml --json backprop.json"
)


class GradcheckOracle(str, Enum):
    """Oracles ``mlpx gradcheck --against`` accepts besides finite differences."""

    torch = "torch"


def _tolerance(value: float) -> float:
    """A finite number >= 0 (Click's range check would call nan "not >= 0")."""
    if not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a number; give a finite one >= 0, e.g. 1e-7")
    if value < 0:
        raise typer.BadParameter(f"{value} is negative; give a finite number >= 0, e.g. 1e-7")
    return value


@reports_errors
def gradcheck_command(
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="Check this config's model (hidden layers, activation, batch norm, dropout), loss "
        "and penalties: on the toy set for data toy, else on a small random batch with 8 "
        "input features.",
    ),
    overrides: list[str] = options.OVERRIDES,
    tol: float = typer.Option(
        1e-7,
        "--tol",
        callback=_tolerance,
        help="Largest max relative error that passes (a finite number >= 0).",
    ),
    against: GradcheckOracle | None = typer.Option(
        None, "--against", help="Also compare with PyTorch autograd on the same arrays."
    ),
) -> None:
    """Run the gradient check: load, check, render (help text in GRADCHECK_HELP)."""
    from mlpx.config import load_config
    from mlpx.diagnostics.gradcheck import run_gradcheck

    cfg = load_config(config, overrides) if config is not None or overrides else None
    report = run_gradcheck(cfg, tol, against_torch=against is GradcheckOracle.torch)
    if gradcheck_report(report, tol):
        raise SystemExit(1)


@reports_errors
def backprop(
    network: Path | None = typer.Argument(
        None,
        help="YAML file of the network, its weights, inputs and targets "
        "(default: the exercise's network, configs/backprop.yaml).",
        show_default=False,
        metavar="CONFIG",
    ),
    json_file: str = typer.Option(
        None,
        "--json",
        metavar="FILE",
        help="Write every number to this JSON file ('-': print the JSON instead of the tables).",
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --json file."),
) -> None:
    """Run the backprop exercise: read, pass, check, render (help text in BACKPROP_HELP)."""
    import json

    from mlpx.diagnostics.backprop import read_network, run_backprop, write_json
    from mlpx.diagnostics.crossentropy import check_output_path

    json_path = Path(json_file) if json_file not in (None, "-") else None
    if json_path is not None:
        check_output_path(json_path, "--json", force, suffix=".json")
    result = run_backprop(read_network(network))
    if json_file == "-":
        typer.echo(json.dumps(result.to_dict(), indent=1))
    else:
        backprop_report(result)
    if json_path is not None:
        write_json(result, json_path)
        console.print(f"wrote {json_path}", highlight=False)
    if result.failed:
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
    from mlpx.outputs import check_distinct

    settings = crossentropy.demo_settings(ranges, batch_size, classes, iterations, seed, dtype)
    json_path = Path(json_file) if json_file is not None else None
    plot_path = Path(plot_file) if plot_file is not None else None
    check_distinct({"--json": json_path, "--plot": plot_path})
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
