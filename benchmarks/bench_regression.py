"""Validation R² on diabetes: both mlpx backends beside scikit-learn's MLPRegressor.

    python benchmarks/bench_regression.py              # configs/diabetes.yaml, seeds 0..4
    python benchmarks/bench_regression.py --seeds 2    # fewer seeds (--quick: 2 seeds, 20 epochs)

Every seed's split is mlpx's (seeded 80/20 of the 442 patients, data.seed = the seed); all
three fit the same standardised inputs and targets with the same architecture (the config's
hidden layers and activation), optimizer (Adam, the config's lr, betas 0.9/0.999, eps 1e-8,
no weight decay), batch size and number of epochs. MLPRegressor gets ``alpha=0`` (no L2),
``early_stopping=False`` and ``n_iter_no_change`` = epochs, so that it runs every epoch as
mlpx does. R² is scikit-learn's ``r2_score`` on the validation part in the targets' units
(mlpx's ``val_r2``). The target is |mlpx - sklearn| <= 0.05 for the mean over seeds.
Writes benchmarks/results/regression-<date>-<host>.json and prints a side-by-side table.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import warnings
from pathlib import Path

from results_file import write_results

HERE = Path(__file__).resolve().parent
CONFIG = HERE.parent / "configs" / "diabetes.yaml"
TARGET = 0.05


def mlpx_r2(overrides: list[str], runs_dir: Path) -> float:
    """Train configs/diabetes.yaml with ``overrides``; the final validation R²."""
    from mlpx.config import load_config
    from mlpx.train import train

    config = load_config(CONFIG, [*overrides, "output.plots=false"])
    result = train(config, runs_dir=runs_dir, command=["bench_regression"])
    return result.summary["final"]["val_r2"]


def sklearn_r2(seed: int, overrides: list[str]) -> float:
    """MLPRegressor with the config's architecture, Adam and epochs on mlpx's split."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import r2_score
    from sklearn.neural_network import MLPRegressor

    from mlpx.config import load_config
    from mlpx.data import load_dataset

    config = load_config(CONFIG, overrides)
    data = load_dataset(config.data, seed, "float64", "regression")
    model = MLPRegressor(
        hidden_layer_sizes=tuple(config.model.hidden),
        activation=config.model.activation,
        solver="adam",
        alpha=0.0,
        batch_size=config.train.batch_size,
        learning_rate_init=config.optimizer.lr,
        max_iter=config.train.epochs,
        shuffle=True,
        random_state=seed,
        tol=0.0,
        n_iter_no_change=config.train.epochs,
        early_stopping=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter is the epochs, on purpose
        model.fit(data.x_train, data.y_train[:, 0])
    predicted = data.targets.invert(model.predict(data.x_val)[:, None])
    return float(r2_score(data.raw_targets["val"], predicted))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    parser.add_argument("--epochs", type=int, default=None, help="default: the config's")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 20 epochs")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    seeds, epochs = (2, 20) if args.quick else (args.seeds, args.epochs)
    scores: dict[str, list[float]] = {"mlpx numpy": [], "mlpx torch": [], "sklearn": []}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(seeds):
            common = [f"seed={seed}"] + ([f"train.epochs={epochs}"] if epochs else [])
            for backend in ("numpy", "torch"):
                r2 = mlpx_r2([*common, f"backend={backend}", "device=cpu"], Path(tmp))
                scores[f"mlpx {backend}"].append(r2)
            scores["sklearn"].append(sklearn_r2(seed, common))
    mean = {name: statistics.fmean(values) for name, values in scores.items()}
    spread = {name: statistics.stdev(v) if len(v) > 1 else 0.0 for name, v in scores.items()}
    difference = {name: mean[name] - mean["sklearn"] for name in ("mlpx numpy", "mlpx torch")}
    print(f"diabetes, validation R² over seeds 0..{seeds - 1} (mean ± sample std)")
    print("| implementation | val R² | per seed | minus sklearn |")
    print("|---|---|---|---|")
    for name, values in scores.items():
        per_seed = ", ".join(f"{v:.3f}" for v in values)
        minus = f"{difference[name]:+.3f}" if name in difference else ""
        print(f"| {name} | {mean[name]:.3f} ± {spread[name]:.3f} | {per_seed} | {minus} |")
    ok = all(abs(d) <= TARGET for d in difference.values())
    print(f"target |mlpx - sklearn| <= {TARGET}: {'met' if ok else 'NOT met'}")
    path = write_results(
        args.out,
        "regression",
        args.quick,
        {
            "config": str(CONFIG.relative_to(HERE.parent)),
            "seeds": seeds,
            "epochs": epochs,
            "r2": scores,
            "mean": mean,
            "std": spread,
            "minus_sklearn": difference,
            "target": TARGET,
            "target_met": ok,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
