"""One self-contained HTML file that explains an ISResult: numbers and their meaning, plots, thumbnails, protocol.

Everything is embedded (plots as SVG, thumbnails as PNG data URIs) and a Content-Security-Policy
forbids the page any request, so it opens offline and never contacts a server.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import html
import io
import json
import os
import platform
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import InceptionScoreError
from ..pipeline.files import check_output, umask_mode
from ..pipeline.sources import decode, open_source
from ..results import Evaluation, ISResult, ScoreDetails
from . import plots

THUMBNAIL_PIXELS = 128
GALLERY_SIZE = 8
CLASS_GALLERY_SIZE = 8
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
NO_NAMES_NOTE = (
    "Classes are shown by their index among the network's outputs. This package ships no class "
    "names for the 2015 network's 1008 outputs: no copy of its label map with a clear licence was "
    "available to include. Pass <code>class_names=[...]</code> (API) or "
    "<code>--class-names FILE</code> (one name per line) to label them."
)


@dataclass(frozen=True)
class Thumbnail:
    """An image of the scored set, shrunk for the page."""

    uri: str
    caption: str
    title: str
    small: bool  # shown enlarged with sharp pixels


def save_report(
    result: ISResult | Evaluation,
    path: str | os.PathLike,
    *,
    source: Any = None,
    fid: Any = None,
    kid: Any = None,
    compared_with: str | None = None,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    manifold: Any = None,
) -> Path:
    """Write the self-contained HTML report for `result` to `path` (atomically) and return the path.

    Parameters
    ----------
    result
        An ISResult, or an Evaluation (its FID, KID, FD_DINOv2, FD_CLIP and CMMD are shown too).
    path
        The .html file to write; its folder must exist.
    source
        What was scored (folder, paths, array...), for thumbnails.
    fid, kid
        A FIDResult or a number, a KIDResult or (mean, std): shown beside the score, against
        `compared_with` or the reference the results name.
    class_names
        One name per class index, for the class table.
    title
        The page title.
    manifold
        A ManifoldResult (precision/recall, density/coverage, per-sample realism): the report then
        shows the least realistic samples and those outside the reference manifold.

    Returns
    -------
    Path
        The written file. Needs matplotlib (``pip install 'inception-score[report]'``).
    """
    others: list[Any] = []
    if isinstance(result, Evaluation):
        if result.inception_score is None:
            raise InceptionScoreError("the report explains an Inception Score: include 'is' in metrics")
        fid = result.fid if fid is None else fid
        kid = result.kid if kid is None else kid
        manifold = result.manifold if manifold is None else manifold
        others = [other for other in (result.fd_dinov2, result.fd_clip, result.cmmd) if other is not None]
        result = result.inception_score
    path = check_report_path(path)
    page = render_report(
        result,
        source=source,
        fid=fid,
        kid=kid,
        compared_with=compared_with,
        class_names=class_names,
        title=title,
        manifold=manifold,
        others=others,
    )
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(page)
        umask_mode(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def check_report_path(path: str | os.PathLike, *, inputs: tuple[object, ...] = ()) -> Path:
    """The report's path, if an HTML file can be written there (checked before scoring)."""
    return check_output(path, "report", "--report", inputs=inputs)


def read_class_names(path: str | os.PathLike) -> list[str]:
    """Class names from a text file, one per line, line i naming class i."""
    try:
        names = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InceptionScoreError(f"{path}: cannot read class names ({error})") from None
    if not any(name.strip() for name in names):
        raise InceptionScoreError(f"{path}: no class names in it; write one name per line, line i naming class i")
    return [name.strip() for name in names]


