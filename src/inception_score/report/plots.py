"""The report's figures, drawn with matplotlib (optional extra `inception-score[report]`) as SVG data URIs.

Figures are built with `matplotlib.figure.Figure` directly, never pyplot, so the user's
backend and global state are left alone.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import InceptionScoreError

SCORE = "#4338ca"
DIVERSITY = "#0f766e"
CONFIDENCE = "#c2410c"
MUTED = "#94a3b8"
INK = "#1e293b"
MISSING = (
    "the HTML report draws its plots with matplotlib, which is not installed: "
    "pip install 'inception-score[report]' (or pip install matplotlib)"
)
STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.edgecolor": "#cbd5e1",
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": "#475569",
    "ytick.color": "#475569",
    "axes.grid": True,
    "grid.color": "#e2e8f0",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
    "svg.fonttype": "path",
    "svg.hashsalt": "inception-score",
}


def require_matplotlib() -> None:
    """Raise a clear InceptionScoreError when matplotlib cannot be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InceptionScoreError(MISSING) from None


def _figure(width: float, height: float) -> Any:
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _data_uri(figure: Any) -> str:
    import matplotlib

    buffer = io.BytesIO()
    with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]  # rcParams keys
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _styled(draw):
    """Draw under the report's style (rcParams apply when axes are created, so wrap the whole drawing)."""

    def wrapper(*args: Any, **kwargs: Any) -> str:
        require_matplotlib()
        import matplotlib

        with matplotlib.rc_context(STYLE):  # type: ignore[arg-type]  # rcParams keys
            return _data_uri(draw(*args, **kwargs))

    wrapper.__doc__ = draw.__doc__
    return wrapper


@_styled
def split_scores_plot(split_scores: Sequence[float], mean: float, std: float, one_split: float) -> Any:
    """Bar per split, the mean ± std band, and the score of all images as one split."""
    figure = _figure(6.2, 2.9)
    axes = figure.add_subplot()
    positions = np.arange(1, len(split_scores) + 1)
    axes.axhspan(mean - std, mean + std, color=SCORE, alpha=0.12, lw=0, label=f"mean ± std = {mean:.3f} ± {std:.3f}")
    axes.bar(positions, split_scores, color=SCORE, alpha=0.85, width=0.7)
    axes.axhline(mean, color=SCORE, lw=1.4)
    axes.axhline(one_split, color=INK, lw=1.1, ls="--", label=f"all images as one split = {one_split:.3f}")
    axes.set_xticks(positions)
    axes.set_xlabel("split")
    axes.set_ylabel("Inception Score")
    axes.set_ylim(0, max(max(split_scores), one_split, mean + std) * 1.18)
    axes.legend(loc="upper right", frameon=False, ncols=2, fontsize=8)
    axes.grid(axis="x", visible=False)
    return figure


def _plain_log_ticks(axis: Any) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10))
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


@_styled
def decomposition_map(covered: float, per_image: float, num_classes: int) -> Any:
    """Diversity (x) against confidence (y, certain at the top) on log axes, with lines of equal IS."""
    figure = _figure(5.6, 4.4)
    axes = figure.add_subplot()
    top = float(num_classes)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(1, top)
    axes.set_ylim(top, 1)
    _plain_log_ticks(axes.xaxis)
    _plain_log_ticks(axes.yaxis)
    grid = np.geomspace(1, top, 200)
    axes.fill_between(grid, grid, top, color="#f8fafc", lw=0, zorder=0)
    axes.text(
        1.4,
        top / 1.6,
        "impossible: an image cannot be less\nsure than the whole set",
        color=MUTED,
        fontsize=7.5,
        va="bottom",
    )
    for level in (1, 2, 5, 10, 20, 50, 100, 200, 500):
        if level >= top:
            break
        axes.plot(grid, grid / level, color="#cbd5e1", lw=0.9 if level > 1 else 1.2, ls="-")
        axes.text(top * 1.06, top / level, f"IS {level}", color="#64748b", fontsize=7.5, va="center", clip_on=False)
    axes.text(1.4, 1.25, "few classes, each image clear\n(mode collapse)", fontsize=7.5, color="#64748b", va="top")
    axes.text(top / 1.4, 1.25, "many classes,\neach image clear", fontsize=7.5, color="#64748b", va="top", ha="right")
    axes.text(
        top / 1.4,
        top / 3.5,
        "many classes, each\nimage unclear (blur)",
        fontsize=7.5,
        color="#64748b",
        va="bottom",
        ha="right",
    )
    axes.scatter([covered], [per_image], s=150, color=SCORE, zorder=5, edgecolor="white", linewidth=1.8)
    right = covered > np.sqrt(top)
    axes.annotate(
        f"{covered:.1f} / {per_image:.1f} = IS {covered / per_image:.2f}",
        (covered, per_image),
        xytext=(-12 if right else 12, 12 if per_image > 2 else -16),
        textcoords="offset points",
        ha="right" if right else "left",
        color=SCORE,
        fontweight="bold",
        fontsize=9.5,
    )
    axes.set_xlabel("diversity: effective classes covered, exp H(y)  →", color=DIVERSITY, fontweight="bold")
    axes.set_ylabel("confidence: effective classes per image, exp E H(y|x)", color=CONFIDENCE, fontweight="bold")
    return figure


