"""Training speed of mlpx's backends against scikit-learn, the textbook PyTorch loop and the
machine's matmul ceiling, all measured in ONE run (so the ratios compare like with like).

    python benchmarks/bench_train.py            # the full benchmark (a few minutes)
    python benchmarks/bench_train.py --quick    # tiny sizes: checks the script still works

Workloads:
  mnist-b64 / mnist-b256: 784-1000-100-10 ReLU MLP, plain SGD, float32, synthetic MNIST-shaped
      data (60,000 samples; --quick: 2,048), one epoch; samples per second.
  digits: 64-32-10 ReLU MLP, Adam 1e-3, batch 64, 50 epochs on scikit-learn's digits
      (1,438 training samples after mlpx's split); seconds.
Every implementation is timed interleaved with the others, after a warm-up, over --repeats
repeats; the table gives the median with min-max. Writes benchmarks/results/<date>-<host>.json
and rewrites benchmarks/RESULTS.md with the table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from results_file import write_results

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

MNIST_SIZES = (784, 1000, 100, 10)
GEMMS = "GEMMs alone (bound)"
TORCH_GEMMS = "torch GEMMs alone (bound)"


def real_work_flops(sizes: tuple[int, ...]) -> float:
    """FLOPs per sample of one SGD step (forward, weight gradients, and input gradients of
    every layer but the first: nobody needs dL/dx of the data)."""
    from mlpx.model import ModelSpec

    return ModelSpec(tuple(sizes)).flops_per_sample()


def gemm_rate(dtype: str, m: int, k: int, n: int, repeats: int) -> float:
    """Best GFLOP/s of an (m, k) x (k, n) matrix product in NumPy's BLAS."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k)).astype(dtype), rng.standard_normal((k, n)).astype(dtype)
    out = np.empty((m, n), dtype)
    np.matmul(a, b, out=out)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - start)
    return 2 * m * k * n / best / 1e9


def gemm_ceilings(quick: bool) -> dict[str, float]:
    """The machine's matmul ceilings: a large square product in float32 and float64 (the
    classic measure), and the best float32 rate over the shapes the 784-1000-100-10 step at
    B=256 multiplies (cache-sized products can run faster than a large square one)."""
    n, repeats = (256, 3) if quick else (2048, 8)
    shapes = [(256, 784, 1000), (784, 256, 1000), (256, 1000, 784), (1024, 1024, 1024)]
    return {
        "float32": gemm_rate("float32", n, n, n, repeats),
        "float64": gemm_rate("float64", n, n, n, repeats),
        "float32_best_shape": max(gemm_rate("float32", *s, 3 if quick else 20) for s in shapes),
    }


# --- the implementations: each returns a callable that runs one timed unit -----------------


def mlpx_backend(backend: str, x, y, sizes, optimizer: str, lr: float, batch: int, epochs: int):
    """mlpx's backend driven exactly as mlpx's loop drives it (seeded order, slices)."""
    from mlpx.backends import create_backend
    from mlpx.config import build_config
    from mlpx.model import ModelSpec, init_params
    from mlpx.train import batch_bounds, epoch_order

    config = build_config(
        {
            "backend": backend,
            "device": "cpu",
            "dtype": "float32",
            "model": {"hidden": list(sizes[1:-1])},
            "optimizer": {"name": optimizer, "lr": lr},
            "train": {"batch_size": batch},
        }
    )
    spec = ModelSpec(tuple(sizes))
    impl = create_backend(config, spec, init_params(spec, "kaiming", 0.01, 0, "float32"))
    impl.set_data("train", x, y)
    bounds = batch_bounds(len(y), batch, False).tolist()
    counter = iter(range(10**9))

    def run() -> None:
        for _ in range(epochs):
            impl.start_epoch(epoch_order(0, next(counter), len(y)))
            for start, stop in bounds:
                impl.train_step(start, stop, lr)
            impl.end_epoch()

    return run