def render_report(
    result: ISResult,
    *,
    source: Any = None,
    fid: Any = None,
    kid: Any = None,
    compared_with: str | None = None,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    manifold: Any = None,
    others: Sequence[Any] = (),
) -> str:
    """The report as one HTML string; `others`: distances in other feature spaces (FD_DINOv2, FD_CLIP, CMMD
    results) shown beside FID and KID."""
    plots.require_matplotlib()
    details = details_of(result)
    if details is None:
        raise InceptionScoreError(
            "this result carries no per-image details (results rebuilt from JSON do not); "
            "score the images again with this package to make a report"
        )
    labels = _class_labels(result.num_classes, class_names)
    images = open_source(source) if source is not None else None
    if images is not None and images.streamed:
        raise InceptionScoreError(
            f"{images.description}: a generator or callable cannot be read again for "
            "thumbnails; pass the images as an array or files, or leave source out"
        )
    if images is not None and len(images) != result.n + result.skipped:
        raise InceptionScoreError(
            f"{images.description} has {len(images)} images but the result scored {result.n}"
            f"{f' and skipped {result.skipped}' if result.skipped else ''}: "
            "pass the source that was scored"
        )
    distances = _distances(fid, kid, compared_with) + [_other_distance(other) for other in others]
    notes = list(dict.fromkeys([*result.warnings, *(note for d in distances for note in d.warnings)]))
    sections = [
        _headline(result, distances),
        _warnings(notes),
        _decomposition(result),
        _splits(result),
        _classes(result, labels, class_names is not None),
        _confidence(result),
        _galleries(result, images, labels),
        _realism(result, images, labels, manifold),
        _protocol(result, images, distances),
    ]
    heading = html.escape(title or "Inception Score report")
    return _PAGE.format(
        title=heading,
        csp=CSP,
        style=_STYLE,
        body="\n".join(part for part in sections if part),
        subtitle=html.escape(images.description if images is not None else f"{result.n} images"),
    )


@dataclass(frozen=True)
class Distance:
    """FID, KID, FD_DINOv2, FD_CLIP or CMMD as the report shows it."""

    key: str  # "fid", "kid", "fd_dinov2", "fd_clip" or "cmmd"
    value: float
    std: float | None
    against: str | None
    detail: str
    warnings: tuple[str, ...] = ()
    name: str = ""  # the label: FID, KID, FD_DINOv2, KD_DINOv2, CMMD... (default: the key in capitals)
    features: str = "pool3 features"  # what is compared

    @property
    def label(self) -> str:
        return self.name or self.key.upper()


def _features_of(result: Any) -> str:
    space = getattr(result, "feature_space", None)
    return f"{space} features" if space not in (None, "inception-2015", "torchvision") else "pool3 features"


def _other_distance(result: Any) -> Distance:
    """An FD_DINOv2 / FD_CLIP (FIDResult) or CMMD (CMMDResult) as the report shows it."""
    if hasattr(result, "fid"):
        key = result.name.lower()
        detail = f"{_count(result.n_a)} vs {_count(result.n_b)} images"
        return Distance(
            key, float(result.fid), None, result.b, detail, tuple(result.warnings), result.name, _features_of(result)
        )
    detail = f"{result.n_a} vs {result.n_b} images, RBF sigma {result.sigma:g}, x{result.scale:g}, {result.estimator}"
    features = f"{result.feature_space or 'custom'} embeddings"
    return Distance("cmmd", float(result.value), None, result.b, detail, tuple(result.warnings), "CMMD", features)


def _distances(fid: Any, kid: Any, compared_with: str | None) -> list[Distance]:
    """FID/KID given as result objects (FIDResult, KIDResult) or as plain numbers."""
    found = []
    if fid is not None:
        if hasattr(fid, "fid"):
            found.append(
                Distance(
                    "fid",
                    float(fid.fid),
                    None,
                    compared_with or fid.b,
                    f"{_count(fid.n_a)} vs {_count(fid.n_b)} images",
                    tuple(fid.warnings),
                    fid.name,
                    _features_of(fid),
                )
            )
        else:
            found.append(Distance("fid", float(fid), None, compared_with, ""))
    if kid is not None:
        if hasattr(kid, "subsets"):
            found.append(
                Distance(
                    "kid",
                    float(kid.mean),
                    float(kid.std),
                    compared_with or kid.b,
                    f"{kid.subsets} subsets of {kid.subset_size}, seed {kid.seed}",
                    tuple(kid.warnings),
                    kid.name,
                    _features_of(kid),
                )
            )
        else:
            mean, std = (float(value) for value in kid)
            found.append(Distance("kid", mean, std, compared_with, ""))
    return found


def _count(n: int | None) -> str:
    return "?" if n is None else str(n)


