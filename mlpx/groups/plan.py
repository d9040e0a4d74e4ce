"""What a group of runs runs: its trials, each a base config with overrides, and its directory.

A sweep trains one base config once per value of a parameter and seed; a cross-validation
trains it once per fold (``data.fold = k``). Both are planned before anything runs -- every
trial's config validated, nothing written -- and read back from their directory to resume.
"""

from __future__ import annotations

import abc
import copy
import difflib
import json
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import yaml

from mlpx.atomic import write_text_atomic
from mlpx.config import Config, apply_override, build_config, dump_config, parse_yaml
from mlpx.errors import ConfigError, GroupError
from mlpx.optimizers import OPTIMIZERS
from mlpx.runs import ensure_writable_dir, make_unique_dir

#: Short parameter names and the config path each sets. ``hidden`` sets every hidden
#: layer's width (depth kept); ``depth`` sets the number of hidden layers (width kept).
PARAMETERS: dict[str, str] = {
    "lr": "optimizer.lr",
    "hidden": "model.hidden",
    "optimizer": "optimizer.name",
    "depth": "model.hidden",
    "l1": "regularization.l1",
    "l2": "regularization.l2",
    "dropout": "model.dropout",
    "batch_size": "train.batch_size",
    "epochs": "train.epochs",
}
_PENALTIES = [0.0, 1e-5, 1e-4, 1e-3, 1e-2]
DEFAULT_VALUES: dict[str, Collection[Any]] = {
    "lr": [1e-1, 1e-2, 1e-3, 1e-4, 1e-5],
    "hidden": [16, 32, 64, 128, 256, 512],
    "optimizer": OPTIMIZERS,  # every registered optimizer, read when a sweep is planned
    "depth": [1, 2, 3, 4, 5],
    "l1": _PENALTIES,
    "l2": _PENALTIES,
    "dropout": [0.0, 0.1, 0.2, 0.3, 0.5],
    "batch_size": [16, 32, 64, 128, 256],
    "epochs": [10, 25, 50, 100],
}


# --- values --------------------------------------------------------------------------------


def split_values(text: str) -> list[str]:
    """Split ``--values`` at commas outside brackets and quotes: ``[64],[64,64]`` is two."""
    items, current, depth, quote = [], [], 0, None
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    if depth or quote:
        raise GroupError(f"--values {text!r}: unbalanced brackets or quotes")
    items.append("".join(current).strip())
    return items


def parse_values(text: str) -> list[Any]:
    """The values of ``--values``: comma-separated, each item parsed as YAML."""
    if not text.strip():
        raise GroupError("--values is empty; give comma-separated values, e.g. --values 0.1,0.01")
    values = []
    for item in split_values(text):
        if not item:
            raise GroupError(f"--values {text!r}: an empty item; separate values by one comma")
        values.append(parse_yaml(item, f"--values item {item!r}"))
    return values


def value_label(value: Any) -> str:
    """A value as YAML would read it back: ``0.1``, ``1e-05``, ``adam``, ``[64, 64]``."""
    if value is None or isinstance(value, (bool, list, dict)):
        return json.dumps(value)
    if isinstance(value, float):
        short = format(value, "g")  # 1e+06 rather than 1000000.0, where it reads back equal
        return short if float(short) == value else repr(value)
    return str(value)


def value_slug(value: Any) -> str:
    """A file-system-safe name for a value: ``[64, 64]`` -> ``64-64``, ``0.1`` -> ``0.1``."""
    if isinstance(value, list):
        text = "-".join(value_slug(item) for item in value) or "empty"
    else:
        text = value_label(value)
    text = re.sub(r"[^A-Za-z0-9._+-]+", "_", text)[-64:].strip("_") or "value"
    return "_" + text if text.startswith(".") else text  # the end of a long path names it best


def _unique_slugs(values: list[Any]) -> list[str]:
    slugs: list[str] = []
    for index, value in enumerate(values, start=1):
        slug = value_slug(value)
        slugs.append(slug if slug not in slugs else f"{slug}-v{index}")
    return slugs


# --- plans ---------------------------------------------------------------------------------


@dataclass
class Trial:
    """One run of a group: a value of the parameter (a fold number for a cross-validation)
    with one seed.

    ``overrides`` maps dotted config paths to the values set on the base config; ``name`` is
    the trial's run directory under the group's members directory.
    """

    name: str
    value: Any
    seed: int
    overrides: dict[str, Any]

    @property
    def label(self) -> str:
        return value_label(self.value)

    def describe_overrides(self) -> str:
        """The overrides as ``-s`` arguments would spell them: ``optimizer.lr=0.1 seed=0``."""
        return " ".join(f"{key}={value_label(value)}" for key, value in self.overrides.items())


