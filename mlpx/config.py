"""The config schema (pydantic), YAML loading, ``-s key=value`` overrides and strict errors."""

from __future__ import annotations

import difflib
import hashlib
import re
import stat
import warnings
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticSerializationError

from mlpx.data import REGRESSION_SOURCES, SOURCES, default_task
from mlpx.errors import ConfigError, ConfigWarning, SettingError, shown
from mlpx.losses import LOSSES, TASKS
from mlpx.optimizers import OPTIMIZERS
from mlpx.schedules import REQUIRED, SCHEDULES

DATASET_NAMES = tuple(SOURCES)
DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"
MAX_NAME = 200
"""A run is named ``YYYYmmdd-HHMMSS-NAME-N``; file systems allow 255 bytes per name."""
MAX_THREADS = 1024


@dataclass(frozen=True)
class OneOf:
    """Field metadata: the value names an entry of ``registry`` (a registry of mlpx, read when
    a config is validated, so that an entry registered at run time is allowed too)."""

    registry: Mapping[str, Any]

    def check(self, value: str) -> str:
        if value not in self.registry:
            raise ValueError(f"not one of {', '.join(self.registry)}")
        return value


def registered(registry: Mapping[str, Any]) -> Any:
    """The type of a config field that names an entry of ``registry``."""
    one_of = OneOf(registry)
    return Annotated[str, AfterValidator(one_of.check), one_of]


class Section(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, validate_assignment=True, allow_inf_nan=False
    )


class DataConfig(Section):
    name: Literal[DATASET_NAMES] = "digits"  # type: ignore[valid-type]
    root: str = "~/.cache/mlpx"
    download: bool = True
    path: str | None = None
    val_fraction: float = Field(0.2, ge=0.0, lt=1.0)
    folds: int | None = Field(None, ge=2)
    fold: int | None = Field(None, ge=1)
    limit: int | None = Field(None, ge=1)
    normalize: Literal["none", "standard", "minmax", "global", "scale"] = "standard"


class ModelConfig(Section):
    kind: Literal["simple", "complex"] = "simple"
    hidden: list[int] = Field(default_factory=lambda: [32], min_length=1)
    activation: Literal["relu", "sigmoid", "tanh"] = "relu"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    batchnorm: bool = True
    init: Literal["kaiming", "xavier", "normal", "uniform"] = "kaiming"
    init_std: float = Field(0.01, gt=0.0)

    @field_validator("hidden", mode="before")
    @classmethod
    def _scalar_hidden(cls, value: Any) -> Any:
        # `-s model.hidden=64` means one hidden layer of 64 units.
        return [value] if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("hidden")
    @classmethod
    def _positive_widths(cls, value: list[int]) -> list[int]:
        if any(width < 1 for width in value):
            raise ValueError("every hidden width must be >= 1")
        return value


