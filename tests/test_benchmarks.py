"""The benchmark script still runs (in --quick mode) and writes what it promises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO


def run_quick(script: str, out: Path, timeout: int) -> subprocess.CompletedProcess:
    """``python benchmarks/SCRIPT.py --quick --out OUT`` as a user runs it; it must succeed."""
    done = subprocess.run(
        [sys.executable, f"benchmarks/{script}.py", "--quick", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ | {"PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.slow
def test_quick_benchmark_runs_and_writes_its_results(tmp_path):
    out = run_quick("bench_train", tmp_path, timeout=600)
    assert "GEMM ceiling" in out.stdout and "| mnist-b256 | mlpx numpy |" in out.stdout
    (result,) = tmp_path.glob("*-quick.json")
    data = json.loads(result.read_text())
    assert data["gemm_gflops"]["float32"] > 0
    implementations = {(r["workload"], r["implementation"]) for r in data["table"]}
    for workload in ("mnist-b64", "mnist-b256", "digits"):
        for impl in ("mlpx numpy", "mlpx torch", "sklearn", "textbook torch"):
            assert (workload, impl) in implementations
    assert all(r["samples_per_s"] > 0 for r in data["table"])
    assert set(data["end_to_end"]) == {"torch", "numpy"}


@pytest.mark.slow
def test_quick_sweep_benchmark_runs_and_writes_its_ratios(tmp_path):
    out = run_quick("bench_sweep", tmp_path, timeout=900)
    (result,) = tmp_path.glob("sweep-*-quick.json")
    data = json.loads(result.read_text())
    assert set(data["ratios"]) == {
        "numpy stacked / process",
        "torch stacked / process",
        "hidden jobs2 / jobs1",
    }
    assert all(value > 0 for value in data["ratios"].values())
    assert all(status == "completed" for run in data["runs"] for status in run["statuses"])
    assert len(data["runs"]) == 6 and "| numpy stacked / process |" in out.stdout


@pytest.mark.slow
def test_regression_benchmark_runs_and_writes_its_results(tmp_path):
    out = run_quick("bench_regression", tmp_path, timeout=600)
    assert "| mlpx numpy |" in out.stdout and "| sklearn |" in out.stdout
    (result,) = tmp_path.glob("regression-*-quick.json")
    data = json.loads(result.read_text())
    assert set(data["r2"]) == {"mlpx numpy", "mlpx torch", "sklearn"}
    assert all(len(scores) == 2 for scores in data["r2"].values())
    # the backends compute the same model: their R² agree to float32 rounding
    assert data["r2"]["mlpx numpy"] == pytest.approx(data["r2"]["mlpx torch"], abs=1e-4)
    assert data["minus_sklearn"]["mlpx torch"] == pytest.approx(
        data["mean"]["mlpx torch"] - data["mean"]["sklearn"]
    )


@pytest.mark.slow
def test_threads_benchmark_runs_and_auto_takes_one_thread_beside_a_busy_process(tmp_path):
    out = run_quick("bench_threads", tmp_path, timeout=900)
    (result,) = tmp_path.glob("threads-*-quick.json")
    data = json.loads(result.read_text())
    cells = {(row["load"], row["backend"]): row for row in data["table"]}
    assert set(cells) == {(load, b) for load in ("quiet", "busy") for b in ("numpy", "torch")}
    for row in data["table"]:
        assert row["1 took"] == [1] and row["2 took"] == [2]
        assert row["auto / best fixed"] == pytest.approx(row["auto"] / min(row["1"], row["2"]))
    # a spinning process holds one of this machine's cores: auto sees it and takes one fewer
    cores = len(os.sched_getaffinity(0))
    for backend in ("numpy", "torch"):
        assert cells[("busy", backend)]["auto took"] == [max(1, min(cores, 2) - 1)] or cores > 2
    assert "| busy | torch |" in out.stdout
