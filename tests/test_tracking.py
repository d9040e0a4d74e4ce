"""TensorBoard: a run's event files read back with TensorBoard's own EventAccumulator."""

from __future__ import annotations

import pytest
from conftest import REPO, read_jsonl

pytest.importorskip("tensorboard")


def test_tensorboard_event_files_hold_the_runs_numbers_and_plots(cli):
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