def _class_labels(num_classes: int, class_names: Sequence[str] | None) -> list[str]:
    if class_names is None:
        return [f"#{index}" for index in range(num_classes)]
    if len(class_names) < num_classes:
        raise InceptionScoreError(
            f"{len(class_names)} class names given for {num_classes} classes: "
            "give one name per class (line i names class i)"
        )
    return [f"{name} (#{index})" for index, name in enumerate(class_names[:num_classes])]


def _number(value: float, digits: int = 4) -> str:
    return f"{value:.{digits}f}"


def _card(key: str, value: float, shown: str, label: str, meaning: str, tone: str, extra: str = "") -> str:
    return (
        f'<div class="card {tone}" data-metric="{key}" data-value="{value!r}">'
        f'<div class="label">{label}</div><div class="value">{shown}</div>{extra}'
        f'<div class="meaning">{meaning}</div></div>'
    )


def _headline(result: ISResult, distances: list[Distance]) -> str:
    if result.one_split_interval is None:
        interval = '<div class="sub">add <code>--bootstrap 1000</code> for a 95% interval</div>'
    else:
        low, high = result.one_split_interval
        interval = (
            f'<div class="sub" data-metric="one_split_interval" data-low="{low!r}" data-high="{high!r}">'
            f"95% bootstrap interval <b>{_number(low)}</b> to <b>{_number(high)}</b> "
            f"({result.bootstrap_resamples} resamples)</div>"
        )
    std = (
        f'<div class="sub" data-metric="std" data-value="{result.std!r}">± <b>{_number(result.std)}</b> '
        f"std over {result.splits} splits</div>"
    )
    primary = [
        _card(
            "mean",
            result.mean,
            _number(result.mean),
            "Inception Score",
            f"exp E KL(p(y|x) ‖ p(y)), from 1 to {result.num_classes}; higher is better. Published scores use "
            "50,000 images and 10 splits.",
            "score",
            std,
        ),
        _card(
            "one_split_score",
            result.one_split_score,
            _number(result.one_split_score),
            "All images as one split",
            "the score of the whole set at once; the interval shows how much another sample of the same size "
            "could move it.",
            "score",
            interval,
        ),
        _card(
            "effective_classes_covered",
            result.effective_classes_covered,
            _number(result.effective_classes_covered, 2),
            "Diversity: classes covered",
            f"exp H(y): the images spread over this many classes, as if equally often (max {result.num_classes}). "
            "Low means mode collapse.",
            "diversity",
        ),
        _card(
            "effective_classes_per_image",
            result.effective_classes_per_image,
            _number(result.effective_classes_per_image, 2),
            "Confidence: classes per image",
            "exp E H(y|x): how many classes the network hesitates between for a typical image. "
            "1 is certain; high means blurry or unrecognisable images.",
            "confidence",
        ),
    ]
    cards = [
        _card(
            "distinct_top1_classes",
            result.distinct_top1_classes,
            str(result.distinct_top1_classes),
            "Classes seen as top-1",
            f"of {result.num_classes}: classes that are the best guess for at least one image.",
            "diversity",
        ),
        _card(
            "top10_share",
            result.top10_share,
            f"{100 * result.top10_share:.1f}%",
            "Share of the top 10 classes",
            "of the mass of p(y); high means a few classes dominate.",
            "diversity",
        ),
        _card(
            "n",
            result.n,
            str(result.n),
            "Images scored",
            "50,000 is the convention; fewer give lower, non-comparable scores.",
            "neutral",
        ),
    ]
    cards += [_distance_card(distance) for distance in distances]
    equation = (
        f'<p class="equation">IS (one split) = exp(H(y) − E H(y|x)) = '
        f'<span class="diversity-text">{_number(result.effective_classes_covered, 2)}</span> / '
        f'<span class="confidence-text">{_number(result.effective_classes_per_image, 2)}</span> = '
        f'<span class="score-text">{_number(result.one_split_score)}</span></p>'
    )
    return (
        f'<section class="headline"><div class="cards primary">{"".join(primary)}</div>'
        f'<div class="cards secondary">{"".join(cards)}</div>{equation}</section>'
    )


