"""Why cross-entropy must be computed with log-sum-exp: five ways to compute it, measured.

For each range (lo, hi) the demo draws ``iterations`` batches of scores (N, C) uniform in
(lo, hi) and labels uniform in [0, C), computes the mean cross-entropy of every batch five
ways and counts how often each way equals PyTorch's ``F.cross_entropy`` to 3 decimals:

(a) ``torch.nn.functional.cross_entropy``: the reference;
(b) softmax ``exp(s_i) / sum_j exp(s_j)``, then ``-log`` of the true class's probability;
(c) naive log-sum-exp: ``log(sum_j exp(s_j)) - s_y``;
(d) ``torch.logsumexp(s) - s_y``;
(e) max-shift log-sum-exp ``c + log(sum_j exp(s_j - c)) - s_y``, ``c = max_j s_j``.

(b), (c) and (e) are plain NumPy in the requested dtype (float32 stays float32), the math
the NumPy backend uses. Nothing here prints; the CLI renders the results.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mlpx.atomic import atomic_path, write_json_atomic
from mlpx.errors import ConfigError
from mlpx.losses.cross_entropy import logsumexp
from mlpx.memory import check_fits
from mlpx.outputs import check_output_file

DTYPES = ("float32", "float64")
DEFAULT_RANGES = ((0.0, 1.0), (0.0, 100.0))
# "Equal to 3 decimals": closer than half a unit in the third decimal.
TOLERANCE = 0.5e-3
ILLUSTRATION_SCORES = ((1000.0, 1000.0, 1000.0), (-1000.0, -1000.0, -1000.0))


@dataclass(frozen=True)
class Way:
    """One way of computing the loss: ``key`` in files, ``label`` in tables."""

    key: str
    label: str


WAYS = (
    Way("torch_cross_entropy", "(a) F.cross_entropy"),
    Way("softmax", "(b) softmax, -log p_y"),
    Way("naive_logsumexp", "(c) naive log-sum-exp"),
    Way("torch_logsumexp", "(d) torch.logsumexp"),
    Way("max_shift", "(e) max-shift log-sum-exp"),
)
REFERENCE = WAYS[0]
LABELS = {way.key: way.label for way in WAYS}


@dataclass(frozen=True)
class DemoSettings:
    """What to measure; built with :func:`demo_settings`, which validates every field."""

    ranges: tuple[tuple[float, float], ...]
    batch_size: int
    classes: int
    iterations: int
    seed: int
    dtype: str


@dataclass(frozen=True)
class WayStats:
    """How one way compares with the reference over the iterations of one range.

    agreement_percent : share of iterations with ``abs(loss - reference) < 0.5e-3``
        (NaN and inf never agree).
    nan_inf : iterations whose loss is NaN or +-inf.
    max_abs_diff : largest ``abs(loss - reference)`` over iterations where both are finite;
        None when there is no such iteration.
    """

    agreement_percent: float
    nan_inf: int
    max_abs_diff: float | None


@dataclass(frozen=True)
class RangeResult:
    """Every way's statistics for one range, and how often the naive softmax left the dtype.

    exp_overflow, exp_underflow : iterations in which :func:`exp_trouble` found overflow,
        underflow.
    """

    lo: float
    hi: float
    ways: dict[str, WayStats]
    exp_overflow: int
    exp_underflow: int

    @property
    def name(self) -> str:
        """The range as the user writes it, e.g. ``0..100``."""
        return f"{self.lo:g}..{self.hi:g}"


@dataclass(frozen=True)
class Illustration:
    """One batch of equal scores through every way; each class's loss should be log(C)."""

    scores: tuple[float, ...]
    expected: float
    values: dict[str, float]


@dataclass(frozen=True)
class DemoResult:
    """Everything the demo measured, in the order of the settings' ranges."""

    settings: DemoSettings
    ranges: list[RangeResult]
    illustrations: list[Illustration]

    def to_dict(self) -> dict:
        """Plain JSON-ready data; NaN and inf become strings ``"nan"``, ``"inf"``, ``"-inf"``."""
        return _json_safe(
            {
                "parameters": {**asdict(self.settings), "tolerance": TOLERANCE},
                "ways": LABELS,
                "ranges": [asdict(r) for r in self.ranges],
                "illustration": [asdict(case) for case in self.illustrations],
                "conclusion": conclusion(self),
            }
        )


