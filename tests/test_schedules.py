"""Learning-rate schedules: the rates of torch.optim.lr_scheduler, on both backends, in the
metrics, through a resume; one-line errors for settings a schedule does not take."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import read_json, read_jsonl
from test_parity import assert_backends_agree

from mlpx.config import build_config
from mlpx.errors import ConfigError
from mlpx.schedules import SCHEDULES, build_schedule
from mlpx.train import Trainer, schedule_for

LR, EPOCHS, STEPS = 0.1, 14, 5


def torch_rates(make, epochs=EPOCHS, per_step=False, losses=None):
    """The lr torch.optim's scheduler ``make(optimizer)`` gives every epoch (first step)."""
    w = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=LR)
    scheduler = make(optimizer)
    rates = []
    for epoch in range(epochs):
        for _ in range(STEPS if per_step else 1):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            if per_step:
                scheduler.step()
        if losses is not None:
            scheduler.step(losses[epoch])
        elif not per_step:
            scheduler.step()
    return rates


def our_rates(name, settings, warmup=0, per_step=False, losses=None):
    full = {key: settings.get(key, default) for key, default in SCHEDULES[name].settings.items()}
    schedule = build_schedule(name, full, warmup, LR, EPOCHS, STEPS)
    rates = []
    for epoch in range(1, EPOCHS + 1):
        rates += [schedule.rate(epoch, step) for step in range(STEPS if per_step else 1)]
        if losses is not None:
            schedule.observe({"epoch": epoch, "val_loss": losses[epoch - 1]})
    return rates


S = torch.optim.lr_scheduler
CASES = {
    "constant": ({}, lambda o: S.ConstantLR(o, factor=1.0)),
    "step": ({"step_size": 4, "gamma": 0.5}, lambda o: S.StepLR(o, 4, gamma=0.5)),
    "multistep": ({"milestones": [3, 7, 8]}, lambda o: S.MultiStepLR(o, [3, 7, 8], gamma=0.1)),
    "exponential": ({"gamma": 0.8}, lambda o: S.ExponentialLR(o, 0.8)),
    "cosine": ({"min_lr": 0.01}, lambda o: S.CosineAnnealingLR(o, EPOCHS, eta_min=0.01)),
}


@pytest.mark.parametrize("name", CASES)
def test_rates_equal_torch_lr_scheduler(name):
    settings, make = CASES[name]
    np.testing.assert_allclose(our_rates(name, settings), torch_rates(make), rtol=1e-12)


@pytest.mark.parametrize("name", ["step", "cosine"])
def test_a_warmup_in_front_equals_sequential_lr(name):
    settings, _ = CASES[name]
    warmup = 3
    main = {
        "step": lambda o: S.StepLR(o, 4, gamma=0.5),
        "cosine": lambda o: S.CosineAnnealingLR(o, EPOCHS - warmup, eta_min=0.01),
    }[name]

    def make(o):
        linear = S.LinearLR(o, start_factor=1 / warmup, total_iters=warmup - 1)
        return S.SequentialLR(o, [linear, main(o)], milestones=[warmup])

    expected = torch_rates(make)
    assert expected[:3] == pytest.approx([LR / 3, 2 * LR / 3, LR])
    np.testing.assert_allclose(our_rates(name, settings, warmup), expected, rtol=1e-12)


def test_cosine_per_step_equals_torch_stepped_every_batch():
    expected = torch_rates(lambda o: S.CosineAnnealingLR(o, EPOCHS * STEPS), per_step=True)
    ours = our_rates("cosine", {"per": "step"}, per_step=True)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-15)


def test_plateau_equals_reduce_lr_on_plateau():
    losses = [1.0, 0.9, 0.9, 0.95, 0.89999, 0.9, 0.91, 0.5, 0.6, 0.6, 0.6, 0.6, 0.4, 0.4]
    expected = torch_rates(
        lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=1, min_lr=0.02), losses=losses
    )
    ours = our_rates("plateau", {"factor": 0.5, "patience": 1, "min_lr": 0.02}, losses=losses)
    assert ours == expected and min(ours) == 0.02  # it reached its floor


DIGITS = ("optimizer.name=momentum", "optimizer.lr=0.05", "model.hidden=[16]")


def test_both_backends_follow_a_per_step_schedule_and_metrics_show_it(cli):
    overrides = [*DIGITS, "schedule.name=cosine", "schedule.per=step", "schedule.warmup_epochs=2"]
    assert_backends_agree(cli, overrides)
    lrs = [r["lr"] for r in read_jsonl(cli.last_run() / "metrics.jsonl")]
    assert lrs[:3] == [0.025, 0.05, 0.05] and lrs[3] < lrs[2]  # warmup, then the cosine


