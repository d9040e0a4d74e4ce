"""Parallel sweep speed-up: the 5-value learning-rate sweep with --jobs 2 against --jobs 1.

    python benchmarks/bench_sweep.py                 # 50 epochs, 2 repeats (about 3 minutes)
    python benchmarks/bench_sweep.py --epochs 10     # shorter

Runs `mlpx sweep lr` (1e-1 .. 1e-5 on the default digits config) as a user does, in a
subprocess, alternating --jobs 2 and --jobs 1 for --repeats rounds, and times each from start
to exit (Python start-up, trial processes, plots: all of it). The target on a 2-core machine
is a ratio jobs2/jobs1 <= 0.6; note that five equal trials on two workers need three rounds,
so 3/5 = 0.6 bounds the trials themselves (--seeds 2 gives ten trials, bound 0.5). Other
load on the machine skews both: the load average before and after every sweep is recorded.
Writes benchmarks/results/sweep-<date>-<host>.json.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run_sweep(jobs: int, epochs: int, seeds: int, runs_dir: Path) -> dict:
    """One `mlpx sweep lr` with ``jobs`` parallel trials: wall time and each trial's."""
    load_before = os.getloadavg()
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mlpx", "sweep", "lr", "--jobs", str(jobs)]
        + ["--seeds", str(seeds), "-s", f"train.epochs={epochs}", "--runs-dir", str(runs_dir)],
        cwd=HERE.parent,
        check=True,
        capture_output=True,
        env=os.environ | {"PYTHONPATH": str(HERE.parent)},
    )
    wall = time.perf_counter() - start
    (sweep_dir,) = runs_dir.glob("sweep-lr-*")
    with open(sweep_dir / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {
        "jobs": jobs,
        "wall_s": wall,
        "trial_wall_s": [float(r["wall_seconds"]) for r in rows],
        "trial_train_s": [float(r["seconds"]) for r in rows],
        "statuses": [r["status"] for r in rows],
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=50, help="train.epochs of every trial")
    parser.add_argument("--repeats", type=int, default=2, help="rounds of jobs 2 and jobs 1")
    parser.add_argument(
        "--seeds", type=int, default=1, help="seeds per value (2: ten trials, an even count)"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()

    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="mlpx-bench-sweep-") as tmp:
        for repeat in range(args.repeats):
            for jobs in (2, 1):
                runs_dir = Path(tmp) / f"{repeat}-{jobs}"
                runs.append(run_sweep(jobs, args.epochs, args.seeds, runs_dir))
                done = runs[-1]
                print(
                    f"jobs {jobs}: {done['wall_s']:6.1f} s  (load {done['load_before'][0]:.2f}"
                    f" -> {done['load_after'][0]:.2f})",
                    flush=True,
                )
    median = {
        jobs: statistics.median(r["wall_s"] for r in runs if r["jobs"] == jobs) for jobs in (2, 1)
    }
    ratio = median[2] / median[1]
    stamp = datetime.now()
    result = {
        "date": stamp.isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "command": f"mlpx sweep lr --jobs N --seeds {args.seeds} -s train.epochs={args.epochs}",
        "values": [0.1, 0.01, 0.001, 0.0001, 1e-05],
        "epochs": args.epochs,
        "seeds": args.seeds,
        # five equal trials on two workers take three rounds: 3/5 of the serial trial time is
        # the best --jobs 2 can do before start-up and the final plots are counted
        "ideal_trial_ratio": math.ceil(5 * args.seeds / 2) / (5 * args.seeds),
        "median_wall_s": {f"jobs{jobs}": seconds for jobs, seconds in median.items()},
        "ratio_jobs2_over_jobs1": ratio,
        "runs": runs,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"sweep-{stamp:%Y%m%d-%H%M%S}-{socket.gethostname()}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"median wall time: jobs 2 {median[2]:.1f} s, jobs 1 {median[1]:.1f} s; "
        f"ratio jobs2/jobs1 = {ratio:.2f} (target <= 0.6); wrote {path}"
    )


if __name__ == "__main__":
    main()