def _distance_card(distance: Distance) -> str:
    against = f" against {html.escape(distance.against)}" if distance.against else ""
    detail = f'<div class="sub">{html.escape(distance.detail)}</div>' if distance.detail else ""
    features = html.escape(distance.features)
    if distance.key == "kid":
        spread = (
            f'<div class="sub" data-metric="kid_std" data-value="{distance.std!r}">± {distance.std:.5f}'
            f"{' · ' + html.escape(distance.detail) if distance.detail else ''}</div>"
        )
        meaning = f"kernel distance of {features}{against}; lower is better, 0 is identical."
        return _card("kid", distance.value, f"{distance.value:.5f}", distance.label, meaning, "neutral", spread)
    if distance.key == "cmmd":
        meaning = f"maximum mean discrepancy of {features}{against}; lower is better, 0 is identical."
        return _card("cmmd", distance.value, f"{distance.value:.4f}", "CMMD", meaning, "neutral", detail)
    meaning = f"Fréchet distance of {features}{against}; lower is better, 0 is identical."
    return _card(distance.key, distance.value, _number(distance.value), distance.label, meaning, "neutral", detail)


def _warnings(messages: list[str]) -> str:
    if not messages:
        return ""
    items = "".join(f"<li>{html.escape(message)}</li>" for message in messages)
    return f'<section class="warnings"><h2>Read this first</h2><ul>{items}</ul></section>'


def _figure(uri: str, alt: str, css: str = "") -> str:
    return f'<img class="plot {css}" src="{uri}" alt="{html.escape(alt)}">'


def _decomposition(result: ISResult) -> str:
    map_uri = plots.decomposition_map(
        result.effective_classes_covered, result.effective_classes_per_image, result.num_classes
    )
    bar_uri = plots.entropy_bar(result.marginal_entropy, result.mean_conditional_entropy, result.num_classes)
    cost = (
        f"{100 * result.mean_conditional_entropy / result.marginal_entropy:.0f}%"
        if result.marginal_entropy > 0
        else "all of it"
    )
    return f"""<section><h2>Why this score: diversity against confidence</h2>
<div class="two">
{_figure(map_uri, "diversity against confidence map", "map")}
<div><p>The score multiplies two things. <b class="diversity-text">Diversity</b>: how many classes the images
cover, exp H(y) of the average prediction p(y). <b class="confidence-text">Confidence</b>: how many classes
the network hesitates between for one image, exp E H(y|x). The score is the first divided by the second.</p>
<p>Mode collapse moves the dot left (few classes covered). Blurry or unrecognisable images move it down
(every image spread over many classes). The grey lines join points of equal score; the best corner is
top right.</p>
<p>In nats: the diversity H(y) = {result.marginal_entropy:.3f} is what the score could reach with certain
images; unclear images take back {result.mean_conditional_entropy:.3f} of it ({cost}), leaving
log IS = {result.marginal_entropy - result.mean_conditional_entropy:.3f}.</p>
{_figure(bar_uri, "entropy decomposition bar")}</div></div></section>"""


def _splits(result: ISResult) -> str:
    uri = plots.split_scores_plot(result.split_scores, result.mean, result.std, result.one_split_score)
    return f"""<section><h2>Score per split</h2>
<div class="two">{_figure(uri, "per-split scores")}
<div><p>The images are cut into {result.splits} splits in {html.escape(result.order)} order; each split gets its
own score and the report gives their mean ± population std, as the paper does.</p>
<p>A split holds {result.n // result.splits} images, fewer than the whole set, so split scores sit a little
below the one-split score (dashed). Splits far below it, in given order, mean the images are sorted by class:
score them shuffled.</p></div></div></section>"""


def details_of(result: ISResult) -> ScoreDetails:
    """The per-image arrays behind the report (results made by the API always carry them)."""
    if result.details is None:
        raise InceptionScoreError("this result has no per-image details (it was read back from JSON?): score again")
    return result.details


def _classes(result: ISResult, labels: list[str], named: bool) -> str:
    uri = plots.class_histogram(details_of(result).marginal, details_of(result).top1_class, labels)
    note = "" if named else f'<p class="note">{NO_NAMES_NOTE}</p>'
    shown = "top 50 of p(y)" if result.num_classes > 50 else f"all {result.num_classes} classes of p(y)"
    return f"""<section><h2>Which classes the images spread over ({shown})</h2>
{_figure(uri, "marginal class distribution, top 50 classes", "wide")}
<p>Bars: each class's share of p(y), the average prediction. Dots: the share of images whose best guess it is.
A few tall bars and a quick fall mean the images cover few classes.</p>{note}</section>"""