def sklearn_mlp(x, y, sizes, optimizer: str, lr: float, batch: int, epochs: int):
    """scikit-learn's MLPClassifier with the same architecture, optimizer and batch size."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    def run() -> None:
        model = MLPClassifier(
            hidden_layer_sizes=tuple(sizes[1:-1]),
            solver=optimizer,
            learning_rate_init=lr,
            batch_size=batch,
            max_iter=epochs,
            momentum=0.0,
            nesterovs_momentum=False,
            alpha=0.0,
            tol=0.0,
            n_iter_no_change=10**9,
            shuffle=True,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(x, y)

    return run


def textbook_torch(x, y, sizes, optimizer: str, lr: float, batch: int, epochs: int):
    """The loop of every PyTorch tutorial: TensorDataset, DataLoader(shuffle), nn.Sequential."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-2], sizes[1:-1], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1]))
    make = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optimizer]
    opt = make(model.parameters(), lr=lr)
    loader = DataLoader(
        TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=batch, shuffle=True
    )
    loss_fn = nn.CrossEntropyLoss()

    def run() -> None:
        for _ in range(epochs):
            for xb, yb in loader:
                opt.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                opt.step()

    return run


def gemms_alone(x, y, sizes, optimizer: str, lr: float, batch: int, epochs: int, lib="numpy"):
    """The matrix products of an SGD step and nothing else, batch after batch: forward,
    weight gradients, and input gradients of every layer but the first, on contiguous slices,
    weights laid out (fan_out, fan_in). No step built on the same BLAS can run faster: this
    is the practical ceiling of the step at this batch size (the 'of GEMMs alone' column),
    with NumPy's BLAS (``lib="numpy"``) or with PyTorch's (``lib="torch"``, MKL in the pip
    wheels), which the torch rows are measured against."""
    rng = np.random.default_rng(0)
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    # std 1/sqrt(fan_in) keeps every product O(1): no overflow, no slow denormals
    ws = [(rng.standard_normal((b, a)) / np.sqrt(a)).astype(x.dtype) for a, b in pairs]
    if lib == "torch":
        import torch

        matmul = torch.matmul
        x, ws = torch.from_numpy(x), [torch.from_numpy(w) for w in ws]
        empty = lambda shape: torch.empty(shape, dtype=x.dtype)  # noqa: E731
    else:
        matmul = np.matmul
        empty = lambda shape: np.empty(shape, x.dtype)  # noqa: E731
    grads = [empty(w.shape) for w in ws]
    outs = [empty((batch, b)) for _, b in pairs]
    douts = [empty((batch, a)) for a, _ in pairs]
    bounds = [(s, min(s + batch, len(x))) for s in range(0, len(x), batch)]

    def run() -> None:
        for _ in range(epochs):
            for start, stop in bounds:
                n = stop - start
                inputs = [x[start:stop]]
                for w, out in zip(ws, outs, strict=True):
                    inputs.append(matmul(inputs[-1], w.T, out=out[:n]))
                d = inputs.pop()
                for i in range(len(ws) - 1, -1, -1):
                    matmul(d.T, inputs[i], out=grads[i])
                    if i:
                        d = matmul(d, ws[i], out=douts[i][:n])

    return run


