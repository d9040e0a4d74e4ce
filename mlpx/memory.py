"""Memory a command is about to ask for, checked against what the machine has.

Allocating a 47 GiB weight matrix does not fail politely: NumPy or torch raise MemoryError
deep inside, or the kernel kills the process. The sizes of a model, a batch or a dataset are
known beforehand, so the commands estimate them here and refuse (one
:class:`~mlpx.errors.ConfigError`, exit 2) what cannot fit.
"""

from __future__ import annotations

import os

from mlpx.errors import ConfigError

GIB = 2**30


def available_bytes() -> int:
    """Memory this process could still get: MemAvailable on Linux, else physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, AttributeError):
        return 2**63  # unknown: let the allocation itself decide


def human(n_bytes: float) -> str:
    """``n_bytes`` as GiB, MiB or bytes, e.g. ``47.7 GiB``."""
    if n_bytes >= GIB:
        return f"{n_bytes / GIB:.1f} GiB"
    if n_bytes >= 2**20:
        return f"{n_bytes / 2**20:.1f} MiB"
    return f"{int(n_bytes)} bytes"


def check_fits(n_bytes: float, what: str, advice: str) -> None:
    """Refuse ``what`` (e.g. ``model.hidden [100000000]``) when its estimated ``n_bytes``
    exceed the available memory; ``advice`` says what to make smaller."""
    available = available_bytes()
    if n_bytes > available:
        raise ConfigError(
            f"{what} needs about {human(n_bytes)} of memory but {human(available)} is "
            f"available; {advice}"
        )