def _confidence(result: ISResult) -> str:
    uri = plots.confidence_histogram(details_of(result).max_probability)
    sure = float(np.mean(details_of(result).max_probability >= 0.5))
    return f"""<section><h2>How sure the network is of each image</h2>
<div class="two">{_figure(uri, "histogram of per-image max probability")}
<div><p>For each image, the probability of its most likely class. Mass near 1 means clear, recognisable
images; mass near 0 means the network spreads its belief over many classes.</p>
<p>{100 * sure:.1f}% of the images have a class with probability 0.5 or more.</p></div></div></section>"""


def _galleries(result: ISResult, images: Any, labels: list[str]) -> str:
    if images is None:
        return (
            '<section><h2>Images</h2><p class="note">No thumbnails: pass <code>source=</code> (the images that '
            "were scored) to <code>save_report</code> to see the most and least confident images.</p></section>"
        )
    details = details_of(result)
    order = np.argsort(-details.max_probability, kind="stable")
    count = min(GALLERY_SIZE, result.n)
    most, least = order[:count], order[::-1][:count]
    counts = np.bincount(details.top1_class, minlength=result.num_classes)
    frequent = [c for c in np.argsort(-counts, kind="stable")[:CLASS_GALLERY_SIZE] if counts[c] > 0]
    examples = [_most_confident_of(details, c) for c in frequent]
    wanted = sorted({*map(int, most), *map(int, least), *examples})
    thumbs = _thumbnails(result, images, wanted, labels)
    blocks = [
        ("Most confident", "the images with the highest top-1 probability", [thumbs[int(i)] for i in most]),
        ("Least confident", "the images with the lowest top-1 probability", [thumbs[int(i)] for i in least]),
        (
            "One image per most frequent class",
            "for each of the classes that are most often the top-1, its most "
            "confident image; caption: class and how many images have it as top-1",
            [
                dataclasses.replace(thumbs[i], caption=f"{labels[c]} · {counts[c]} img")
                for i, c in zip(examples, frequent)
            ],
        ),
    ]
    html_blocks = "".join(
        f'<h3>{name}</h3><p class="note">{about}</p><div class="gallery">{"".join(map(_thumb_html, items))}</div>'
        for name, about, items in blocks
    )
    return f"<section><h2>Images</h2>{html_blocks}</section>"


def _realism(result: ISResult, images: Any, labels: list[str], manifold: Any) -> str:
    """Precision/recall and density/coverage, the least realistic samples and those outside the reference manifold."""
    realism = getattr(manifold, "details", None)
    if realism is None:
        return ""
    figures = (
        f"precision {manifold.precision:.4f}, recall {manifold.recall:.4f}, density {manifold.density:.4f}, "
        f"coverage {manifold.coverage:.4f} ({manifold.n_a} samples vs {manifold.n_b} reference images, "
        f"k = {manifold.k_pr} / {manifold.k_dc})"
    )
    outside = np.flatnonzero(~realism.inside)
    text = (
        f'<p data-metric="manifold">{html.escape(figures)}. {outside.size} of {manifold.n_a} samples lie outside '
        "every reference image's k-NN ball (outside the reference manifold).</p>"
    )
    if images is None or len(realism.scores) != result.n:
        return f"<section><h2>Realism</h2>{text}</section>"
    least = np.argsort(realism.scores, kind="stable")[: min(GALLERY_SIZE, result.n)]
    outside = outside[np.argsort(realism.scores[outside], kind="stable")][:GALLERY_SIZE]
    thumbs = _thumbnails(result, images, sorted({*map(int, least), *map(int, outside)}), labels)

    def captioned(index: int) -> Thumbnail:
        return dataclasses.replace(thumbs[index], caption=f"realism {realism.scores[index]:.3f}")

    blocks = [
        ("Least realistic", "the samples with the lowest realism score (Kynkäänniemi et al. 2019)", least),
        ("Outside the reference manifold", "samples inside no reference image's k-NN ball", outside),
    ]
    galleries = "".join(
        f'<h3>{name}</h3><p class="note">{about}</p>'
        f'<div class="gallery" data-gallery="{name}">{"".join(_thumb_html(captioned(int(i))) for i in items)}</div>'
        for name, about, items in blocks
    )
    return f"<section><h2>Realism</h2>{text}{galleries}</section>"


