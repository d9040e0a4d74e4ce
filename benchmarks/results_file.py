"""Where and how every benchmark writes its results: benchmarks/results/<kind>-<when>-<host>.json,
opening with when, where and on what it ran."""

from __future__ import annotations

import json
import os
import platform
import socket
from datetime import datetime
from pathlib import Path


def write_results(out: Path, kind: str, quick: bool, results: dict) -> Path:
    """``results`` after the date, host, platform and core count, as JSON in ``out``; the
    file's name says the kind, the time, the host and whether it was a --quick run."""
    stamp = datetime.now()
    document = {
        "date": stamp.isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    } | results
    out.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if quick else ""
    path = out / f"{kind}-{stamp:%Y%m%d-%H%M%S}-{socket.gethostname()}{suffix}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