class OptimizerConfig(Section):
    """``name``, the common ``lr`` and ``lr_decay``, and the chosen optimizer's own
    hyperparameters: exactly those its registry entry declares, validated by the entry and
    with its defaults filled in (``lr`` too, when not given)."""

    model_config = ConfigDict(
        extra="allow", strict=True, validate_assignment=True, allow_inf_nan=False
    )

    name: registered(OPTIMIZERS) = "adam"  # type: ignore[valid-type]
    lr: float = Field(0.001, gt=0.0)
    lr_decay: float = Field(1.0, gt=0.0, le=1.0)

    @model_validator(mode="before")
    @classmethod
    def _chosen_hyperparameters(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        name = data.get("name", cls.model_fields["name"].default)
        entry = OPTIMIZERS.get(name) if isinstance(name, str) else None
        if entry is None:  # the name's own error is the one to report
            return {key: value for key, value in data.items() if key in cls.model_fields}
        declared = {h.name: h for h in entry.hyperparameters}
        given = {}
        for key, value in data.items():
            if key in cls.model_fields:
                continue
            if key not in declared:
                raise SettingError(key, value, _not_taken(entry.name, key))
            given[key] = declared[key].check(value)
        common = {key: data[key] for key in cls.model_fields if key in data}
        common.setdefault("lr", entry.lr)
        return common | {h.name: given.get(h.name, h.default) for h in entry.hyperparameters}

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The chosen optimizer's hyperparameters by name (everything but name, lr, lr_decay)."""
        return dict(self.model_extra or {})


OLD_OPTIMIZER_KEYS = frozenset({"name", "lr", "momentum", "weight_decay", "lr_decay"})
"""The ``optimizer`` section every run directory of mlpx before issue 13 wrote, whatever the
optimizer: ``momentum`` counted for ``momentum`` and ``nesterov`` only."""

OLD_TOP_LEVEL_KEYS = frozenset(
    {"name", "seed", "backend", "device", "dtype", "threads", "loss"}
    | {"data", "model", "optimizer", "regularization", "train", "output"}
)


def _not_taken(name: str, key: str) -> str:
    """Why ``optimizer.<key>`` is refused for optimizer ``name``: another optimizer's
    hyperparameter, or no key of any."""
    entry = OPTIMIZERS[name]
    if any(key in {h.name for h in other.hyperparameters} for other in OPTIMIZERS.values()):
        return f"{name} does not take {key}; {name} takes {entry.takes()}"
    allowed = [*OptimizerConfig.model_fields, *(h.name for h in entry.hyperparameters)]
    others = {h.name for e in OPTIMIZERS.values() for h in e.hyperparameters} - set(allowed)
    near = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    near = near or difflib.get_close_matches(key, sorted(others), n=1, cutoff=0.6)
    hint = f"did you mean 'optimizer.{near[0]}'? " if near else ""
    return f"unknown key; {hint}allowed here: {', '.join(allowed)}"


def upgrade_old_optimizer_section(data: Any) -> Any:
    """A whole config written by mlpx before issue 13 (every top-level key, the optimizer
    section of exactly :data:`OLD_OPTIMIZER_KEYS`), with ``optimizer.momentum`` dropped where
    that version ignored it, so that its runs resume and predict as they trained."""
    section = data.get("optimizer") if isinstance(data, dict) else None
    if (
        isinstance(section, dict)
        and set(section) == OLD_OPTIMIZER_KEYS
        and set(data) >= OLD_TOP_LEVEL_KEYS
        and section["name"] not in ("momentum", "nesterov")
    ):
        entry = OPTIMIZERS.get(section["name"])
        takes = {h.name for h in entry.hyperparameters} if entry else set()
        if "momentum" in takes and section["momentum"]:  # it would count now: say so
            warnings.warn(
                ConfigWarning(
                    f"optimizer.momentum: {section['momentum']} is ignored: this config was "
                    f"written by an older mlpx, whose {section['name']} took no momentum, and "
                    "trains as it did; to use momentum, write the optimizer section anew"
                ),
                stacklevel=2,
            )
        section = {key: value for key, value in section.items() if key != "momentum"}
        return data | {"optimizer": section}
    return data


def forget_previous_optimizer_defaults(data: dict[str, Any], name: Any) -> None:
    """Before ``optimizer.name`` is overridden with another optimizer ``name``: drop the
    previous optimizer's hyperparameters that are at its defaults, as a resolved config lists
    them (a sweep over optimizers starts from one), so that ``name`` gets its own defaults
    (adamw its weight_decay 0.01, adadelta its eps 1e-6). Hyperparameters set to anything
    else stay: ``name`` uses them if it takes them and refuses them if not."""
    section = data.get("optimizer")
    if not isinstance(section, dict) or not isinstance(name, str) or name not in OPTIMIZERS:
        return
    previous = section.get("name", OptimizerConfig.model_fields["name"].default)
    if not isinstance(previous, str) or previous not in OPTIMIZERS or previous == name:
        return
    for hyperparameter in OPTIMIZERS[previous].hyperparameters:
        if hyperparameter.name not in section:
            continue
        try:
            at_default = (
                hyperparameter.check(section[hyperparameter.name]) == hyperparameter.default
            )
        except SettingError:
            continue
        if at_default:
            del section[hyperparameter.name]


class RegularizationConfig(Section):
    l1: float = Field(0.0, ge=0.0)
    l2: float = Field(0.0, ge=0.0)


class ScheduleConfig(Section):
    """The learning-rate schedule: ``name`` and the settings that schedule takes (see
    :data:`mlpx.schedules.SCHEDULES`); a setting of another schedule is an error, and the
    resolved config holds exactly the chosen schedule's settings."""

    name: registered(SCHEDULES) = "constant"  # type: ignore[valid-type]
    warmup_epochs: int = Field(0, ge=0)
    step_size: int | None = Field(None, ge=1)
    gamma: float | None = Field(None, gt=0.0, le=1.0)
    milestones: list[int] | None = Field(None, min_length=1)
    min_lr: float | None = Field(None, ge=0.0)
    factor: float | None = Field(None, gt=0.0, lt=1.0)
    patience: int | None = Field(None, ge=0)
    per: Literal["epoch", "step"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _settings_of_the_schedule(cls, data: Any) -> Any:
        entry = SCHEDULES.get(data.get("name", "constant")) if isinstance(data, dict) else None
        if entry is None:
            return data  # not a mapping, or an unknown name: the fields say so
        data = dict(data)
        for key in SCHEDULE_SETTINGS:
            if key in entry.settings:
                if data.get(key) is None and entry.settings[key] is REQUIRED:
                    raise SettingError(key, None, f"schedule {entry.name} needs {key}")
                if data.get(key) is None:
                    data[key] = entry.settings[key]
            elif data.get(key) is not None:
                takes = ", ".join(entry.settings) or "no settings"
                raise SettingError(
                    key,
                    data[key],
                    f"schedule {entry.name} does not take {key}; it takes {takes} "
                    "(and warmup_epochs, as every schedule)",
                )
        return data

    @field_validator("milestones")
    @classmethod
    def _increasing(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (value[0] < 1 or value != sorted(set(value))):
            raise ValueError("milestones must be increasing epochs >= 1, e.g. [30, 60]")
        return value

    @model_serializer(mode="wrap")
    def _without_other_schedules_settings(self, handler: Any) -> dict[str, Any]:
        return {key: value for key, value in handler(self).items() if value is not None}

    def settings(self) -> dict[str, Any]:
        """The chosen schedule's settings, by name (what its entry builds from)."""
        return {key: getattr(self, key) for key in SCHEDULES[self.name].settings}


SCHEDULE_SETTINGS = tuple(
    name for name in ScheduleConfig.model_fields if name not in ("name", "warmup_epochs")
)


class TrainConfig(Section):
    epochs: int = Field(50, ge=1)
    batch_size: int = Field(64, ge=1)
    early_stopping: int | None = Field(None, ge=1)
    clip_grad_norm: float | None = Field(None, gt=0.0)
    clip_grad_value: float | None = Field(None, gt=0.0)
    restore_best: bool = False

    @model_validator(mode="after")
    def _one_clip(self) -> TrainConfig:
        if self.clip_grad_norm is not None and self.clip_grad_value is not None:
            raise SettingError(
                "clip_grad_value",
                self.clip_grad_value,
                "choose one way of clipping: train.clip_grad_norm or train.clip_grad_value",
            )
        return self


class OutputConfig(Section):
    runs_dir: str = "runs"
    plots: bool = True
    tensorboard: bool = False
    mlflow: str | None = Field(None, min_length=1)


class Config(Section):
    """A whole experiment. Every field has a default; README.md's "A config" gives each."""

    name: str = Field("run", min_length=1)
    seed: int = Field(0, ge=0, le=2**32 - 1)
    backend: Literal["torch", "numpy"] = "torch"
    device: str = Field("auto", pattern=DEVICE_PATTERN)
    dtype: Literal["float32", "float64"] = "float32"
    threads: Literal["auto"] | int = "auto"
    task: Literal[TASKS] = "classification"  # type: ignore[valid-type]
    loss: registered(LOSSES) = "cross_entropy"  # type: ignore[valid-type]
    huber_delta: float | None = Field(None, gt=0.0)
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    regularization: RegularizationConfig = Field(default_factory=RegularizationConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    output: OutputConfig = Field(default_factory=OutputConfig)

    @model_validator(mode="before")
    @classmethod
    def _old_optimizer_section(cls, data: Any) -> Any:
        return upgrade_old_optimizer_section(data)

    @model_validator(mode="before")
    @classmethod
    def _task_defaults(cls, data: Any) -> Any:
        """Fill in what the task decides: ``task`` itself from the dataset (regression for
        real-valued targets), ``loss`` from the task (cross_entropy or mse) and
        ``huber_delta`` (1.0, nn.HuberLoss's) for loss huber."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        section = data.get("data")
        name = section.get("name", "digits") if isinstance(section, dict) else "digits"
        if "task" not in data and isinstance(name, str):
            data["task"] = default_task(name)
        if "loss" not in data:
            data["loss"] = "mse" if data.get("task") == "regression" else "cross_entropy"
        if data.get("loss") == "huber" and data.get("huber_delta") is None:
            data["huber_delta"] = 1.0
        return data

    @field_validator("threads")
    @classmethod
    def _positive_threads(cls, value: str | int) -> str | int:
        if isinstance(value, int) and not 1 <= value <= MAX_THREADS:
            raise ValueError(f"threads must be auto or a number from 1 to {MAX_THREADS}")
        return value

    @field_validator("name", mode="before")
    @classmethod
    def _safe_name(cls, value: Any) -> Any:
        rule = f"a name is 1 to {MAX_NAME} letters, digits, '.', '_' and '-' (it names directories)"
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9._-]+", value):
            raise ValueError(rule)
        if len(value) > MAX_NAME or value in (".", ".."):
            raise ValueError(rule)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        if self.data.name == "npz" and not self.data.path:
            raise SettingError("data.path", None, "data.name npz needs data.path, an .npz file")
        if self.data.fold is not None and (self.data.folds or 0) < self.data.fold:
            raise SettingError(
                "data.fold",
                self.data.fold,
                f"picks one of data.folds folds (1..K), so it needs data.folds >= "
                f"{self.data.fold}; data.folds is {self.data.folds or 'null'}",
            )
        self._check_task()
        if self.model.kind == "simple" and self.model.dropout > 0:
            raise SettingError(
                "model.dropout",
                self.model.dropout,
                "dropout applies to model.kind complex only; set model.kind: complex or dropout: 0",
            )
        check = OPTIMIZERS[self.optimizer.name].check
        if check is not None:
            try:
                check(self.optimizer)
            except SettingError as exc:
                raise SettingError(f"optimizer.{exc.key}", exc.value, exc.message) from None
        if self.optimizer.lr_decay != 1 and self.schedule.name != "constant":
            raise SettingError(
                "optimizer.lr_decay",
                self.optimizer.lr_decay,
                f"{self.optimizer.lr_decay} is the exponential schedule, and schedule.name is "
                f"{self.schedule.name}; set lr_decay: 1, or use schedule: {{name: exponential, "
                f"gamma: {self.optimizer.lr_decay}}} alone",
            )
        warmup, epochs = self.schedule.warmup_epochs, self.train.epochs
        if warmup > epochs:  # allowed (a run may be extended with --epochs), but say so
            warnings.warn(
                ConfigWarning(
                    f"schedule.warmup_epochs: {warmup} is more than train.epochs {epochs}: the "
                    f"rate rises all run and never reaches optimizer.lr "
                    f"{self.optimizer.lr:g}"
                ),
                stacklevel=2,
            )
        has_validation = self.data.val_fraction > 0 or self.data.folds is not None
        if SCHEDULES[self.schedule.name].needs_validation and not has_validation:
            raise SettingError(
                "schedule.name",
                self.schedule.name,
                f"{self.schedule.name} watches the validation loss; set data.val_fraction > 0",
            )
        for key in ("early_stopping", "restore_best"):
            if getattr(self.train, key) and not has_validation:
                raise SettingError(
                    f"train.{key}",
                    getattr(self.train, key),
                    "needs a validation split; set data.val_fraction > 0",
                )
        if self.backend == "numpy" and self.device not in ("auto", "cpu"):
            raise SettingError(
                "device", self.device, "the numpy backend runs on the CPU only; use device: cpu"
            )
        return self

    def _check_task(self) -> None:
        """The task, the dataset and the loss go together (one line naming what does)."""
        if self.task == "classification" and self.data.name in REGRESSION_SOURCES:
            raise SettingError(
                "task",
                self.task,
                f"data.name {self.data.name} has real-valued targets, which have no classes "
                "or accuracy; use task: regression (losses mse, mae, huber)",
            )
        entry = LOSSES[self.loss]
        if self.task not in entry.tasks:
            takes = [name for name, other in LOSSES.items() if self.task in other.tasks]
            if self.task == "regression":
                why = "needs class labels, and the targets are real numbers (task: regression)"
            else:
                why = "is a regression loss, and the targets are class labels"
            raise SettingError(
                "loss",
                self.loss,
                f"{self.loss} {why}; use one of {', '.join(takes)}",
            )
        if self.huber_delta is not None and "huber_delta" not in entry.settings:
            raise SettingError(
                "huber_delta",
                self.huber_delta,
                f"only loss huber takes huber_delta; loss is {self.loss}",
            )

    @model_serializer(mode="wrap")
    def _huber_delta_with_huber_only(self, handler: Any) -> dict[str, Any]:
        dumped = handler(self)
        if dumped.get("huber_delta") is None:
            dumped.pop("huber_delta", None)
        return dumped

    def to_dict(self) -> dict[str, Any]:
        """The resolved config as plain YAML-able data, every default filled in."""
        try:
            return self.model_dump(mode="json")
        except PydanticSerializationError as error:
            # Ctrl-C while pydantic runs one of our serializers reaches us wrapped in its
            # error ("Error calling function ...: KeyboardInterrupt: "); it stops the
            # command as any Ctrl-C does, not as an internal error.
            if "KeyboardInterrupt:" in str(error):
                raise KeyboardInterrupt from None
            raise

    def with_absolute_paths(self) -> Config:
        """This config with ``data.path`` made absolute, against the working directory it
        was read from (as ``mlpx train`` reads it): a run directory's config.yaml then names
        the same file wherever it is resumed or rerun from."""
        path = self.data.path
        if path is None or Path(path).expanduser().is_absolute():
            return self
        data = self.data.model_copy(update={"path": str(Path(path).expanduser().absolute())})
        return self.model_copy(update={"data": data})

    def sha256(self) -> str:
        """A hash of the resolved config (of its YAML text, every default filled in)."""
        return hashlib.sha256(dump_config(self).encode()).hexdigest()


MAX_CONFIG_BYTES = 1_000_000
"""A config file is a page of settings: anything larger is not one (``/dev/zero``, a log)."""
MAX_DEPTH = 50
"""Sections and lists nested deeper than this are no config (20,000 ``[`` would exhaust
Python's stack)."""
MAX_NODES = 100_000
"""Values a document may hold once its aliases are expanded (a "billion laughs" holds 10**9)."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads ``1e-3`` as a float (YAML 1.1 wants ``1.0e-3``) and refuses
    what a config never needs and an attacker would use: nesting deeper than
    :data:`MAX_DEPTH`, aliases that refer to themselves or expand beyond :data:`MAX_NODES`
    values, a key given twice in one mapping (the last would silently win), and a string with
    a lone surrogate escape ("\\ud800"), which no file name or UTF-8 file can hold."""

    def __init__(self, stream: Any):
        super().__init__(stream)
        self._depth = 0

    def construct_scalar(self, node: Any) -> Any:
        value = super().construct_scalar(node)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"{value[exc.start]!a} is half of a UTF-16 surrogate pair, not a character; "
                "write the character itself",
                node.start_mark,
            ) from None
        return value

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _LimitError(
                    f"nested more than {MAX_DEPTH} levels deep (line {mark.line + 1})"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_node(self) -> Any:
        node = super().get_single_node()
        if node is not None:
            _expanded_size(node, {}, set())
        return node

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            lines: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # `<<: *base` then a key of base is an override, not a slip
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                if isinstance(key, Hashable) and key in lines:
                    raise _LimitError(
                        f"key {key!r} is given twice (lines {lines[key]} and {line}); keep one"
                    )
                if isinstance(key, Hashable):
                    lines[key] = line
        return super().construct_mapping(node, deep)


class _LimitError(Exception):
    """A YAML document the loader refuses (depth, aliases, duplicate keys)."""


def _expanded_size(node: Any, sizes: dict[int, int], open_nodes: set[int]) -> int:
    """The number of values ``node`` holds with every alias expanded; a _LimitError for an
    alias inside its own anchor or for more than :data:`MAX_NODES` values."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in open_nodes:
        mark = node.start_mark
        raise _LimitError(f"an alias refers to itself (anchor at line {mark.line + 1})")
    size = 1
    if isinstance(node, yaml.SequenceNode | yaml.MappingNode):
        open_nodes.add(key)
        children = node.value if isinstance(node, yaml.SequenceNode) else sum(node.value, ())
        for child in children:
            size += _expanded_size(child, sizes, open_nodes)
            if size > MAX_NODES:
                raise _LimitError(
                    f"its aliases expand to more than {MAX_NODES:,} values; write it out"
                )
        open_nodes.discard(key)
    sizes[key] = size
    return size


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def parse_yaml(text: str, where: str) -> Any:
    """Parse YAML text; a syntax error becomes a one-line ConfigError naming ``where``."""
    try:
        return yaml.load(text, Loader=_Loader)
    except _LimitError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML{at}: {problem}") from None


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file into a mapping, with clear errors for every way it can fail."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        raise ConfigError(f"{path}: is a directory; give a YAML config file")
    if not stat.S_ISREG(mode):
        raise ConfigError(
            f"{path}: is a {_file_kind(mode)}, not a regular file; give a YAML config file"
        )
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError(
                f"{path}: larger than {MAX_CONFIG_BYTES:,} bytes; a config is a page of "
                "settings, not this"
            )
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    data = parse_yaml(text, str(path))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: a config must be a YAML mapping of keys (name:, data:, model:, ...), "
            f"not a {type(data).__name__}"
        )
    return data


def _file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    kinds = [
        (stat.S_ISFIFO, "named pipe (FIFO)"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    ]
    return next((name for test, name in kinds if test(mode)), "special file")


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``key.path=value`` and parse the value as a YAML scalar or list."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"override {text!r}: expected key=value, e.g. optimizer.lr=0.01")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", key):
        raise ConfigError(f"override {text!r}: {key!r} is not a dotted key path like model.hidden")
    return key, parse_yaml(raw, f"override {key}") if raw.strip() else None


def apply_override(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for key ``a.b.c``, creating sections as needed (a new
    ``optimizer.name`` first drops the previous optimizer's hyperparameters at their defaults)."""
    parts = key.split(".")
    if key == "optimizer.name":
        forget_previous_optimizer_defaults(data, value)
    node = data
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            where = ".".join(parts[: depth + 1])
            raise ConfigError(f"override {key}: {where} is a value, not a section")
        node = child
    node[parts[-1]] = value


def build_config(data: dict[str, Any], overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Validate a config mapping after applying ``key=value`` overrides."""
    data = _deep_copy(data)
    for text in overrides:
        apply_override(data, *parse_override(text))
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, data)) from None


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load and validate a config file (or the defaults when ``path`` is None)."""
    data = read_config_file(path) if path is not None else {}
    return build_config(data, overrides)


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """Block-style sections with inline lists (``hidden: [64, 32]``), like the configs/.
    LibYAML's emitter where PyYAML has it (the same text, four times faster: every trial of
    a sweep writes its config twice)."""


_Dumper.add_representer(
    list, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, True)
)


def dump_config(config: Config) -> str:
    """The resolved config as YAML text (reloads to an equal Config)."""
    return yaml.dump(config.to_dict(), Dumper=_Dumper, sort_keys=False)


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {key: _deep_copy(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_deep_copy(value) for value in data]
    return data


def _section_at(loc: tuple) -> type[BaseModel] | None:
    """The pydantic model found by walking ``loc`` from Config, if ``loc`` names a section."""
    model: type[BaseModel] = Config
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _leaf_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Every dotted path to a value in the schema, e.g. ``optimizer.lr``."""
    paths = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths += _leaf_paths(annotation, f"{prefix}{name}.")
        else:
            paths.append(prefix + name)
    return paths


def _allowed(field_loc: tuple) -> str:
    """What a field accepts, read from the schema (for error messages)."""
    section = _section_at(field_loc[:-1])
    field = section.model_fields.get(field_loc[-1]) if section else None
    if field is None:
        return ""
    annotation = field.annotation
    args = getattr(annotation, "__args__", None)
    if getattr(annotation, "__origin__", None) is Literal and args:
        return "one of " + ", ".join(map(str, args))
    one_of = _one_of(field_loc)
    if one_of is not None:
        return "one of " + ", ".join(one_of.registry)
    bounds = []
    for meta in field.metadata:
        for attr, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            if getattr(meta, attr, None) is not None:
                bounds.append(f"{sign} {getattr(meta, attr)}")
    if field_loc[-1] == "device":
        return "auto, cpu, cuda or cuda:N"
    if field_loc == ("threads",):
        return "auto or a number of threads >= 1"
    kind = {float: "a number", int: "an integer", bool: "true or false", str: "a string"}
    base = kind.get(annotation, "")
    if annotation == (int | None):
        base = "an integer or null"
    elif annotation == (str | None):
        base = "a string or null"
    elif annotation == list[int]:
        base = "a non-empty list of positive integers, e.g. [64, 32]"
    return " ".join([base] + ([" and ".join(bounds)] if bounds else [])).strip()


def _one_of(field_loc: tuple) -> OneOf | None:
    """The registry a field names an entry of, if it is such a field."""
    section = _section_at(field_loc[:-1])
    field = section.model_fields.get(field_loc[-1]) if section else None
    return (
        next((meta for meta in field.metadata if isinstance(meta, OneOf)), None) if field else None
    )


def _schema_loc(loc: tuple) -> tuple:
    """``loc`` cut to the keys the schema has (drops union tags like ``literal['auto']``)."""
    model: type[BaseModel] | None = Config
    kept: list = []
    for part in loc:
        if model is None or not isinstance(part, str) or part not in model.model_fields:
            if isinstance(part, str) and model is not None:
                kept.append(part)  # an unknown key: keep it so the message names it
            break
        kept.append(part)
        annotation = model.model_fields[part].annotation
        is_section = isinstance(annotation, type) and issubclass(annotation, BaseModel)
        model = annotation if is_section else None
    return tuple(kept)


def _describe(exc: ValidationError, data: dict[str, Any]) -> str:
    """One line for the first validation error: key path, value, what is allowed."""
    errors = exc.errors()
    first = errors[0]
    # a union field reports one error per member under the same key: count keys, not those
    keys = {_schema_loc(error["loc"]) for error in errors}
    more = f" (and {len(keys) - 1} more problem(s))" if len(keys) > 1 else ""
    ctx = first.get("ctx") or {}
    cross = ctx.get("error")
    if isinstance(cross, SettingError):
        section = ".".join(part for part in first["loc"] if isinstance(part, str))
        return f"{section + '.' if section else ''}{cross.key}: {cross.message}{more}"
    loc = _schema_loc(first["loc"]) if first["type"] != "extra_forbidden" else first["loc"]
    loc = tuple(part for part in loc if isinstance(part, str))
    path = ".".join(loc) or "config"
    value = first.get("input")
    if first["type"] == "extra_forbidden":
        section = _section_at(loc[:-1])
        names = list(section.model_fields) if section else []
        candidates = {".".join(loc[:-1] + (name,)): name for name in names}
        if not loc[:-1]:  # a top-level slip like `lr:` most likely meant a nested key
            candidates |= {path: path.split(".")[-1] for path in _leaf_paths(Config)}
        near = difflib.get_close_matches(loc[-1], list(candidates.values()), n=1, cutoff=0.6)
        match = next((path for path, name in candidates.items() if near and name == near[0]), None)
        hint = f"did you mean {match!r}? " if match else ""
        return f"{path}: unknown key; {hint}allowed here: {', '.join(names)}{more}"
    if first["type"] in ("model_type", "model_attributes_type", "dict_type"):
        section = _section_at(loc)
        names = ", ".join(section.model_fields) if section else ""
        got = shown(value)
        return f"{path}: expected a section (mapping) with keys {names}, got {got}{more}"
    allowed = _allowed(loc) if loc else ""
    reason = first["msg"].removeprefix("Value error, ")
    if first["type"] == "finite_number":
        allowed = allowed.replace("a number", "a finite number", 1)
    if first["type"] == "value_error" and loc in (("name",), ("threads",)):
        return f"{path}: {shown(value)} is not allowed: {reason}{more}"
    one_of = _one_of(loc) if loc else None
    if one_of is not None and isinstance(value, str):
        near = difflib.get_close_matches(value, list(one_of.registry), n=1, cutoff=0.6)
        allowed = (f"did you mean {near[0]!r}? " if near else "") + f"expected {allowed}"
        return f"{path}: {shown(value)} is not allowed; {allowed}{more}"
    if allowed:
        return f"{path}: {shown(value)} is not allowed; expected {allowed}{more}"
    return f"{path}: {shown(value)} is not allowed: {reason}{more}"
