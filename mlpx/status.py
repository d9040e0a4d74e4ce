"""The statuses a run or a group of runs (a sweep, a cross-validation) can have, and the one
rule that gives a group its status from its members'."""

from __future__ import annotations

from collections.abc import Iterable

RUN_STATUSES = ("running", "completed", "interrupted", "diverged", "failed", "killed", "crashed")
"""``killed``: a group's member whose process died; ``crashed``: a run whose summary says
running but whose process is gone (see :func:`mlpx.runs.run_status`)."""
GROUP_STATUSES = ("running", "completed", "interrupted", "incomplete")
FINISHED = ("completed", "diverged")
"""Member statuses that are final: resuming a group keeps these (the same seed diverges
again) and runs every other member again."""


def group_status(members: Iterable[str], planned: int, interrupted: bool = False) -> str:
    """A group's status from its members' statuses (of those that have one so far).

    ``running`` while a member runs; ``interrupted`` after Ctrl-C or SIGTERM (the group's own,
    or a member's); ``completed`` when all ``planned`` members completed; otherwise
    ``incomplete`` (a member failed, diverged, was killed, or never ran).
    """
    statuses = list(members)
    if "running" in statuses:
        return "running"
    if interrupted or "interrupted" in statuses:
        return "interrupted"
    if len(statuses) == planned and all(status == "completed" for status in statuses):
        return "completed"
    return "incomplete"