def mlpx_end_to_end(config: str, runs_dir: Path, overrides: list[str]) -> dict[str, float]:
    """`mlpx train CONFIG` as a user runs it: wall time against its own training-loop time."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mlpx", "train", config, "--runs-dir", str(runs_dir)]
        + [item for o in overrides for item in ("-s", o)],
        cwd=HERE.parent,
        check=True,
        capture_output=True,
        env=os.environ | {"PYTHONPATH": str(HERE.parent)},
    )
    wall = time.perf_counter() - start
    run = max(runs_dir.iterdir(), key=lambda p: p.stat().st_mtime_ns)
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    loop = sum(m["seconds"] for m in metrics)
    return {"wall_s": wall, "loop_s": loop, "ratio": wall / loop}


def mlpx_loop_overhead(backend: str, repeats: int, epochs: int) -> dict[str, float]:
    """Cost of mlpx's loop around the backend on digits: the Trainer's epochs, everything
    included (the live progress display, steps.csv and metrics.jsonl, checkpoints), timed
    from the display's start to its last epoch, against the same backend calls and
    evaluations with nothing around them."""
    import io
    import tempfile

    from rich.console import Console

    from mlpx.cli import ProgressDisplay
    from mlpx.config import build_config
    from mlpx.train import Trainer, epoch_order

    class TimedDisplay(ProgressDisplay):
        def on_start(self, *args) -> None:
            super().on_start(*args)
            self.started = self.ended = time.perf_counter()

        def on_epoch(self, record: dict) -> None:
            super().on_epoch(record)
            self.ended = time.perf_counter()

    overrides = {
        "backend": backend,
        "device": "cpu",
        "train": {"epochs": epochs},
        "output": {"plots": False},
    }
    raw_times, loop_times = [], []
    for _ in range(repeats):
        trainer = Trainer(build_config(overrides))
        backend_impl, n = trainer.backend, len(trainer.dataset.y_train)
        start = time.perf_counter()
        for epoch in range(1, trainer.config.train.epochs + 1):
            backend_impl.start_epoch(epoch_order(0, epoch, n))
            for s, e in trainer.batches.tolist():
                backend_impl.train_step(s, e, 1e-3)
            backend_impl.end_epoch()
            backend_impl.evaluate("val")
        raw_times.append(time.perf_counter() - start)
        console = Console(file=io.StringIO(), force_terminal=True, width=120)
        with tempfile.TemporaryDirectory() as tmp, TimedDisplay(console) as display:
            Trainer(build_config(overrides), display).run(runs_dir=Path(tmp))
        loop_times.append(display.ended - display.started)
    raw, loop = statistics.median(raw_times), statistics.median(loop_times)
    return {
        "raw_s": raw,
        "loop_s": loop,
        "overhead": loop / raw - 1,
        # the fastest of each: the cost with the least interference from other processes
        "overhead_min": min(loop_times) / min(raw_times) - 1,
    }


# --- measurement --------------------------------------------------------------------------


@dataclass
class Timing:
    workload: str
    implementation: str
    seconds: list[float] = field(default_factory=list)
    samples: int = 0

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def rate(self) -> float:
        return self.samples / self.median


def measure(workloads: dict, repeats: int) -> list[Timing]:
    """Warm each implementation up once, then time them interleaved, ``repeats`` rounds."""
    timings = []
    for workload, (impls, samples) in workloads.items():
        runs = {}
        for name, make in impls.items():
            runs[name] = make()
            runs[name]()  # warm-up: allocation, thread pools, lazy imports
            timings.append(Timing(workload, name, samples=samples))
        by_name = {t.implementation: t for t in timings if t.workload == workload}
        for _ in range(repeats):
            for name, run in runs.items():
                start = time.perf_counter()
                run()
                by_name[name].seconds.append(time.perf_counter() - start)
            print(".", end="", flush=True)
    print()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=6)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="BLAS/torch threads")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--no-results-md", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args()
    repeats = 1 if args.quick else args.repeats

    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    torch.set_num_threads(args.threads)
    threadpool_limits(args.threads)

    from mlpx.config import build_config
    from mlpx.data import load_dataset

    n_mnist = 512 if args.quick else 60_000
    rng = np.random.default_rng(0)
    x_mnist = rng.random((n_mnist, 784), dtype=np.float32)
    y_mnist = rng.integers(0, 10, n_mnist)
    digits = load_dataset(build_config({}).data, seed=0, dtype="float32")
    x_dig, y_dig = digits.x_train, digits.y_train
    dig_epochs = 2 if args.quick else 50
    dig_sizes = (64, 32, 10)

    def impls(x, y, sizes, opt, lr, batch, epochs, sklearn=True):
        found = {
            "mlpx numpy": lambda: mlpx_backend("numpy", x, y, sizes, opt, lr, batch, epochs),
            "mlpx torch": lambda: mlpx_backend("torch", x, y, sizes, opt, lr, batch, epochs),
            "textbook torch": lambda: textbook_torch(x, y, sizes, opt, lr, batch, epochs),
        }
        if sklearn:
            found["sklearn"] = lambda: sklearn_mlp(x, y, sizes, opt, lr, batch, epochs)
        return found

    def mnist(batch):
        found = impls(x_mnist, y_mnist, MNIST_SIZES, "sgd", 0.01, batch, 1)
        args = (x_mnist, y_mnist, MNIST_SIZES, "sgd", 0.01, batch, 1)
        found[GEMMS] = lambda: gemms_alone(*args)
        found[TORCH_GEMMS] = lambda: gemms_alone(*args, lib="torch")
        return found, n_mnist

    workloads = {
        "mnist-b64": mnist(64),
        "mnist-b256": mnist(256),
        "digits": (
            impls(x_dig, y_dig, dig_sizes, "adam", 1e-3, 64, dig_epochs),
            len(y_dig) * dig_epochs,
        ),
    }
    gemm = gemm_ceilings(args.quick)
    ceiling_rate = gemm["float32"] * 1e9 / real_work_flops(MNIST_SIZES)
    best_rate = gemm["float32_best_shape"] * 1e9 / real_work_flops(MNIST_SIZES)
    print(f"GEMM ceilings (GFLOP/s): {gemm}", flush=True)
    timings = measure(workloads, repeats)
    overhead = {
        b: mlpx_loop_overhead(b, 1 if args.quick else 11, dig_epochs) for b in ("numpy", "torch")
    }
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        e2e = {
            b: mlpx_end_to_end(
                "configs/digits.yaml", Path(tmp), [f"backend={b}", f"train.epochs={dig_epochs}"]
            )
            for b in ("torch", "numpy")
        }

    rows = table_rows(timings, ceiling_rate, best_rate)
    report = render(rows, gemm, ceiling_rate, best_rate, overhead, e2e, args)
    print(report)
    result = {
        "threads": args.threads,
        "quick": args.quick,
        "load_average": os.getloadavg(),
        "blas": [
            {k: v for k, v in i.items() if k in ("internal_api", "version", "num_threads")}
            for i in threadpool_info()
        ],
        "versions": {"numpy": np.__version__, "torch": torch.__version__},
        "gemm_gflops": gemm,
        "ceiling_samples_per_s": ceiling_rate,
        "best_gemm_samples_per_s": best_rate,
        "timings": [asdict(t) | {"median_s": t.median, "rate": t.rate} for t in timings],
        "loop_overhead": overhead,
        "end_to_end": e2e,
        "table": rows,
    }
    path = write_results(args.out, "train", args.quick, result)
    name, stamp = path.name, datetime.now()
    print(f"wrote {path}")
    if not (args.quick or args.no_results_md):
        latest = (
            f"Latest full run: `python benchmarks/bench_train.py` on {stamp:%Y-%m-%d %H:%M} "
            f"({socket.gethostname()}, {os.cpu_count()} cores, {args.threads} threads, load "
            f"average {os.getloadavg()[0]:.2f} at the end; {name}).\n\n{report}\n"
        )
        update_results_md(HERE / "RESULTS.md", latest)


START, END = "<!-- latest run: start -->", "<!-- latest run: end -->"


def update_results_md(path: Path, latest: str) -> None:
    """Replace the text between the markers of RESULTS.md with the latest run; the
    hand-written analysis around them stays."""
    text = path.read_text() if path.exists() else f"# Benchmark results\n\n{START}\n{END}\n"
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    path.write_text(f"{before}{START}\n{latest}{END}{after}")


def table_rows(timings: list[Timing], ceiling_rate: float, best_rate: float) -> list[dict]:
    """One row per workload and implementation, with ratios against the references."""
    rows = []
    for t in timings:
        same = {o.implementation: o for o in timings if o.workload == t.workload}
        row = {
            "workload": t.workload,
            "implementation": t.implementation,
            "median_s": t.median,
            "min_s": min(t.seconds),
            "max_s": max(t.seconds),
            "samples_per_s": t.rate,
        }
        for ref in ("sklearn", "textbook torch"):
            if ref in same and ref != t.implementation:
                row[f"vs {ref}"] = same[ref].median / t.median
        if t.workload.startswith("mnist"):
            row["of ceiling"] = t.rate / ceiling_rate
            row["of best GEMM"] = t.rate / best_rate
            bound = TORCH_GEMMS if "torch" in t.implementation else GEMMS
            if bound in same:
                row["of GEMMs alone"] = t.rate / same[bound].rate
        rows.append(row)
    return rows


def render(rows, gemm, ceiling_rate, best_rate, overhead, e2e, args) -> str:
    """The markdown report: ceiling, the table, loop overhead and end-to-end time."""
    lines = [
        f"GEMM ceiling (NumPy BLAS, {args.threads} threads): float32 {gemm['float32']:.1f} "
        f"GFLOP/s, float64 {gemm['float64']:.1f} GFLOP/s. 784-1000-100-10 needs "
        f"{real_work_flops(MNIST_SIZES) / 1e6:.2f} MFLOP of real work per sample, so the "
        f"float32 ceiling is {ceiling_rate:,.0f} samples/s. The step's own GEMM shapes run at "
        f"up to {gemm['float32_best_shape']:.1f} GFLOP/s ({best_rate:,.0f} samples/s): the "
        f"'of best GEMM' column. '{GEMMS}' runs only the step's matrix products, batch "
        "after batch: the fastest any step can be with NumPy's BLAS at that batch size; "
        f"'{TORCH_GEMMS}' the same with PyTorch's BLAS, the bound of the torch rows in the "
        "'of GEMMs alone' column.",
        "",
        "| workload | implementation | median (min-max) | samples/s | vs sklearn "
        "| vs textbook torch | of ceiling | of best GEMM | of GEMMs alone |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = lambda key, r=r: f"{r[key]:.2f}x" if key in r else "—"  # noqa: E731
        share = lambda key, r=r: f"{r[key]:.0%}" if key in r else "—"  # noqa: E731
        lines.append(
            f"| {r['workload']} | {r['implementation']} | {r['median_s']:.3f} s "
            f"({r['min_s']:.3f}-{r['max_s']:.3f}) | {r['samples_per_s']:,.0f} | "
            f"{ratio('vs sklearn')} | {ratio('vs textbook torch')} | {share('of ceiling')} | "
            f"{share('of best GEMM')} | {share('of GEMMs alone')} |"
        )
    lines += [
        "",
        "mlpx's loop on the digits workload (progress display, steps.csv, metrics.jsonl, "
        "checkpoints):",
    ]
    for backend, o in overhead.items():
        lines.append(
            f"- {backend}: {o['loop_s']:.3f} s in the loop vs {o['raw_s']:.3f} s of bare "
            f"backend calls (medians): {o['overhead']:+.1%} overhead; fastest against "
            f"fastest: {o['overhead_min']:+.1%}"
        )
    lines += ["", "`mlpx train` end to end (start, data, train, plots) on the digits config:"]
    for backend, e in e2e.items():
        lines.append(
            f"- {backend}: {e['wall_s']:.2f} s wall for {e['loop_s']:.2f} s of training loop: "
            f"{e['ratio']:.2f}x"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