def run_until(config, epochs, runs_dir):
    """A run stopped as Ctrl-C stops it, right after epoch ``epochs``'s files are written."""

    class StopAfter:
        def on_start(self, *args):
            pass

        def on_step(self, epoch, step):
            pass

        def on_epoch(self, record):
            if record["epoch"] == epochs:
                raise KeyboardInterrupt

    return Trainer(config, StopAfter()).run(runs_dir)


def test_plateau_watches_validation_loss_and_a_resume_continues_it_exactly(cli, tmp_path):
    data = {
        "name": "plateau",
        "backend": "numpy",
        "optimizer": {"name": "momentum", "lr": 0.3},
        "schedule": {"name": "plateau", "factor": 0.5, "patience": 0},
        "train": {"epochs": 12},
        "output": {"plots": False},
    }
    config = build_config(data)
    whole = Trainer(config).run(tmp_path / "whole")
    lrs = [r["lr"] for r in whole.history]
    assert lrs[0] == 0.3 and len(set(lrs)) >= 3  # it reduced the rate more than once
    for before, after, record in zip(lrs, lrs[1:], whole.history, strict=False):
        earlier = [r["val_loss"] for r in whole.history[: record["epoch"] - 1]]
        worse = bool(earlier) and record["val_loss"] >= min(earlier) * (1 - 1e-4)
        assert after == (before * 0.5 if worse else before)  # patience 0: each bad epoch halves

    stopped = run_until(config, 5, tmp_path / "stopped")
    assert stopped.status == "interrupted"
    cli("train", "--resume", stopped.run_dir)
    resumed = read_jsonl(stopped.run_dir / "metrics.jsonl")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(resumed) == strip(whole.history)
    assert read_json(stopped.run_dir / "summary.json")["status"] == "completed"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["schedule.name=step"], "schedule.step_size: schedule step needs step_size"),
        (
            ["schedule.name=cosine", "schedule.gamma=0.5"],
            "schedule.gamma: schedule cosine does not take gamma; it takes min_lr, per "
            "(and warmup_epochs, as every schedule)",
        ),
        (
            ["schedule.name=multistep", "schedule.milestones=[5,3]"],
            "schedule.milestones: [5, 3] is not allowed: milestones must be increasing epochs "
            ">= 1, e.g. [30, 60]",
        ),
        (
            ["schedule.name=plateau", "data.val_fraction=0"],
            "schedule.name: plateau watches the validation loss; set data.val_fraction > 0",
        ),
        (
            ["schedule.name=cosin"],
            "schedule.name: 'cosin' is not allowed; did you mean 'cosine'? expected one of "
            "constant, step, multistep, exponential, cosine, plateau",
        ),
        (
            ["schedule.name=step", "schedule.step_size=3", "optimizer.lr_decay=0.9"],
            "optimizer.lr_decay: 0.9 is the exponential schedule, and schedule.name is step; "
            "set lr_decay: 1, or use schedule: {name: exponential, gamma: 0.9} alone",
        ),
    ],
)
def test_schedule_mistakes_are_one_line(overrides, message):
    """The whole message: the key path once (a schedule's own check named it
    schedule.schedule.step_size), what is wrong and what to do."""
    with pytest.raises(ConfigError) as error:
        build_config({}, overrides)
    assert str(error.value) == message


def test_lr_decay_is_still_the_exponential_schedule():
    config = build_config({}, ["optimizer.lr_decay=0.5", "train.epochs=3"])
    schedule = schedule_for(config, steps_per_epoch=4)
    assert [schedule.rate(e, 0) for e in (1, 2, 3)] == [1e-3, 5e-4, 2.5e-4]


def test_a_warmup_longer_than_the_run_is_warned_of_and_one_as_long_is_not():
    import warnings

    from mlpx.errors import ConfigWarning

    def config(warmup: int):
        return {"train": {"epochs": 3}, "schedule": {"name": "constant", "warmup_epochs": warmup}}

    with pytest.warns(ConfigWarning) as caught:
        build_config(config(10))
    assert [str(w.message) for w in caught] == [
        "schedule.warmup_epochs: 10 is more than train.epochs 3: the rate rises all run and "
        "never reaches optimizer.lr 0.001"
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConfigWarning)
        built = build_config(config(3))  # its last epoch trains at optimizer.lr
    rates = [schedule_for(built, 1).rate(epoch, 0) for epoch in (1, 2, 3)]
    assert rates == pytest.approx([1e-3 / 3, 2e-3 / 3, 1e-3])
