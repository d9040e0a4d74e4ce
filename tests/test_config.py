"""Config validation: every kind of mistake is exit code 2 and one line naming key and value."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from conftest import REPO
from pydantic import model_serializer
from pydantic_core import PydanticSerializationError

from mlpx.config import Config, build_config, dump_config, load_config, parse_yaml
from mlpx.errors import ConfigError, ConfigWarning
from mlpx.optimizers import OPTIMIZERS

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
    (
        ["optimizer.momentum=0.9"],
        "optimizer.momentum: adam does not take momentum; adam takes lr, betas, eps, "
        "weight_decay, amsgrad",
    ),
    (
        ["optimizer.name=sgd", "optimizer.momentum=-1"],
        "optimizer.momentum: -1 is not allowed; expected a number >= 0 and < 1",
    ),
    (["device=gpu"], "device: 'gpu' is not allowed; expected auto, cpu, cuda or cuda:N"),
    (["seed=true"], "seed: true is not allowed; expected an integer"),
    (
        ["train.early_stopping=yes"],
        "train.early_stopping: true is not allowed; expected an integer or null >= 1",
    ),
    (
        ["model=null"],
        "model: expected a section (mapping) with keys kind, hidden, activation, dropout, "
        "batchnorm, init, init_std, got null",
    ),
    (["optimizer=3"], "optimizer: expected a section"),
    (["data.name=npz"], "data.path: data.name npz needs data.path"),
    (["model.dropout=0.5"], "dropout applies to model.kind complex only"),
    (["backend=numpy", "device=cuda"], "the numpy backend runs on the CPU only"),
    (["data.val_fraction=1"], "data.val_fraction: 1 is not allowed"),
    (["nokey"], "override 'nokey': expected key=value, e.g. optimizer.lr=0.01"),
    (["model..hidden=1"], "override 'model..hidden=1': 'model..hidden' is not a dotted key path"),
    (["optimizer.LR=1"], "optimizer.LR: unknown key; allowed here: name, lr,"),
    (["model.hidden=[1,"], "override model.hidden: invalid YAML (line 1, column 4)"),
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
        (
            "- a\n- b\n",
            "a config must be a YAML mapping of keys (name:, data:, model:, ...), not a list",
        ),
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
    # the first "=" ends the key: a value may hold one
    assert build_config({}, ["output.runs_dir=runs/lr=0.1"]).output.runs_dir == "runs/lr=0.1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a: [1,",
            "x.yaml: invalid YAML (line 1, column 7): expected the node content, but "
            "found '<stream end>'",
        ),
        # the reader's error has no position mark: the line says what, without where
        (
            "a: \x07",
            "x.yaml: invalid YAML: unacceptable character #x0007: special characters "
            "are not allowed",
        ),
    ],
)
def test_invalid_yaml_is_one_line_with_where_when_the_parser_knows(text, expected):
    with pytest.raises(ConfigError) as error:
        parse_yaml(text, "x.yaml")
    assert str(error.value) == expected


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


# --- the optimizer section: the chosen optimizer's hyperparameters, torch.optim's defaults ----


def test_sgd_with_momentum_is_sgd_with_momentum():
    optimizer = build_config({"optimizer": {"name": "sgd", "lr": 0.01, "momentum": 0.9}}).optimizer
    assert (optimizer.lr, optimizer.lr_decay) == (0.01, 1.0)
    assert optimizer.hyperparameters == {
        "momentum": 0.9,
        "dampening": 0.0,
        "nesterov": False,
        "weight_decay": 0.0,
    }


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_resolved_config_writes_exactly_the_optimizers_hyperparameters(name):
    entry = OPTIMIZERS[name]
    config = build_config({"optimizer": {"name": name}})
    section = parse_yaml(dump_config(config), "resolved")["optimizer"]
    declared = {
        h.name: list(h.default) if isinstance(h.default, tuple) else h.default
        for h in entry.hyperparameters
    }
    assert section == {"name": name, "lr": entry.lr, "lr_decay": 1.0} | declared
    assert build_config(parse_yaml(dump_config(config), "resolved")) == config


def test_adamw_decays_weights_by_default():
    assert (
        build_config({"optimizer": {"name": "adamw"}}).optimizer.hyperparameters["weight_decay"]
        == 0.01
    )


@pytest.mark.parametrize(
    ("optimizer", "message"),
    [
        ({"name": "adam", "momentum": 0.9}, "optimizer.momentum: adam does not take momentum"),
        ({"name": "rmsprop", "betas": [0.9, 0.99]}, "rmsprop takes lr, alpha, eps, weight_decay"),
        ({"name": "adam", "beta": 0.9}, "optimizer.beta: unknown key; did you mean 'optimizer."),
        ({"name": "sgd", "nesterov": "yes"}, "optimizer.nesterov: 'yes' is not allowed; expected"),
        ({"name": "adam", "betas": [0.9, 1.0]}, "expected a pair of numbers like [0.9, 0.999]"),
        ({"name": "adamax", "eps": True}, "optimizer.eps: true is not allowed; expected a number"),
    ],
)
def test_optimizer_mistakes_name_the_key_and_what_the_optimizer_takes(optimizer, message):
    with pytest.raises(ConfigError) as error:
        build_config({"optimizer": optimizer})
    assert message in str(error.value)
    assert "\n" not in str(error.value)


ADAM_KEYS = "name, lr, lr_decay, betas, eps, weight_decay, amsgrad"  # torch.optim.Adam's, + ours


@pytest.mark.parametrize(
    ("optimizer", "message"),
    [
        # a slip of a key this optimizer takes
        ({"name": "adam", "betass": 1}, "unknown key; did you mean 'optimizer.betas'? "),
        # a slip of another optimizer's key: the spelling is suggested (the next message
        # then says that adam does not take it)
        ({"name": "adam", "momentun": 1}, "unknown key; did you mean 'optimizer.momentum'? "),
        ({"name": "adam", "dampenin": 1}, "unknown key; did you mean 'optimizer.dampening'? "),
        # nothing near: no guess
        ({"name": "adam", "zzz": 1}, "unknown key; "),
        ({"name": "adam", "warmup_steps": 1}, "unknown key; "),
    ],
)
def test_an_unknown_optimizer_key_gets_the_nearest_spelling_and_the_keys_allowed(
    optimizer, message
):
    """The whole message: a guess only where one is near (difflib's ratio >= 0.6), first
    from the keys allowed here, then from other optimizers' keys."""
    (key,) = set(optimizer) - {"name"}
    with pytest.raises(ConfigError) as error:
        build_config({"optimizer": optimizer})
    assert str(error.value) == f"optimizer.{key}: {message}allowed here: {ADAM_KEYS}"


OLD_RUN_CONFIG = """\
name: old
seed: 0
backend: numpy
device: auto
dtype: float32
threads: auto
loss: cross_entropy
data: {name: digits, root: ~/.cache/mlpx, download: true, path: null, val_fraction: 0.2,
  folds: null, fold: null, limit: null, normalize: standard}
model: {kind: simple, hidden: [32], activation: relu, dropout: 0.0, batchnorm: true,
  init: kaiming, init_std: 0.01}
optimizer: {name: NAME, lr: 0.01, momentum: MOMENTUM, weight_decay: 0.0, lr_decay: 1.0}
regularization: {l1: 0.0, l2: 0.0}
train: {epochs: 2, batch_size: 64, early_stopping: null}
output: {runs_dir: runs, plots: true}
"""


@pytest.mark.parametrize(
    ("name", "momentum", "expected"),
    [
        ("adam", 0.9, {}),
        ("sgd", 0.9, {"momentum": 0.0}),  # that version trained plain SGD
        ("rmsprop", 0.5, {"momentum": 0.0}),
        ("momentum", 0.8, {"momentum": 0.8}),
        ("nesterov", 0.9, {"momentum": 0.9}),
        ("adamw", 0.9, {"weight_decay": 0.0}),  # written then; AdamW's default now is 0.01
    ],
)
def test_a_run_directory_of_the_old_schema_loads_as_it_trained(tmp_path, name, momentum, expected):
    path = tmp_path / "config.yaml"
    path.write_text(OLD_RUN_CONFIG.replace("NAME", name).replace("MOMENTUM", str(momentum)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optimizer = load_config(path).optimizer
    # where the optimizer takes momentum now, dropping it changes what the file seems to say
    said = [str(w.message) for w in caught if issubclass(w.category, ConfigWarning)]
    assert len(said) == (name in ("sgd", "rmsprop"))
    assert said == [
        f"optimizer.momentum: {momentum} is ignored: this config was written by an older "
        f"mlpx, whose {name} took no momentum, and trains as it did; to use momentum, write "
        "the optimizer section anew"
    ] * len(said)
    assert optimizer.name == name and optimizer.lr == 0.01
    assert optimizer.hyperparameters.items() >= expected.items()
    assert "momentum" in optimizer.hyperparameters or "momentum" not in expected


@pytest.mark.parametrize(
    ("section", "name", "expected"),
    [
        # no name: the section is adam's, and adam's default eps gives way to adadelta's
        ({"eps": 1e-8}, "adadelta", {"eps": 1e-6}),
        # adam's betas are not in the section: its eps, after them, still gives way
        ({"name": "adam", "eps": 1e-8}, "adadelta", {"eps": 1e-6}),
        # momentum 1.5 is not sgd's (< 1) but rmsprop's: kept; sgd's dampening, at its
        # default and after it, is dropped (rmsprop takes none)
        ({"name": "sgd", "momentum": 1.5, "dampening": 0.0}, "rmsprop", {"momentum": 1.5}),
        # an optimizer mlpx no longer has: nothing of it to forget, the override replaces it
        ({"name": "gone", "lr": 0.5}, "adam", {"eps": 1e-8}),
    ],
)
def test_an_override_of_the_optimizer_forgets_each_default_of_the_previous_one(
    section, name, expected
):
    hyperparameters = build_config({"optimizer": section}, [f"optimizer.name={name}"]).optimizer
    assert hyperparameters.name == name
    assert hyperparameters.hyperparameters.items() >= expected.items()
    assert "dampening" not in hyperparameters.hyperparameters


@pytest.mark.parametrize("name", ["[1]", "5", "adamm"])
def test_an_override_of_the_optimizer_by_no_optimizers_name_is_told_so(name):
    resolved = build_config({}).to_dict()
    with pytest.raises(ConfigError) as error:
        build_config(resolved, [f"optimizer.name={name}"])
    near = "did you mean 'adam'? " if name == "adamm" else ""
    shown = f"'{name}'" if name == "adamm" else name
    assert str(error.value) == (
        f"optimizer.name: {shown} is not allowed; {near}expected one of {', '.join(OPTIMIZERS)}"
    )


def test_a_run_directory_of_the_old_schema_naming_an_optimizer_now_gone_is_told_so(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(OLD_RUN_CONFIG.replace("NAME", "lbfgs").replace("MOMENTUM", "0.9"))
    with pytest.raises(ConfigError, match=r"^optimizer.name: 'lbfgs' is not allowed; expected"):
        load_config(path)


def test_the_old_schema_is_told_by_every_top_level_key_of_that_version_and_no_fewer():
    """The upgrade on its own (Config adds ``task`` before it runs): the exact key set of an
    old run directory is upgraded; one key short, it is a config of today's."""
    import yaml

    from mlpx.config import upgrade_old_optimizer_section

    old = yaml.safe_load(OLD_RUN_CONFIG.replace("NAME", "adam").replace("MOMENTUM", "0.9"))
    upgraded = upgrade_old_optimizer_section(old)
    assert upgraded["optimizer"] == {
        "name": "adam",
        "lr": 0.01,
        "weight_decay": 0.0,
        "lr_decay": 1.0,
    }
    assert upgraded | {"optimizer": old["optimizer"]} == old  # the rest as it was
    short = {key: value for key, value in old.items() if key != "threads"}
    assert upgrade_old_optimizer_section(short) == short


def test_an_override_of_the_optimizer_drops_the_previous_ones_defaults():
    resolved = build_config({"optimizer": {"name": "sgd", "weight_decay": 1e-4}}).to_dict()
    optimizer = build_config(resolved, ["optimizer.name=adam"]).optimizer
    assert optimizer.hyperparameters["weight_decay"] == 1e-4  # set, and adam takes it: kept
    assert "momentum" not in optimizer.hyperparameters
    resolved = build_config({}).to_dict()  # adam, every hyperparameter at its default
    assert build_config(resolved, ["optimizer.name=adamw"]).optimizer.hyperparameters == {
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.01,  # adamw's default, not adam's 0
        "amsgrad": False,
    }
    assert (
        build_config(resolved, ["optimizer.name=adadelta"]).optimizer.hyperparameters["eps"] == 1e-6
    )
    resolved = build_config({"optimizer": {"name": "adam", "betas": [0.8, 0.9]}}).to_dict()
    with pytest.raises(ConfigError, match="optimizer.betas: sgd does not take betas"):
        build_config(resolved, ["optimizer.name=sgd"])


def test_readme_documents_every_optimizer_its_lr_and_hyperparameters():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for name, entry in OPTIMIZERS.items():
        rows = [line for line in readme.splitlines() if line.startswith(f"| `{name}` |")]
        assert len(rows) == 1, name
        cells = rows[0].split(" | ")
        assert parse_yaml(cells[2], "lr") == entry.lr, name
        documented = dict(re.findall(r"`(\w+): ([^`]+)`", cells[3]))
        assert set(documented) == {h.name for h in entry.hyperparameters}, name
        for hyperparameter in entry.hyperparameters:
            value = parse_yaml(documented[hyperparameter.name], hyperparameter.name)
            assert hyperparameter.check(value) == hyperparameter.default, (name, hyperparameter)


# Every numeric bound of the schema, pinned from both sides: (override, accepted, refused).
BOUNDS = [
    ("optimizer.lr_decay", ["1", "0.5", "1e-9"], ["1.0001", "0", "-0.5", "2"]),
    ("optimizer.momentum", ["0", "0.999"], ["1", "1.5", "-0.1"]),
    ("optimizer.weight_decay", ["0", "1e-4"], ["-1e-9", "-1"]),
    ("regularization.l1", ["0", "0.01"], ["-1e-9"]),
    ("regularization.l2", ["0", "0.01"], ["-1e-9"]),
    ("model.init_std", ["1e-9", "0.5"], ["0", "-0.01"]),
    ("model.dropout", ["0", "0.99"], ["1", "1.0", "-0.1"]),
    ("train.early_stopping", ["1", "10"], ["0", "-1"]),
    ("seed", ["0", str(2**32 - 1)], ["-1", str(2**32)]),
]


@pytest.mark.parametrize(("key", "accepted", "refused"), BOUNDS, ids=[b[0] for b in BOUNDS])
def test_every_numeric_bound_holds_on_both_sides(key, accepted, refused):
    base = ["optimizer.name=momentum"] if key == "optimizer.momentum" else []
    if key == "model.dropout":
        base = ["model.kind=complex"]
    for value in accepted:
        config = load_config(None, [*base, f"{key}={value}"])
        section, _, name = key.rpartition(".")
        node = getattr(config, section) if section else config
        got = (
            node.hyperparameters[name]
            if section == "optimizer" and name not in ("lr", "lr_decay")
            else getattr(node, name)
        )
        assert got == pytest.approx(float(value)), (key, value)
    for value in refused:
        with pytest.raises(ConfigError, match=key.rpartition(".")[2]):
            load_config(None, [*base, f"{key}={value}"])


def test_a_bound_broken_on_the_command_line_is_one_line_exit_2(cli):
    for override in ("optimizer.lr_decay=1.5", "model.init_std=0", "seed=-1"):
        result = cli.train("configs/digits.yaml", override, expect=2)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
        assert override.partition("=")[0] in lines[0]


def test_a_dumped_config_is_the_text_pure_python_yaml_writes():
    """config.yaml is written with LibYAML's emitter where PyYAML has it: the same text as
    PyYAML's own (block sections, inline lists), which reloads to the same config."""
    import yaml

    class PurePython(yaml.SafeDumper):
        pass

    PurePython.add_representer(
        list, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, True)
    )
    for path in sorted((REPO / "configs").glob("*.yaml")):
        if path.name == "backprop.yaml":  # mlpx backprop's network, not a training config
            continue
        config = load_config(path, [])
        text = dump_config(config)
        assert text == yaml.dump(config.to_dict(), Dumper=PurePython, sort_keys=False), path
        assert "hidden: [" in text
        assert build_config(yaml.safe_load(text), []) == config


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        # a Literal field, a registry field (in the registry's order)
        ("model.activation=5", "one of relu, sigmoid, tanh"),
        ("loss=5", "one of cross_entropy, nll, mse, mae, huber"),
        ("schedule.name=5", "one of constant, step, multistep, exponential, cosine, plateau"),
        # a kind and its bounds: > (gt), >= (ge), < (lt), <= (le), two joined by "and"
        ("optimizer.lr=[1]", "a number > 0.0"),
        ("regularization.l1=x", "a number >= 0.0"),
        ("model.dropout=x", "a number >= 0.0 and < 1.0"),
        ("optimizer.lr_decay=x", "a number > 0.0 and <= 1.0"),
        ("seed=x", "an integer >= 0 and <= 4294967295"),
        ("train.batch_size=x", "an integer >= 1"),
        ("train.early_stopping=x", "an integer or null >= 1"),
        ("data.path=5", "a string or null"),
        ("data.root=5", "a string"),
        ("data.download=5", "true or false"),
        ("model.hidden=x", "a non-empty list of positive integers, e.g. [64, 32]"),
        # fields whose type says less than the rule
        ("device=5", "auto, cpu, cuda or cuda:N"),
        ("threads=x", "auto or a number of threads >= 1"),
    ],
)
def test_a_value_of_the_wrong_kind_is_told_what_its_field_allows(override, expected):
    """The "expected ..." of every kind of field, read from the schema, written out by hand."""
    key, _, value = override.partition("=")
    with pytest.raises(ConfigError) as error:
        load_config(None, [override])
    shown = value if value in ("5", "[1]") else repr(value)
    assert str(error.value) == f"{key}: {shown} is not allowed; expected {expected}"


TOP_KEYS = (
    "name, seed, backend, device, dtype, threads, task, loss, huber_delta, data, model, "
    "optimizer, schedule, regularization, train, output"
)


@pytest.mark.parametrize(
    ("data", "overrides", "message"),
    [
        # the whole config is not a mapping (from Python: a file is refused before)
        ([1], [], f"config: expected a section (mapping) with keys {TOP_KEYS}, got [1]"),
        # an unknown top-level key: the nearest key anywhere, the top level's keys
        ({}, ["lr=0.1"], f"lr: unknown key; did you mean 'optimizer.lr'? allowed here: {TOP_KEYS}"),
        ({}, ["foo.bar=1"], f"foo: unknown key; allowed here: {TOP_KEYS}"),
        ({}, ["seeed=1"], f"seeed: unknown key; did you mean 'seed'? allowed here: {TOP_KEYS}"),
        # a slip of a section's name (not a leaf)
        (
            {},
            ["modle.hidden=[3]"],
            f"modle: unknown key; did you mean 'model'? allowed here: {TOP_KEYS}",
        ),
        # an unknown key of a section: that section's keys
        (
            {},
            ["model.hiden=[3]"],
            "model.hiden: unknown key; did you mean 'model.hidden'? allowed here: kind, hidden, "
            "activation, dropout, batchnorm, init, init_std",
        ),
        # inside a section, a guess only from that section's keys
        (
            {},
            ["model.lrr=1"],
            "model.lrr: unknown key; allowed here: kind, hidden, activation, dropout, batchnorm, "
            "init, init_std",
        ),
        # the first problem, and how many other keys have one
        (
            {},
            ["model.dropout=x", "optimizer.lr=x"],
            "model.dropout: 'x' is not allowed; expected a number >= 0.0 and < 1.0 "
            "(and 1 more problem(s))",
        ),
        (
            {},
            ["model.dropout=x", "optimizer.lr=x", "train.epochs=x"],
            "model.dropout: 'x' is not allowed; expected a number >= 0.0 and < 1.0 "
            "(and 2 more problem(s))",
        ),
        # a union-typed field reports one error per member: one problem, one key path
        (
            {},
            ["threads=[1]"],
            "threads: [1] is not allowed; expected auto or a number of threads >= 1",
        ),
    ],
)  # fmt: skip
def test_a_config_error_names_its_key_path_once_and_counts_the_other_problems(
    data, overrides, message
):
    with pytest.raises(ConfigError) as error:
        build_config(data, overrides)
    assert str(error.value) == message


def test_a_config_built_in_python_names_the_registered_entries_it_allows():
    """Config(...) in Python (no CLI to word the message) says what a registry holds."""
    from pydantic import ValidationError

    from mlpx.config import OptimizerConfig

    with pytest.raises(ValidationError) as caught:
        OptimizerConfig(name="adamm")
    assert f"not one of {', '.join(OPTIMIZERS)}" in str(caught.value)


def _config_whose_serializer_raises(error: BaseException) -> Config:
    class Raising(Config):
        @model_serializer(mode="wrap")
        def _huber_delta_with_huber_only(self, handler):
            handler(self)  # the nested schedule's serializer runs first
            raise error

    return Raising(**build_config({}).model_dump())


def test_a_ctrl_c_while_the_config_is_serialized_stops_as_ctrl_c_does():
    # pydantic wraps what a serializer raises in its own error; a Ctrl-C that lands there
    # (a sweep that is building its trials) must stay a KeyboardInterrupt (exit 130).
    config = _config_whose_serializer_raises(KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        config.to_dict()


def test_any_other_error_while_the_config_is_serialized_is_left_as_it_is():
    config = _config_whose_serializer_raises(ValueError("broken"))
    with pytest.raises(PydanticSerializationError, match="ValueError: broken"):
        config.to_dict()
