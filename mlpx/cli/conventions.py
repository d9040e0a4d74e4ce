"""Command-line conventions every command shares: help text that wraps to the terminal and
metavars that read as words (``N``, ``PATH``, ``KEY=VALUE``), not Python types (``<int>``,
``<list[str]>``, ``<bool>`` after a flag)."""

from __future__ import annotations

import inspect

from typer.core import TyperArgument, TyperCommand, TyperGroup

READABLE = {
    "int": "N",
    "int range": "N",
    "float": "NUMBER",
    "float range": "NUMBER",
    "str": "TEXT",
    "path": "PATH",
    "bool": "",
}
"""Typer's type labels and the metavar shown instead."""


def unwrap(text: str | None) -> str | None:
    """Help text whose paragraphs (separated by a blank line) are each one line, so that the
    terminal wraps them at its width instead of at the source's line breaks."""
    if text is None:
        return None
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(p.split("\n")) for p in paragraphs)


def readable(label: str | None) -> str:
    """``<list[str]>`` -> ``TEXT...``, ``<int>`` -> ``N``, ``<a|b>`` kept as ``a|b``."""
    label = (label or "").strip("<>")
    if label.startswith("list[") and label.endswith("]"):
        return readable(label[5:-1]) + "..."
    return READABLE.get(label, label)


def readable_metavars(params, ctx) -> None:
    """Give every parameter without an explicit metavar a readable one (flags none)."""
    for param in params:
        if isinstance(param, TyperArgument):
            if param.metavar is None:
                param.metavar = param.name.upper()
            param.display_type_rich = lambda ctx: None  # the name column already says it
        elif param.metavar is None:
            param.metavar = (
                "" if getattr(param, "is_flag", False) else (readable(param.display_type(ctx)))
            )


class Command(TyperCommand):
    """A Typer command with unwrapped help and readable metavars."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.help = unwrap(self.help)

    def get_params(self, ctx):
        params = super().get_params(ctx)
        readable_metavars(params, ctx)
        return params


class Group(TyperGroup):
    """The ``mlpx`` group: readable metavars for its own options too."""

    def get_params(self, ctx):
        params = super().get_params(ctx)
        readable_metavars(params, ctx)
        return params