def _most_confident_of(details: Any, cls: int) -> int:
    """The index of the most confident image among those whose top-1 class is `cls`."""
    members = np.flatnonzero(details.top1_class == cls)
    return int(members[np.argmax(details.max_probability[members])])


def _samples_at(result: ISResult, images: Any, indices: list[int]) -> Iterator[tuple[int, Any]]:
    """(row, sample) for the scored rows `indices`; with skipped files, one pass that leaves them out."""
    if not result.skipped:
        for index in indices:
            yield index, next(iter(images.iterate(index, index + 1)))
        return
    skipped, wanted, row = set(result.skipped_names), set(indices), 0
    for sample in images.iterate():
        if sample.name in skipped:
            continue
        if row in wanted:
            yield row, sample
        row += 1


def _thumbnails(result: ISResult, images: Any, indices: list[int], labels: list[str]) -> dict[int, Thumbnail]:
    details = details_of(result)
    thumbs = {}
    for index, sample in _samples_at(result, images, indices):
        if details.names is not None and sample.name != details.names[index]:
            raise InceptionScoreError(
                f"the source does not match the result: image {index} is {sample.name}, the "
                f"result scored {details.names[index]}; pass the source that was scored"
            )
        pixels = decode(sample)
        image = Image.fromarray(pixels)
        small = max(image.size) < THUMBNAIL_PIXELS // 2
        image.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS), Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
        label = labels[int(details.top1_class[index])]
        probability = float(details.max_probability[index])
        thumbs[index] = Thumbnail(
            uri,
            f"{label} · p={probability:.3f}",
            f"{sample.name}: {pixels.shape[1]}x{pixels.shape[0]}, top-1 {label}, p={probability:.4f}",
            small,
        )
    return thumbs