def _json_safe(value):
    """``value`` with NaN and inf floats replaced by strings ``"nan"``, ``"inf"``, ``"-inf"``."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def parse_range(text: str) -> tuple[float, float]:
    """Parse ``--range`` text ``"lo,hi"`` into two finite floats with ``lo < hi``."""
    parts = text.split(",")
    try:
        lo, hi = (float(part) for part in parts)
    except ValueError:
        raise ConfigError(
            f"--range {text!r}: expected two numbers lo,hi with lo < hi, e.g. 0,100"
        ) from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ConfigError(f"--range {text!r}: lo and hi must be finite numbers, e.g. 0,100")
    if lo >= hi:
        raise ConfigError(f"--range {text!r}: lo must be smaller than hi, e.g. 0,100")
    return lo, hi


def demo_settings(
    ranges: list[str] | None = None,
    batch_size: int = 64,
    classes: int = 10,
    iterations: int = 1000,
    seed: int = 0,
    dtype: str = "float32",
) -> DemoSettings:
    """Validate the demo's options; errors name the option, the value and what is allowed.

    Parameters
    ----------
    ranges : ``"lo,hi"`` texts; None for the defaults 0,1 and 0,100.
    batch_size, classes, iterations : positive integers.
    seed : seed of ``np.random.default_rng``.
    dtype : ``"float32"`` or ``"float64"``.

    Raises
    ------
    ConfigError
        On a malformed range, a non-positive size or an unknown dtype.
    """
    for option, value in (
        ("--batch-size", batch_size),
        ("--classes", classes),
        ("--iterations", iterations),
    ):
        if value < 1:
            raise ConfigError(f"{option} {value}: must be a positive integer")
    if not 0 <= seed < 2**63:
        raise ConfigError(f"--seed {seed}: must be an integer from 0 to 2**63 - 1")
    if dtype not in DTYPES:
        raise ConfigError(f"--dtype {dtype!r}: allowed are {', '.join(DTYPES)}")
    # a batch of scores, its exponentials and torch's copies: about six of them at once
    batch_bytes = 6 * batch_size * classes * np.dtype(dtype).itemsize
    check_fits(batch_bytes, f"--batch-size {batch_size} --classes {classes}", "use smaller ones")
    parsed = tuple(parse_range(text) for text in ranges) if ranges else DEFAULT_RANGES
    largest = float(np.finfo(dtype).max)
    for lo, hi in parsed:
        if max(abs(lo), abs(hi)) > largest:
            raise ConfigError(
                f"--range {lo:g},{hi:g}: {dtype} holds numbers up to {largest:.3g} in size"
            )
    return DemoSettings(parsed, batch_size, classes, iterations, seed, dtype)


def batch_losses(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The mean cross-entropy of one batch, computed the five ways.

    Parameters
    ----------
    scores : (N, C) float32 or float64 scores; the NumPy ways compute in this dtype.
    labels : (N,) int64 true classes in [0, C).

    Returns
    -------
    The loss per way key (see ``WAYS``); NaN or inf where a way breaks.
    """
    import torch
    import torch.nn.functional as F

    rows = np.arange(len(labels))
    true_scores = scores[rows, labels]
    # Overflow, 0/0 and log(0) are what the demo is about: let them happen quietly.
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        exps = np.exp(scores)
        probs = exps / exps.sum(axis=1, keepdims=True)
        softmax = np.mean(-np.log(probs[rows, labels]))
        naive = np.mean(np.log(exps.sum(axis=1)) - true_scores)
        shifted = np.mean(logsumexp(scores, axis=1) - true_scores)
    x = torch.from_numpy(scores)
    y = torch.from_numpy(labels)
    return {
        "torch_cross_entropy": F.cross_entropy(x, y).item(),
        "softmax": float(softmax),
        "naive_logsumexp": float(naive),
        "torch_logsumexp": (torch.logsumexp(x, dim=1) - x[torch.arange(len(y)), y]).mean().item(),
        "max_shift": float(shifted),
    }


def compare(losses: np.ndarray, reference: np.ndarray) -> WayStats:
    """Compare one way's losses with the reference's, iteration by iteration.

    Parameters
    ----------
    losses, reference : (iterations,) losses of the way and of the reference.
    """
    finite = np.isfinite(losses) & np.isfinite(reference)
    diff = np.abs(losses - reference, where=finite, out=np.full(losses.shape, np.inf))
    return WayStats(
        agreement_percent=100.0 * float(np.mean(diff < TOLERANCE)),
        nan_inf=int(np.sum(~np.isfinite(losses))),
        max_abs_diff=float(diff[finite].max()) if finite.any() else None,
    )


