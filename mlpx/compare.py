"""``mlpx compare``: runs side by side -- the config keys in which they differ, their final and
best metrics, and one figure overlaying their loss and accuracy curves.

A sweep or cross-validation directory stands for its members (its trials or folds).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpx.config import parse_yaml
from mlpx.errors import MlpxError, RunDirError, UsageError
from mlpx.runs import CONFIG, RunDir, check_is_dir

GROUPS = {"sweep.yaml": "trials/*", "cv.yaml": "fold-*"}
"""A group's plan file and where its members are."""

METRICS = (
    ("final train loss", ("final", "train_loss")),
    ("final val loss", ("final", "val_loss")),
    ("final val acc", ("final", "val_acc")),
    ("final val R²", ("final", "val_r2")),
    ("best epoch", ("best_epoch",)),
    ("best val loss", ("best_val_loss",)),
    ("best val acc", ("best_val_acc",)),
    ("best val R²", ("best_val_r2",)),
    ("test acc", ("test", "acc")),
    ("test R²", ("test", "r2")),
)
"""The metrics of the table: a name and its path in summary.json (a row is shown when some
run has it: accuracy for classifications, R² for regressions)."""


@dataclass
class Compared:
    """One run to compare: a label, its flattened config, summary and epoch records."""

    label: str
    path: Path
    config: dict[str, Any]
    summary: dict[str, Any]
    history: list[dict[str, Any]]

    def metric(self, keys: tuple[str, ...]) -> float | None:
        node: Any = self.summary
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        return node if isinstance(node, (int, float)) and not isinstance(node, bool) else None


def flatten(document: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay values."""
    if not isinstance(document, dict):
        return {prefix: document} if prefix else {}
    out: dict[str, Any] = {}
    for key, value in document.items():
        out |= flatten(value, f"{prefix}.{key}" if prefix else str(key))
    return out


def _read(path: Path, label: str) -> Compared:
    run = RunDir(path)
    try:
        config = parse_yaml(run.file(CONFIG).read_text(encoding="utf-8"), str(run.file(CONFIG)))
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read {CONFIG} ({exc.strerror})") from None
    summary = run.read_summary()
    history = [r for r in run.read_metrics() if isinstance(r, dict) and "epoch" in r]
    return Compared(
        label,
        path,
        flatten(config),
        summary if isinstance(summary, dict) else {},
        history,
    )


def _plan_order(plan: Path):
    """A sort key putting a group's members in its plan's order (a sweep's trials as planned,
    folds by number)."""
    try:
        document = parse_yaml(plan.read_text(encoding="utf-8"), str(plan))
    except (OSError, MlpxError):
        document = None
    trials = document.get("trials") if isinstance(document, dict) else None
    names = (
        [t.get("name") for t in trials if isinstance(t, dict)] if isinstance(trials, list) else []
    )

    def key(member: Path) -> tuple[int, int, str]:
        if member.name in names:
            return (0, names.index(member.name), "")
        number = member.name.removeprefix("fold-")
        return (1, int(number) if number.isdigit() else 0, member.name)

    return key


def load_compared(paths: list[Path]) -> list[Compared]:
    """The runs named by ``paths`` (run directories, or sweeps and cross-validations, which
    stand for their members), each labelled by its directory name (a member by its group's
    too); a UsageError for fewer than two, a RunDirError for a path that is none of these."""
    found: list[Compared] = []
    for path in map(Path, paths):
        if (path / CONFIG).is_file():
            found.append(_read(path, path.name))
            continue
        check_is_dir(path, str(path))
        plan = next((name for name in GROUPS if (path / name).is_file()), None)
        if plan is None:
            raise RunDirError(
                f"{path}: not a run directory (no {CONFIG}), sweep (no sweep.yaml) or "
                "cross-validation (no cv.yaml)"
            )
        members = sorted(
            (
                member
                for member in path.glob(GROUPS[plan])
                if not member.name.startswith(".") and (member / CONFIG).is_file()
            ),
            key=_plan_order(path / plan),
        )
        prefix = "" if len(paths) == 1 else f"{path.name}/"
        found += [_read(member, prefix + member.name) for member in members]
    if len(found) < 2:
        raise UsageError(f"compare needs at least two runs; {len(found)} found in the paths given")
    return found


def differing_keys(runs: list[Compared]) -> list[str]:
    """The config keys (dotted, in config order) whose values are not the same in every run;
    ``name`` left out (it names the run, it does not change it)."""
    keys: dict[str, None] = {}
    for run in runs:
        keys |= dict.fromkeys(run.config)
    missing = object()
    return [
        key
        for key in keys
        if key != "name" and len({repr(run.config.get(key, missing)) for run in runs}) > 1
    ]


def plot_comparison(path: Path, runs: list[Compared]) -> None:
    """One PNG: validation (solid) and training (dashed) loss, and validation accuracy (a
    regression's R², dotted), per epoch, one colour per run, written atomically."""
    from mlpx.plots import figure, save_png, whole_epoch_ticks

    fig = figure(12, 4.6)
    loss_ax, acc_ax = fig.subplots(1, 2)
    colors = [f"C{k % 10}" for k in range(len(runs))]
    regression = [any("val_r2" in r for r in run.history) for run in runs]
    for run, color, r2 in zip(runs, colors, regression, strict=True):
        epochs = [r["epoch"] for r in run.history]
        train = [r.get("train_loss") for r in run.history]
        loss_ax.plot(epochs, train, color=color, linestyle="--", linewidth=1)
        if r2:  # a regression's score: R²
            loss_ax.plot(epochs, [r.get("val_loss") for r in run.history], color=color)
            acc_ax.plot(epochs, [r.get("val_r2") for r in run.history], color=color,
                        linestyle=":", label=f"{run.label} (R²)")  # fmt: skip
        elif any("val_loss" in r for r in run.history):
            loss_ax.plot(epochs, [r.get("val_loss") for r in run.history], color=color)
            acc_ax.plot(epochs, [r.get("val_acc") for r in run.history], color=color,
                        label=run.label)  # fmt: skip
        else:
            acc_ax.plot(epochs, [r.get("train_acc") for r in run.history], color=color,
                        linestyle="--", label=f"{run.label} (train)")  # fmt: skip
    losses = [v for line in loss_ax.get_lines() for v in line.get_ydata() if v is not None]
    if losses and min(losses) > 0 and max(losses) > 100 * min(losses):
        loss_ax.set_yscale("log")  # runs far apart (one diverging) stay readable
    loss_ax.set(xlabel="epoch", ylabel="loss", title="loss: validation (solid), training (dashed)")
    score = "R²" if all(regression) else "accuracy / R² (dotted)" if any(regression) else ""
    score = score or "accuracy"
    acc_ax.set(xlabel="epoch", ylabel=score, title=f"validation {score}")
    for ax in (loss_ax, acc_ax):
        whole_epoch_ticks(ax)
        ax.grid(alpha=0.3)
    acc_ax.legend(fontsize=8, loc="lower right", ncol=1 if len(runs) <= 8 else 2)
    fig.tight_layout()
    save_png(fig, path)


def check_plot_path(path: Path, force: bool) -> None:
    """Refuse a figure path that is not .png, has no directory, or exists (unless ``force``)."""
    if path.suffix.lower() != ".png":
        raise UsageError(f"--out {path}: write a .png file")
    if not path.parent.is_dir():
        raise UsageError(f"--out {path}: directory {path.parent} does not exist")
    if path.is_dir():
        raise UsageError(f"--out {path}: is a directory")
    if path.exists() and not force:
        raise UsageError(f"--out {path}: exists; pass --force to overwrite it")