@dataclass
class GroupPlan(abc.ABC):
    """What a group runs: the parameter, its values, the seeds, the base config, the trials.

    Subclasses say where the group's files go; the engine needs nothing else of them.
    """

    param: str
    path: str
    values: list[Any]
    seeds: list[int]
    base: dict[str, Any]
    trials: list[Trial]

    kind: ClassVar[str]
    noun: ClassVar[str]
    plan_file: ClassVar[str]
    """The file in the group directory that records the plan (and marks the directory)."""

    @property
    def lock_file(self) -> str:
        """Held while trials run, so that two processes never run one group."""
        return f"{self.kind}.lock"

    @abc.abstractmethod
    def members_dir(self, directory: Path) -> Path:
        """Where the trials' run directories go."""

    @abc.abstractmethod
    def dir_name(self, stamp: str) -> str:
        """The group directory's name for a start time ``stamp`` (YYYYmmdd-HHMMSS)."""

    @abc.abstractmethod
    def plan_text(self) -> str:
        """The content of :attr:`plan_file`."""

    def trial_config(self, trial: Trial) -> Config:
        """The validated config of one trial: the base config with the trial's overrides."""
        data = copy.deepcopy(self.base)
        for key, value in trial.overrides.items():
            apply_override(data, key, value)
        try:
            return build_config(data)
        except ConfigError as exc:
            raise ConfigError(f"{self.param} value {trial.label}: {exc}") from None

    def create_dir(self, runs_dir: Path) -> Path:
        """Create this group's directory under ``runs_dir`` (``-2``, ``-3``... if it exists)
        and write its plan file."""
        runs_dir = Path(runs_dir).expanduser()
        ensure_writable_dir(runs_dir, "output.runs_dir")
        directory = make_unique_dir(runs_dir, self.dir_name(f"{datetime.now():%Y%m%d-%H%M%S}"))
        write_text_atomic(directory / self.plan_file, self.plan_text())
        return directory


SWEEP_TRIALS = "trials"
"""The folder of a sweep's directory that holds its trials' run directories."""


@dataclass
class SweepPlan(GroupPlan):
    """A sweep: ``sweep-<param>-<stamp>/`` with sweep.yaml, ``trials/<value>-seed<k>/``."""

    kind: ClassVar[str] = "sweep"
    noun: ClassVar[str] = "sweep directory"
    plan_file: ClassVar[str] = "sweep.yaml"

    def members_dir(self, directory: Path) -> Path:
        return directory / SWEEP_TRIALS

    def dir_name(self, stamp: str) -> str:
        return f"sweep-{value_slug(self.param)}-{stamp}"

    def plan_text(self) -> str:
        """sweep.yaml: the plan, readable by people and by :func:`load_plan`."""
        document = {
            "param": self.param,
            "path": self.path,
            "values": self.values,
            "seeds": self.seeds,
            "trials": [
                {"name": t.name, "value": t.value, "seed": t.seed, "overrides": t.overrides}
                for t in self.trials
            ],
            "base": self.base,
        }
        return yaml.safe_dump(document, sort_keys=False)


@dataclass
class CrossValPlan(GroupPlan):
    """A k-fold cross-validation: ``<stamp>-<name>-cv/`` with cv.yaml (the resolved config,
    which the plan follows from) and ``fold-1/`` ... ``fold-K/``."""

    kind: ClassVar[str] = "cv"
    noun: ClassVar[str] = "cross-validation directory"
    plan_file: ClassVar[str] = "cv.yaml"

    @property
    def folds(self) -> int:
        return len(self.trials)

    def members_dir(self, directory: Path) -> Path:
        return directory

    def dir_name(self, stamp: str) -> str:
        return f"{stamp}-{self.base['name']}-cv"

    def plan_text(self) -> str:
        return dump_config(build_config(self.base))


# --- planning ------------------------------------------------------------------------------