def measure_range(lo: float, hi: float, settings: DemoSettings) -> RangeResult:
    """Draw ``settings.iterations`` batches uniform in (lo, hi) and compare the five ways.

    Each range starts its own ``np.random.default_rng(settings.seed)``, so a range's numbers
    do not depend on which other ranges are measured.
    """
    rng = np.random.default_rng(settings.seed)
    losses = np.empty((settings.iterations, len(WAYS)))
    overflow = underflow = 0
    shape = (settings.batch_size, settings.classes)
    with _one_torch_thread():
        for i in range(settings.iterations):
            scores = rng.uniform(lo, hi, size=shape).astype(settings.dtype)
            labels = rng.integers(0, settings.classes, size=settings.batch_size)
            batch = batch_losses(scores, labels)
            losses[i] = [batch[way.key] for way in WAYS]
            overflowed, underflowed = exp_trouble(scores, labels)
            overflow += overflowed
            underflow += underflowed
    reference = losses[:, 0]
    return RangeResult(
        lo=lo,
        hi=hi,
        ways={way.key: compare(losses[:, k], reference) for k, way in enumerate(WAYS)},
        exp_overflow=overflow,
        exp_underflow=underflow,
    )


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Run torch single-threaded inside the block, then restore its thread count.

    Small batches gain nothing from threads, and on a busy machine waking them made each
    ``F.cross_entropy`` call take milliseconds instead of microseconds.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def exp_trouble(scores: np.ndarray, labels: np.ndarray) -> tuple[bool, bool]:
    """Whether the naive softmax of this batch overflows or underflows, in the scores' dtype.

    Parameters
    ----------
    scores : (N, C) scores; labels : (N,) true classes.

    Returns
    -------
    overflow : some row's ``sum_j exp(s_j)`` is inf.
    underflow : in some row without overflow, ``sum_j exp(s_j)`` or the true class's
        probability ``exp(s_y) / sum_j exp(s_j)`` is 0.
    """
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        exps = np.exp(scores)
        sums = exps.sum(axis=1)
        true_probs = exps[np.arange(len(labels)), labels] / sums
    finite = np.isfinite(sums)
    underflow = finite & ((sums == 0) | (true_probs == 0))
    return bool((~finite).any()), bool(underflow.any())


def illustrate(scores: tuple[float, ...], dtype: str) -> Illustration:
    """Put one row of equal ``scores`` through every way, once per true class.

    All scores equal means every class has probability 1/C, so every way should give
    log(C), whatever the scores' size.
    """
    classes = len(scores)
    batch = np.tile(np.asarray(scores, dtype=dtype), (classes, 1))
    values = batch_losses(batch, np.arange(classes))
    return Illustration(scores=tuple(scores), expected=math.log(classes), values=values)


def run_demo(settings: DemoSettings) -> DemoResult:
    """Measure every range of ``settings`` and run the two-line illustration."""
    return DemoResult(
        settings=settings,
        ranges=[measure_range(lo, hi, settings) for lo, hi in settings.ranges],
        illustrations=[illustrate(scores, settings.dtype) for scores in ILLUSTRATION_SCORES],
    )


def exp_limits(dtype: str) -> tuple[float, float]:
    """The scores x for which ``exp(x)`` in ``dtype`` is neither 0 nor inf: (lowest, highest)."""
    info = np.finfo(dtype)
    # exp(x) rounds to 0 below the log of half the smallest subnormal number.
    return math.log(float(info.smallest_subnormal)) - math.log(2.0), math.log(float(info.max))


def conclusion(result: DemoResult) -> list[str]:
    """The lesson, as sentences generated from the measured numbers.

    One line per way (where it agrees with the reference, where it breaks), then why each
    broken range broke (from the measured overflow and underflow counts and differences),
    then what the ways that never broke have in common. Nothing is decided in advance.
    """
    dtype = result.settings.dtype
    n = result.settings.iterations
    ordered = sorted(result.ranges, key=lambda r: (r.hi, r.lo))
    lines = []
    for way in WAYS[1:]:
        bad = [r for r in ordered if r.ways[way.key].agreement_percent < 100.0]
        good = [r for r in ordered if r not in bad]
        if not bad:
            names = ", ".join(r.name for r in ordered)
            lines.append(f"{way.label} agrees with {REFERENCE.label} on every range ({names}).")
            continue
        details = "; ".join(
            f"{r.name}: {r.ways[way.key].agreement_percent:.1f}% agree, "
            f"{r.ways[way.key].nan_inf}/{n} NaN or inf"
            for r in bad
        )
        if good and bad == ordered[len(good) :]:
            where = f"from {bad[0].name} on"
        else:
            where = "on " + ", ".join(r.name for r in bad)
        agrees = f"; agrees on {', '.join(r.name for r in good)}" if good else ""
        lines.append(f"{way.label} breaks {where} ({details}){agrees}.")
    for r in ordered:
        if any(stats.agreement_percent < 100.0 for stats in r.ways.values()):
            lines += _why(r, dtype, n)
    if not any(r.exp_overflow or r.exp_underflow for r in result.ranges):
        low, high = exp_limits(dtype)
        lines.append(
            f"exp never overflowed or underflowed: {dtype} holds exp(x) for "
            f"{low:.2f} <= x <= {high:.2f}, and these scores stay inside."
        )
        other = "float32" if dtype == "float64" else "float64"
        other_low, other_high = exp_limits(other)
        overflow = [r.name for r in ordered if r.hi > other_high]
        underflow = [r.name for r in ordered if r.lo < other_low]
        if overflow or underflow:
            past = [
                f"scores in {', '.join(names)} would {what} there"
                for names, what in ((overflow, "overflow"), (underflow, "underflow"))
                if names
            ]
            lines.append(
                f"In {other}, exp(x) is finite and nonzero only for {other_low:.2f} <= x <= "
                f"{other_high:.2f}: {' and '.join(past)}."
            )
    stable = [
        LABELS[key]
        for key in ("torch_logsumexp", "max_shift")
        if all(r.ways[key].agreement_percent == 100.0 for r in result.ranges)
    ]
    if stable:
        lines.append(
            f"{' and '.join(stable)} never broke: with c = max_j s_j, "
            "c + log(sum_j exp(s_j - c)) has largest exponent exp(0) = 1, so nothing "
            "overflows, and a sum >= 1, so the log never sees 0."
        )
    return lines