def _thumb_html(thumb: Thumbnail) -> str:
    css = "pixelated" if thumb.small else ""
    return (
        f'<figure title="{html.escape(thumb.title)}"><img class="{css}" src="{thumb.uri}" alt="">'
        f"<figcaption>{html.escape(thumb.caption)}</figcaption></figure>"
    )


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _protocol(result: ISResult, images: Any, distances: list[Distance]) -> str:
    classifier = result.classifier or {}
    if result.reference_weights is None and not classifier:
        weights = "logits given directly (no network run by this package)"
    elif classifier.get("name", "inception-2015") != "inception-2015":
        weights = f"<code>{html.escape(result.weights_sha256 or classifier.get('identity', ''))}</code>"
    else:
        status = "the reference 2015 weights" if result.reference_weights else "NOT the reference 2015 weights"
        weights = f"<code>{html.escape(result.weights_sha256 or '')}</code> ({status})"
    described = (
        f"{html.escape(str(classifier.get('name')))}: input {html.escape(str(classifier.get('input')))}; "
        f"logits {html.escape(str(classifier.get('logits')))}"
        if classifier
        else "the 2015 Inception network"
    )
    bootstrap = (
        f"{result.bootstrap_resamples} resamples, seed {result.bootstrap_seed}, percentile interval"
        if result.bootstrap_resamples
        else "not run"
    )
    rows = [
        ("Source", html.escape(images.description) if images is not None else "not given"),
        ("Classifier", described),
        ("Weights sha256", weights),
        ("Images (N)", str(result.n)),
        ("Classes", str(result.num_classes)),
        ("Splits", f"{result.splits} (split i is rows i·N/splits to (i+1)·N/splits, mean and population std)"),
        (
            "Order",
            html.escape(result.order)
            + (
                f", rows permuted by numpy RandomState({result.seed})"
                if result.order == "shuffled"
                else ", input order (paper's code)"
            ),
        ),
        ("Bootstrap", bootstrap),
        (
            "Distances",
            "; ".join(
                f"{d.label} against {html.escape(d.against or 'a reference')}"
                + (f" ({html.escape(d.detail)})" if d.detail else "")
                for d in distances
            )
            or "not computed",
        ),
        (
            "Versions",
            ", ".join(
                f"{name} {_version(name)}" for name in ("inception-score", "numpy", "torch", "pillow", "matplotlib")
            )
            + f", Python {platform.python_version()}",
        ),
        ("Report written", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
    ]
    table = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    data = html.escape(json.dumps(result.to_dict(), indent=2))
    return (
        f'<section><h2>Protocol</h2><table class="protocol">{table}</table>'
        f"<details><summary>The full result as JSON</summary><pre>{data}</pre></details></section>"
    )


_STYLE = """
:root { --score:#4338ca; --diversity:#0f766e; --confidence:#c2410c; --ink:#1e293b; --muted:#64748b; }
* { box-sizing: border-box; }
body { margin:0; background:#f1f5f9; color:var(--ink);
  font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width:1180px; margin:0 auto; padding:28px 24px 40px; }
header h1 { margin:0; font-size:26px; letter-spacing:-0.01em; }
header p { margin:4px 0 18px; color:var(--muted); }
section { background:white; border-radius:14px; padding:20px 24px; margin:0 0 18px;
  box-shadow:0 1px 2px rgba(15,23,42,.06),0 1px 8px rgba(15,23,42,.04); }
h2 { margin:0 0 12px; font-size:18px; }
h3 { margin:18px 0 2px; font-size:15px; }
p { margin:0 0 10px; }
.cards { display:grid; gap:14px; }
.cards.primary { grid-template-columns:repeat(4,minmax(0,1fr)); }
.cards.secondary { grid-template-columns:repeat(auto-fit,minmax(200px,1fr)); margin-top:14px; }
.cards.secondary .value { font-size:24px; }
.cards.secondary .card { border-top-width:3px; padding:10px 14px; }
.card { border-radius:12px; padding:14px 16px; background:#f8fafc; border-top:4px solid var(--muted); }
.card.score { border-color:var(--score); } .card.diversity { border-color:var(--diversity); }
.card.confidence { border-color:var(--confidence); }
.card[data-metric="mean"] { background:#eef2ff; }
.card .label { font-size:13px; font-weight:600; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; }
.card .value { font-size:34px; font-weight:700; line-height:1.2; font-variant-numeric:tabular-nums; }
.card.score .value { color:var(--score); } .card.diversity .value { color:var(--diversity); }
.card.confidence .value { color:var(--confidence); }
.card .sub { font-size:13px; margin:2px 0 4px; }
.card .meaning { font-size:12.5px; color:var(--muted); margin-top:6px; line-height:1.4; }
.equation { margin:16px 0 0; font-size:16px; text-align:center; }
.score-text { color:var(--score); font-weight:700; } .diversity-text { color:var(--diversity); font-weight:700; }
.confidence-text { color:var(--confidence); font-weight:700; }
.warnings { background:#fffbeb; border:1px solid #f59e0b; }
.warnings h2 { color:#b45309; } .warnings ul { margin:0; padding-left:20px; }
.two { display:grid; grid-template-columns:minmax(0,1.15fr) minmax(0,1fr); gap:24px; align-items:center; }
.plot { width:100%; height:auto; display:block; }
.note { color:var(--muted); font-size:13px; }
.gallery { display:grid; grid-template-columns:repeat(8,minmax(0,1fr)); gap:12px; }
figure { margin:0; min-width:0; }
figure img { width:100%; aspect-ratio:1; object-fit:contain; background:#e2e8f0; border-radius:8px; display:block; }
figure img.pixelated { image-rendering:pixelated; }
figcaption { font-size:11.5px; color:var(--muted); margin-top:3px; white-space:nowrap; overflow:hidden;
  text-overflow:ellipsis; }
table.protocol { border-collapse:collapse; width:100%; font-size:14px; }
table.protocol th { text-align:left; width:170px; color:var(--muted); font-weight:600; vertical-align:top; }
table.protocol th, table.protocol td { padding:6px 8px; border-bottom:1px solid #e2e8f0; }
code { font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; word-break:break-all; }
details { margin-top:12px; } pre { background:#f8fafc; padding:12px; border-radius:8px; overflow:auto;
  font-size:12px; max-height:420px; }
@media (max-width:900px) { .two { grid-template-columns:1fr; } .cards.primary { grid-template-columns:repeat(2,1fr); }
  .gallery { grid-template-columns:repeat(4,minmax(0,1fr)); } }
"""

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{style}</style>
</head>
<body><main>
<header><h1>{title}</h1><p>{subtitle}</p></header>
{body}
</main></body>
</html>
"""
