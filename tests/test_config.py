"""Config validation: every kind of mistake is exit code 2 and one line naming key and value."""

from __future__ import annotations

import pytest

from mlpx.config import build_config, dump_config, load_config, parse_yaml
from mlpx.errors import ConfigError

MISTAKES = [
    (["optimizer.lrr=0.1"], "optimizer.lrr: unknown key; did you mean 'optimizer.lr'?"),
    (["lr=0.1"], "did you mean 'optimizer.lr'?"),
    (["optimizer.lr=-0.1"], "optimizer.lr: -0.1 is not allowed; expected a number > 0"),
    (["optimizer.lr=abc"], "optimizer.lr: 'abc' is not allowed; expected a number"),
    (["model.dropout=1.0", "model.kind=complex"], "model.dropout: 1.0 is not allowed"),
    (["model.hidden=[]"], "model.hidden: [] is not allowed; expected a non-empty list"),
    (["model.hidden=[32,0]"], "model.hidden: [32, 0] is not allowed"),
    (["train.batch_size=0"], "train.batch_size: 0 is not allowed; expected an integer >= 1"),
    (["train.epochs=2.5"], "train.epochs: 2.5 is not allowed; expected an integer"),
    (["optimizer.name=adamm"], "expected one of sgd, momentum, nesterov, adam, adamw"),
    (["device=gpu"], "device: 'gpu' is not allowed; expected auto, cpu, cuda or cuda:N"),
    (["seed=true"], "seed: True is not allowed; expected an integer"),
    (["optimizer=3"], "optimizer: expected a section"),
    (["data.name=npz"], "data.path: data.name npz needs data.path"),
    (["model.dropout=0.5"], "dropout applies to model.kind complex only"),
    (["backend=numpy", "device=cuda"], "the numpy backend runs on the CPU only"),
    (["data.val_fraction=1"], "data.val_fraction: 1 is not allowed"),
    (["nokey"], "expected key=value"),
    (["model.hidden.x=1"], "model.hidden is a value, not a section"),
    (["name=a/b"], "name: 'a/b' is not allowed"),
]


@pytest.mark.parametrize(("overrides", "expected"), MISTAKES)
def test_each_mistake_is_one_clear_line_with_exit_2(cli, overrides, expected):
    sets = [item for o in overrides for item in ("-s", o)]
    result = cli("train", "configs/digits.yaml", *sets, expect=2)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert not cli.runs_dir.exists()  # nothing was started


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("optimizer: {lr: 0.1\n", "invalid YAML"),
        ("- a\n- b\n", "must be a YAML mapping"),
        ("model:\n  hiden: [3]\n", "model.hiden: unknown key; did you mean 'model.hidden'?"),
        (b"name: \xff\xfe\n", "not UTF-8"),
    ],
)
def test_bad_files_are_one_line(cli, tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    result = cli("train", path, expect=2)
    assert len(result.output.strip().splitlines()) == 1
    assert expected in result.output


def test_missing_file_and_directory(cli, tmp_path):
    assert "no such config file" in cli("train", tmp_path / "nope.yaml", expect=2).output
    assert "is a directory" in cli("train", tmp_path, expect=2).output


def test_overrides_parse_as_yaml_and_scalars_become_lists():
    config = build_config({}, ["model.hidden=[64,32]", "optimizer.lr=1e-2", "train.epochs=3"])
    assert config.model.hidden == [64, 32]
    assert config.optimizer.lr == 0.01
    assert build_config({}, ["model.hidden=64"]).model.hidden == [64]


def test_yaml_reads_exponent_floats_without_a_dot():
    assert parse_yaml("lr: 1e-3", "x") == {"lr": 0.001}


def test_resolved_config_round_trips(tmp_path):
    config = load_config("configs/digits-complex.yaml", ["optimizer.lr=0.01"])
    path = tmp_path / "resolved.yaml"
    path.write_text(dump_config(config))
    assert load_config(path) == config


def test_defaults_are_the_design_defaults():
    config = build_config({})
    assert (config.data.name, config.model.hidden) == ("digits", [32])
    assert config.optimizer.name == "adam"
    assert (config.optimizer.lr, config.train.epochs, config.train.batch_size) == (1e-3, 50, 64)
    with pytest.raises(ConfigError):
        build_config({"train": {"early_stop": 3}})