def _why(r: RangeResult, dtype: str, n: int) -> list[str]:
    """Why ways broke on range ``r``, from its overflow and underflow counts and differences."""
    low, high = exp_limits(dtype)
    reasons = []
    if r.exp_overflow:
        reasons.append(
            f"Why {r.name}: exp(s_j), or its sum over j, overflowed to inf in "
            f"{r.exp_overflow}/{n} iterations ({dtype} holds exp(x) only up to "
            f"x = {high:.2f}, these scores reach {r.hi:g}); softmax "
            "then divides inf by inf = NaN (or a finite number by inf = 0, and -log(0) = inf), "
            "and log(sum exp) = inf."
        )
    if r.exp_underflow:
        reasons.append(
            f"Why {r.name}: the naive softmax underflowed to 0 in {r.exp_underflow}/{n} "
            f"iterations ({dtype}'s exp(x) is 0 below x = {low:.2f}, and so is a true class's "
            "probability exp(s_y) / sum_j exp(s_j) when s_y lies that far below the largest "
            "score); -log(0) = inf, and a row summing to 0 gives 0/0 = NaN and log(0) = -inf."
        )
    rounded = [
        way.label
        for way in WAYS
        if (diff := r.ways[way.key].max_abs_diff) is not None and diff >= TOLERANCE
    ]
    if rounded:
        worst = max(r.ways[way.key].max_abs_diff or 0.0 for way in WAYS)
        info = np.finfo(dtype)
        reasons.append(
            f"Why {r.name}: {', '.join(rounded)} {'differs' if len(rounded) == 1 else 'differ'} "
            f"from the reference by up to {worst:.3g} where finite: rounding error, {dtype} "
            f"keeps about {info.precision} significant digits (fewer in subnormal numbers, "
            f"below {float(info.smallest_normal):.3g})."
        )
    return reasons


def check_output_path(path: Path, option: str, force: bool, suffix: str | None = None) -> None:
    """Refuse to overwrite ``path`` unless ``force``, or to write where nothing can be
    written; with ``suffix``, insist on it (:func:`mlpx.outputs.check_output_file`)."""
    check_output_file(path, option, force, (suffix,) if suffix else (), create_parents=True)


def write_json(result: DemoResult, path: Path) -> None:
    """Write ``result.to_dict()`` to ``path`` atomically (no half-written file on a crash)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, result.to_dict())


def plot_agreement(result: DemoResult, path: Path) -> None:
    """Draw each way's agreement percentage against the upper end of the range.

    The x axis is logarithmic; it is symmetric-logarithmic when some range ends at or below 0.
    Written as PNG, atomically.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ordered = sorted(result.ranges, key=lambda r: (r.hi, r.lo))
    his = [r.hi for r in ordered]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    markers = "os^vD"
    for k, way in enumerate(WAYS):
        agreement = [r.ways[way.key].agreement_percent for r in ordered]
        # Shrinking markers keep overlapping lines (ways that agree everywhere) visible.
        ax.plot(his, agreement, marker=markers[k], markersize=11 - 2 * k, label=way.label)
    if min(his) > 0:
        ax.set_xscale("log")
    else:
        ax.set_xscale("symlog", linthresh=1.0)
    s = result.settings
    ax.set_xlabel("upper end of the score range (hi)")
    ax.set_ylabel(f"% of iterations equal to {REFERENCE.label} (3 decimals)")
    ax.set_ylim(-5, 105)
    ax.set_title(
        f"Cross-entropy five ways, {s.dtype}, {s.iterations} batches of {s.batch_size}x{s.classes}"
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