def _leaf_paths(data: dict[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in data.items():
        if isinstance(value, dict):
            paths += _leaf_paths(value, f"{prefix}{key}.")
        else:
            paths.append(prefix + key)
    return paths


def config_path(param: str, base: Config) -> str:
    """The config path a sweep parameter sets (a short name or any dotted path)."""
    if param in PARAMETERS:
        return PARAMETERS[param]
    if param == "seed":
        raise GroupError("seed: repeat trials over seeds with --seeds N, not as the parameter")
    leaves = _leaf_paths(base.to_dict())
    if param in leaves:
        return param
    sections = {path.rsplit(".", 1)[0] for path in leaves if "." in path}
    if param in sections:
        keys = ", ".join(p for p in leaves if p.startswith(param + "."))
        raise GroupError(f"{param} is a config section; sweep one of its keys: {keys}")
    near = difflib.get_close_matches(param, list(PARAMETERS) + leaves, n=1, cutoff=0.6)
    hint = f"did you mean {near[0]!r}? " if near else ""
    raise GroupError(
        f"unknown sweep parameter {param!r}; {hint}use one of {', '.join(PARAMETERS)} "
        "or a dotted config path such as model.init_std"
    )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _setting(param: str, path: str, value: Any, base: Config) -> dict[str, Any]:
    """The config override one value of ``param`` stands for."""
    hidden = base.model.hidden
    if param == "hidden":
        if _is_count(value):
            return {path: [value] * len(hidden)}
        if isinstance(value, list):
            return {path: value}
        raise GroupError(
            f"hidden value {value_label(value)}: expected a width such as 64 (set on all "
            f"{len(hidden)} hidden layer(s)) or a list of widths such as [64, 32]"
        )
    if param == "depth":
        if _is_count(value):
            return {path: [hidden[0]] * value}
        raise GroupError(
            f"depth value {value_label(value)}: expected a number of hidden layers >= 1 "
            f"(each {hidden[0]} wide, the base config's first hidden layer)"
        )
    return {path: value}


def plan_sweep(param: str, values: str | None, base: Config, seeds: int = 1) -> SweepPlan:
    """Plan a sweep of ``param`` over ``values`` (``--values`` text; None: the default grid)
    with ``seeds`` seeds per value, validating every trial's config before anything runs."""
    path = config_path(param, base)
    if values is None:
        if param not in DEFAULT_VALUES:
            raise GroupError(
                f"{param}: give the values to sweep with --values, e.g. --values 0.1,0.5 "
                f"(default grids exist for {', '.join(DEFAULT_VALUES)})"
            )
        grid = list(DEFAULT_VALUES[param])
    else:
        grid = parse_values(values)
    if not _is_count(seeds):
        raise GroupError(f"--seeds {seeds}: expected a number of seeds >= 1, e.g. --seeds 3")
    labels = [value_label(value) for value in grid]
    for label in labels:
        if labels.count(label) > 1:
            raise GroupError(f"--values: {label} appears twice; use --seeds N to repeat a value")
    seed_list = [base.seed + k for k in range(seeds)]
    trials = [
        Trial(
            f"{slug}-seed{seed}", value, seed, {**_setting(param, path, value, base), "seed": seed}
        )
        for value, slug in zip(grid, _unique_slugs(grid), strict=True)
        for seed in seed_list
    ]
    plan = SweepPlan(param, path, grid, seed_list, base.to_dict(), trials)
    for trial in trials:
        plan.trial_config(trial)
    return plan


def is_cross_validation(config: Config) -> bool:
    """Whether a config asks for a cross-validation (``data.folds`` set, no single fold)."""
    return config.data.folds is not None and config.data.fold is None


def plan_crossval(config: Config) -> CrossValPlan:
    """Plan a k-fold cross-validation of ``config`` (``data.folds: K``, ``data.fold`` unset):
    trial ``fold-k`` trains on the other folds and validates on fold k."""
    if not is_cross_validation(config):
        raise ValueError("plan_crossval needs data.folds set and data.fold unset")
    folds = list(range(1, config.data.folds + 1))
    trials = [Trial(f"fold-{k}", k, config.seed, {"data.fold": k}) for k in folds]
    return CrossValPlan("fold", "data.fold", folds, [config.seed], config.to_dict(), trials)


def load_plan(directory: Path, kind: type[GroupPlan]) -> GroupPlan:
    """Read the plan of a group directory of ``kind`` back: sweep.yaml, or cv.yaml's config."""
    directory = Path(directory)
    path = directory / kind.plan_file
    if not path.is_file():
        raise GroupError(f"--resume {directory}: no {kind.plan_file} there; is it a {kind.noun}?")
    data = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    if kind is CrossValPlan:
        if not isinstance(data, dict):
            raise GroupError(f"{path}: not a cross-validation config written by mlpx")
        return plan_crossval(build_config(data))
    try:
        trials = [
            Trial(str(t["name"]), t["value"], int(t["seed"]), dict(t["overrides"]))
            for t in data["trials"]
        ]
        plan = SweepPlan(
            str(data["param"]), str(data["path"]), list(data["values"]),
            [int(seed) for seed in data["seeds"]], dict(data["base"]), trials,
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise GroupError(f"{path}: not a sweep plan written by mlpx ({exc!r})") from None
    build_config(plan.base)
    return plan
