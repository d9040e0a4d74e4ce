"""TensorBoard and MLflow: a run's event files read back with TensorBoard's own
EventAccumulator, its MLflow run found with MLflow's own search in a local store."""

from __future__ import annotations

import os
import shutil
import signal

import pytest
from conftest import REPO, read_json, read_jsonl


def test_tensorboard_event_files_hold_the_runs_numbers_and_plots(cli):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cli.train(REPO / "configs/digits.yaml", "train.epochs=3", "output.tensorboard=true",
              "schedule.name=cosine")  # fmt: skip
    run = cli.last_run()
    assert list(run.glob("events.out.tfevents.*"))
    events = EventAccumulator(str(run), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    tags = events.Tags()
    records = read_jsonl(run / "metrics.jsonl")
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"):
        scalars = events.Scalars(f"epoch/{key}")
        assert [s.step for s in scalars] == [1, 2, 3]
        assert [s.value for s in scalars] == pytest.approx([r[key] for r in records], rel=1e-6)
    lines = (run / "steps.csv").read_text().splitlines()[1:]
    steps = [(int(line.split(",")[0]), float(line.split(",")[2])) for line in lines]
    scalars = events.Scalars("step/loss")
    assert [s.step for s in scalars] == [step for step, _ in steps]
    assert [s.value for s in scalars] == pytest.approx([loss for _, loss in steps], rel=1e-6)
    assert {"plots/loss", "plots/accuracy", "plots/confusion"} <= set(tags["images"])
    hparams = events.PluginTagToContent("hparams")
    assert hparams  # the config and final metrics, for the hparams dashboard
    from tensorboard.plugins.hparams import plugin_data_pb2

    infos = [plugin_data_pb2.HParamsPluginData.FromString(c) for c in hparams.values()]
    session = next(i.session_start_info for i in infos if i.HasField("session_start_info"))
    assert session.hparams["optimizer.lr"].number_value == pytest.approx(0.001)
    assert session.hparams["schedule.name"].string_value == "cosine"


def test_without_tensorboard_asked_no_event_files(cli):
    cli.train(REPO / "configs/digits.yaml", "train.epochs=1", "output.plots=false")
    assert not list(cli.last_run().glob("events.out.tfevents.*"))


def test_a_missing_extra_is_one_line_naming_the_pip_command(cli, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if it were not installed
    result = cli.train(REPO / "configs/digits.yaml", "output.tensorboard=true", expect=2)
    assert result.output == (
        "error: output.tensorboard: needs the tensorboard package, which is not installed; "
        "pip install 'mlpx[tensorboard]'\n"
    )
    assert not cli.runs_dir.exists()


@pytest.mark.slow
def test_mlflow_finds_the_run_its_params_metrics_tags_and_files(cli, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cli.train(REPO / "configs/digits.yaml", "train.epochs=3", "output.plots=false",
              f"output.mlflow={uri}")  # fmt: skip
    run = cli.last_run()
    mlflow.set_tracking_uri(uri)
    (found,) = mlflow.search_runs(experiment_names=["mlpx"], output_format="list")
    summary = read_json(run / "summary.json")
    assert found.info.run_id == summary["mlflow_run_id"] and found.info.status == "FINISHED"
    assert found.data.params["optimizer.lr"] == "0.001"
    assert found.data.params["model.hidden"] == "[32]"
    assert found.data.tags["status"] == "completed" and found.data.tags["dataset"] == "digits"
    assert found.data.tags["backend"] == "torch"
    client = mlflow.tracking.MlflowClient(uri)
    history = client.get_metric_history(found.info.run_id, "val_loss")
    records = read_jsonl(run / "metrics.jsonl")
    assert [(m.step, m.value) for m in history] == [(r["epoch"], r["val_loss"]) for r in records]
    assert found.data.metrics["final_val_acc"] == summary["final"]["val_acc"]
    files = {f.path for f in client.list_artifacts(found.info.run_id)}
    assert {"config.yaml", "metrics.jsonl", "summary.json", "report.txt"} <= files
    # the files sit beside the sqlite database, not in ./mlruns of the working directory
    assert (tmp_path / "mlruns").is_dir() and found.info.artifact_uri.startswith(
        (tmp_path / "mlruns").as_uri()
    )


@pytest.mark.slow
def test_a_resumed_run_goes_on_in_its_mlflow_run_and_logs_each_epoch_once(
    cli, tmp_path, monkeypatch
):
    mlflow = pytest.importorskip("mlflow")
    from mlpx import tracking

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logged = tracking.MlflowTracker.epoch

    def ctrl_c_after_epoch_2(self, record, first_step, losses):
        logged(self, record, first_step, losses)
        if record["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with monkeypatch.context() as patch:
        patch.setattr(tracking.MlflowTracker, "epoch", ctrl_c_after_epoch_2)
        cli.train(REPO / "configs/digits.yaml", "backend=numpy", "train.epochs=3",
                  "output.plots=false", f"output.mlflow={uri}", expect=130)  # fmt: skip
    run = cli.last_run()
    again = shutil.copytree(run, tmp_path / "again")  # to resume once more, below
    first_id = read_json(run / "summary.json")["mlflow_run_id"]
    mlflow.set_tracking_uri(uri)
    (stopped,) = mlflow.search_runs(experiment_names=["mlpx"], output_format="list")
    assert stopped.info.status == "KILLED" and stopped.data.tags["status"] == "interrupted"
    cli("train", "--resume", run, "--epochs", "4")
    summary = read_json(run / "summary.json")
    assert summary["mlflow_run_id"] == first_id and summary["status"] == "completed"
    (found,) = mlflow.search_runs(experiment_names=["mlpx"], output_format="list")
    assert found.info.run_id == first_id and found.info.status == "FINISHED"
    assert found.data.tags["resumed"] == "1" and found.data.tags["status"] == "completed"
    assert found.data.params["train.epochs"] == "3"  # MLflow keeps a param's first value
    client = mlflow.tracking.MlflowClient(uri)
    records = read_jsonl(run / "metrics.jsonl")
    assert [r["epoch"] for r in records] == [1, 2, 3, 4]
    for key in ("train_loss", "val_loss", "val_acc"):
        history = sorted((m.step, m.value) for m in client.get_metric_history(first_id, key))
        assert history == [(r["epoch"], r[key]) for r in records]  # each epoch once
    assert found.data.metrics["final_val_acc"] == summary["final"]["val_acc"]
    # the MLflow run deleted meanwhile: the resume starts a new one and records its id
    client.delete_run(first_id)
    cli("train", "--resume", again)
    (fresh,) = mlflow.search_runs(experiment_names=["mlpx"], output_format="list")
    assert read_json(again / "summary.json")["mlflow_run_id"] == fresh.info.run_id != first_id
    assert "resumed" not in fresh.data.tags and fresh.info.status == "FINISHED"
    history = client.get_metric_history(fresh.info.run_id, "val_loss")
    records = read_jsonl(again / "metrics.jsonl")  # the two epochs before, and the third
    assert sorted((m.step, m.value) for m in history) == [
        (r["epoch"], r["val_loss"]) for r in records
    ]


@pytest.mark.slow
def test_a_sweeps_trials_are_child_runs_of_one_parent(cli, tmp_path):
    mlflow = pytest.importorskip("mlflow")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    runs = tmp_path / "runs"
    cli("sweep", "lr", "--values", "0.1,0.01", "--jobs", "1", "-s", "train.epochs=2",
        "-s", "output.plots=false", "-s", f"output.mlflow={uri}", "--runs-dir", runs)  # fmt: skip
    (sweep,) = runs.iterdir()
    mlflow.set_tracking_uri(uri)
    found = mlflow.search_runs(experiment_names=["mlpx"], output_format="list")
    (parent,) = [r for r in found if "mlpx.group_dir" in r.data.tags]
    assert parent.info.run_name == sweep.name
    children = [r for r in found if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    trial_ids = {
        read_json(p / "summary.json")["mlflow_run_id"] for p in (sweep / "trials").iterdir()
    }
    assert {r.info.run_id for r in children} == trial_ids and len(trial_ids) == 2
    assert {r.data.params["optimizer.lr"] for r in children} == {"0.1", "0.01"}
