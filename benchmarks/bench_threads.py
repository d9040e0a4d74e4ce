"""threads: auto against 1 and 2 threads, on a quiet machine and beside a busy process.

    python benchmarks/bench_threads.py               # 6 epochs, 2 repeats
    python benchmarks/bench_threads.py --quick       # 2 epochs, 1 repeat: checks it runs

An MNIST-size step (784-1000-100-10, batch 128, float32, SGD) on random data of MNIST's shape
(12,800 training rows: 100 steps an epoch), run as a user runs it: `mlpx train` in a
subprocess for each setting (threads are per process), for both backends, with the machine
as it is ("quiet") and with one busy-loop process beside it ("busy", a second Python
spinning `while True: pass`, started half a second before the run). A run's epoch time is
the median of its epochs' `seconds` in metrics.jsonl, so start-up does not count, and its
env.json says how many threads `auto` took. The settings run in interleaved rounds.

Target (issue 17): `auto` is never more than 1.2x slower than the better of 1 and 2 threads,
quiet or busy. Writes benchmarks/results/threads-<date>-<host>.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from results_file import write_results

HERE = Path(__file__).resolve().parent
ROWS, FEATURES, CLASSES = 16_000, 784, 10  # 80% train: 12,800 rows, 100 batches of 128


def make_data(path: Path) -> None:
    """Random inputs and labels of MNIST's shape, as an npz mlpx reads."""
    rng = np.random.default_rng(0)
    x = rng.random((ROWS, FEATURES), dtype=np.float32)
    np.savez(path, data_x=x, data_y=rng.integers(0, CLASSES, ROWS))


def train(data: Path, runs: Path, backend: str, threads: str, epochs: int) -> dict:
    """One `mlpx train`: its median epoch time and the threads it used."""
    sets = [
        f"backend={backend}",
        f"threads={threads}",
        "data.name=npz",
        f"data.path={data}",
        "data.val_fraction=0.2",
        "model.hidden=[1000,100]",
        "optimizer.name=sgd",
        "optimizer.lr=0.01",
        "train.batch_size=128",
        f"train.epochs={epochs}",
        "dtype=float32",
        "device=cpu",
        "output.plots=false",
    ]
    before = set(runs.glob("*")) if runs.exists() else set()
    subprocess.run(
        [sys.executable, "-m", "mlpx", "train", "configs/digits.yaml", "--runs-dir", str(runs)]
        + [item for s in sets for item in ("-s", s)],
        cwd=HERE.parent,
        check=True,
        capture_output=True,
        env=os.environ | {"PYTHONPATH": str(HERE.parent)},
    )
    (run,) = set(runs.glob("*")) - before
    epochs_s = [json.loads(line)["seconds"] for line in (run / "metrics.jsonl").open()]
    env = json.loads((run / "env.json").read_text())
    return {"epoch_s": statistics.median(epochs_s), "threads": env["threads"]}


def busy_loop() -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.5)
    return process


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--quick", action="store_true", help="2 epochs, 1 repeat")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.repeats = 2, 1

    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="mlpx-bench-threads-") as tmp:
        data = Path(tmp) / "mnist-shaped.npz"
        make_data(data)
        for repeat in range(args.repeats):
            for load in ("quiet", "busy"):
                for backend in ("numpy", "torch"):
                    for threads in ("1", "2", "auto"):
                        spinner = busy_loop() if load == "busy" else None
                        try:
                            done = train(data, Path(tmp) / "runs", backend, threads, args.epochs)
                        finally:
                            if spinner is not None:
                                spinner.kill()
                                spinner.wait()
                        done |= {"load": load, "backend": backend, "setting": threads}
                        runs.append(done | {"repeat": repeat})
                        print(
                            f"{load:5} {backend:5} threads={threads:4} {done['epoch_s']:.3f} s "
                            f"an epoch ({done['threads']} thread(s))",
                            flush=True,
                        )

    table = []
    for load in ("quiet", "busy"):
        for backend in ("numpy", "torch"):
            cell = {}
            for threads in ("1", "2", "auto"):
                mine = [r for r in runs if (r["load"], r["backend"], r["setting"]) == (
                    load, backend, threads)]  # fmt: skip
                cell[threads] = statistics.median(r["epoch_s"] for r in mine)
                cell[f"{threads} took"] = sorted({r["threads"] for r in mine})
            best = min(cell["1"], cell["2"])
            cell["auto / best fixed"] = cell["auto"] / best
            table.append({"load": load, "backend": backend} | cell)
    path = write_results(
        args.out,
        "threads",
        args.quick,
        {
            "epochs": args.epochs,
            "repeats": args.repeats,
            "target": "auto / best fixed <= 1.2",
            "table": table,
            "runs": runs,
        },
    )
    print("\n| load | backend | 1 thread | 2 threads | auto (took) | auto / best fixed |")
    print("|---|---|---|---|---|---|")
    for row in table:
        print(
            f"| {row['load']} | {row['backend']} | {row['1']:.3f} s | {row['2']:.3f} s | "
            f"{row['auto']:.3f} s ({', '.join(map(str, row['auto took']))}) | "
            f"{row['auto / best fixed']:.2f} |"
        )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