@_styled
def entropy_bar(marginal_entropy: float, mean_conditional_entropy: float, num_classes: int) -> Any:
    """log IS = H(y) - E H(y|x) as a waterfall: diversity, minus the confidence cost, leaves the score."""
    figure = _figure(5.4, 2.1)
    axes = figure.add_subplot()
    span = float(np.log(num_classes))
    log_score = marginal_entropy - mean_conditional_entropy
    rows = [
        (2, 0.0, marginal_entropy, DIVERSITY, f"H(y) = {marginal_entropy:.3f}"),
        (1, log_score, mean_conditional_entropy, CONFIDENCE, f"− E H(y|x) = {mean_conditional_entropy:.3f}"),
        (0, 0.0, log_score, SCORE, f"= log IS = {log_score:.3f}"),
    ]
    for y, left, width, color, text in rows:
        axes.barh([y], [width], left=[left], color=color, height=0.64)
        inside = width > 0.4 * span
        axes.text(
            left + width - span * 0.015 if inside else left + width + span * 0.015,
            y,
            text,
            color="white" if inside else color,
            ha="right" if inside else "left",
            va="center",
            fontsize=8.5,
            fontweight="bold",
        )
    axes.axvline(span, color=MUTED, ls="--", lw=1)
    axes.text(span * 0.99, 2.62, f"log {num_classes} = most possible", color="#64748b", fontsize=7.5, ha="right")
    axes.set_yticks([0, 1, 2], ["score", "confidence cost", "diversity"])
    axes.set_xlim(0, span * 1.01)
    axes.set_ylim(-0.5, 2.95)
    axes.set_xlabel("nats")
    axes.grid(axis="y", visible=False)
    return figure


@_styled
def class_histogram(marginal: np.ndarray, top1: np.ndarray, labels: Sequence[str], count: int = 50) -> Any:
    """The largest classes of p(y) as bars, with the share of images whose top-1 class it is as dots."""
    figure = _figure(11.0, 3.4)
    axes = figure.add_subplot()
    classes = np.argsort(-marginal, kind="stable")[:count]
    positions = np.arange(len(classes))
    top1_share = np.bincount(top1, minlength=len(marginal))[classes] / len(top1)
    axes.bar(positions, 100 * marginal[classes], color=DIVERSITY, alpha=0.85, width=0.75, label="p(y), % of all mass")
    axes.scatter(positions, 100 * top1_share, color=INK, s=12, zorder=4, label="% of images with it as top-1")
    axes.axhline(
        100 / len(marginal),
        color=MUTED,
        ls="--",
        lw=1,
        label=f"uniform over all {len(marginal)} classes ({100 / len(marginal):.2f}%)",
    )
    axes.set_xticks(positions, [labels[c] for c in classes], rotation=90, fontsize=7)
    axes.set_xlim(-0.7, len(classes) - 0.3)
    axes.set_ylabel("% of images")
    axes.legend(loc="upper right", frameon=False, fontsize=8)
    axes.grid(axis="x", visible=False)
    return figure


@_styled
def confidence_histogram(max_probability: np.ndarray) -> Any:
    """Histogram of each image's largest class probability."""
    figure = _figure(6.2, 2.9)
    axes = figure.add_subplot()
    axes.hist(max_probability, bins=np.linspace(0, 1, 41), color=CONFIDENCE, alpha=0.85)
    median = float(np.median(max_probability))
    axes.axvline(median, color=INK, lw=1.1, ls="--", label=f"median {median:.3f}")
    axes.set_xlim(0, 1)
    axes.set_xlabel("max_y p(y|x): how sure the network is of each image's class")
    axes.set_ylabel("images")
    axes.legend(loc="upper right", frameon=False, fontsize=8)
    return figure


@_styled
def extrapolation_plot(fits: Sequence[tuple[str, dict[str, Any]]]) -> Any:
    """Each fit of IS-infinity / FID-infinity: the metric on subsets of n images against 1/n, the fitted
    line, and its intercept at 1/n = 0 (infinitely many images)."""
    figure = _figure(6.2, 2.9)
    panels = figure.subplots(1, len(fits), squeeze=False)[0]
    for axes, (label, fit), colour in zip(panels, fits, (SCORE, CONFIDENCE)):
        inverse = 1.0 / np.asarray(fit["sizes"], dtype=np.float64)
        line = np.linspace(0.0, float(inverse.max()), 50)
        axes.plot(inverse, fit["values"], "o", color=colour, ms=4, label="subsets")
        axes.plot(line, fit["intercept"] + fit["slope"] * line, color=INK, lw=1.1, label="fit")
        axes.plot([0.0], [fit["intercept"]], "D", color=colour, ms=6, label=f"{label} = {fit['intercept']:.3f}")
        axes.set_xlabel("1 / n (images in the subset)")
        axes.set_ylabel(label.replace("-infinity", ""))
        axes.set_xlim(left=-0.02 * float(inverse.max()))
        axes.legend(loc="best", frameon=False, fontsize=8)
    return figure
