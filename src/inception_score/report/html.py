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
from ..metrics import Card, Evaluation, ISResult
from ..metrics.inception import ScoreDetails
from ..pipeline.files import check_output, umask_mode
from ..pipeline.sources import decode, open_source
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
        An ISResult, or an Evaluation: every metric it holds is shown, each with its cards (its
        declaration's `cards()`), and the whole evaluation is embedded as JSON.
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
    result: ISResult | Evaluation,
    *,
    source: Any = None,
    fid: Any = None,
    kid: Any = None,
    compared_with: str | None = None,
    class_names: Sequence[str] | None = None,
    title: str | None = None,
    manifold: Any = None,
) -> str:
    """The report as one HTML string (see `save_report`)."""
    plots.require_matplotlib()
    evaluation = _evaluation_of(result, fid, kid, manifold, compared_with)
    score = evaluation.inception_score
    cards = _cards(evaluation, fid, kid, compared_with)
    notes = list(dict.fromkeys([*evaluation.warnings]))
    images = open_source(source) if source is not None else None
    if images is not None and images.streamed:
        raise InceptionScoreError(
            f"{images.description}: a generator or callable cannot be read again for "
            "thumbnails; pass the images as an array or files, or leave source out"
        )
    sections = [_headline(score, cards), _warnings(notes)]
    if score is not None:
        details_of(score)
        labels = _class_labels(score.num_classes, class_names)
        if images is not None and len(images) != score.n + score.skipped:
            raise InceptionScoreError(
                f"{images.description} has {len(images)} images but the result scored {score.n}"
                f"{f' and skipped {score.skipped}' if score.skipped else ''}: "
                "pass the source that was scored"
            )
        sections += [
            _decomposition(score),
            _splits(score),
            _classes(score, labels, class_names is not None),
            _confidence(score),
            _galleries(score, images, labels),
            _realism(score, images, labels, evaluation.manifold),
        ]
    else:
        sections.append(_realism(None, None, [], evaluation.manifold))
    sections += [_every_metric(evaluation), _protocol(score, evaluation, images, cards)]
    heading = html.escape(title or ("Inception Score report" if score is not None else "Evaluation report"))
    subtitle = images.description if images is not None else (f"{score.n} images" if score is not None else "")
    return _PAGE.format(
        title=heading,
        csp=CSP,
        style=_STYLE,
        body="\n".join(part for part in sections if part),
        subtitle=html.escape(subtitle),
    )


def _evaluation_of(
    result: ISResult | Evaluation, fid: Any, kid: Any, manifold: Any, compared_with: str | None
) -> Evaluation:
    """The results to show as one Evaluation (results given beside an ISResult joined to it; FID and KID
    said to be against `compared_with` when it is given)."""
    if isinstance(result, Evaluation):
        given = dict(result)
        protocol = result.protocol
    elif isinstance(result, ISResult):
        given, protocol = {"inception_score": result}, "default"
    else:
        raise InceptionScoreError(f"save_report takes an ISResult or an Evaluation, got {type(result).__name__}")
    for key, value in (("fid", fid), ("kid", kid), ("manifold", manifold)):
        if value is not None and not isinstance(value, (int, float, tuple, list)):
            given[key] = value
    if not given:
        raise InceptionScoreError("the evaluation holds no result to report")
    if compared_with is not None:
        given.update((key, dataclasses.replace(given[key], b=compared_with)) for key in ("fid", "kid") if key in given)
    return Evaluation(given, protocol=protocol)


def _cards(evaluation: Evaluation, fid: Any, kid: Any, compared_with: str | None) -> list[Card]:
    """Every result's cards from its metric's declaration, and FID/KID given as plain numbers."""
    cards = [card for key, found in evaluation.items() for card in _metric(key).cards(found)]
    against = f" against {compared_with}" if compared_with else ""
    if isinstance(fid, (int, float)):
        meaning = f"Fréchet distance of pool3 features{against}; lower is better, 0 is identical."
        cards.append(Card("fid", "FID", float(fid), f"{float(fid):.4f}", meaning))
    if isinstance(kid, (tuple, list)):
        mean, std = (float(value) for value in kid)
        meaning = f"kernel distance of pool3 features{against}; lower is better, 0 is identical."
        cards.append(Card("kid", "KID", mean, f"{mean:.5f}", meaning, spread=std, spread_key="kid_std"))
    return cards


def _metric(key: str) -> Any:
    from ..metrics.registry import metric_with_key

    metric = metric_with_key(key)
    assert metric is not None
    return metric


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


def _card_html(card: Card, extra: str = "") -> str:
    """One card: label, value (its exact float in data-value), the ± value and detail, what it means."""
    spread = ""
    if card.spread is not None:
        shown = f"± <b>{card.spread:.4f}</b>" if card.key == "mean" else f"± {card.spread:.5f}"
        detail = f" · {html.escape(card.detail)}" if card.detail else ""
        key = card.spread_key or f"{card.key}_std"
        spread = f'<div class="sub" data-metric="{key}" data-value="{card.spread!r}">{shown}{detail}</div>'
    elif card.detail:
        spread = f'<div class="sub">{html.escape(card.detail)}</div>'
    return (
        f'<div class="card {card.group}" data-metric="{card.key}" data-value="{card.value!r}">'
        f'<div class="label">{html.escape(card.label)}</div><div class="value">{html.escape(card.shown)}</div>'
        f'{spread}{extra}<div class="meaning">{html.escape(card.meaning)}</div></div>'
    )


def _interval(result: ISResult) -> str:
    if result.one_split_interval is None:
        return '<div class="sub">add <code>--bootstrap 1000</code> for a 95% interval</div>'
    low, high = result.one_split_interval
    return (
        f'<div class="sub" data-metric="one_split_interval" data-low="{low!r}" data-high="{high!r}">'
        f"95% bootstrap interval <b>{_number(low)}</b> to <b>{_number(high)}</b> "
        f"({result.bootstrap_resamples} resamples)</div>"
    )


def _headline(result: ISResult | None, cards: list[Card]) -> str:
    """The Inception Score's four main cards first (when there is one), then every other metric's."""
    primary = cards[:4] if result is not None else []
    shown = [
        _card_html(card, _interval(result) if card.key == "one_split_score" and result else "") for card in primary
    ]
    others = "".join(_card_html(card) for card in cards[len(primary) :])
    equation = ""
    if result is not None:
        equation = (
            f'<p class="equation">IS (one split) = exp(H(y) − E H(y|x)) = '
            f'<span class="diversity-text">{_number(result.effective_classes_covered, 2)}</span> / '
            f'<span class="confidence-text">{_number(result.effective_classes_per_image, 2)}</span> = '
            f'<span class="score-text">{_number(result.one_split_score)}</span></p>'
        )
    main = f'<div class="cards primary">{"".join(shown)}</div>' if shown else ""
    return f'<section class="headline">{main}<div class="cards secondary">{others}</div>{equation}</section>'


def _every_metric(evaluation: Evaluation) -> str:
    """One row per metric: what it is, its numbers and what it compared; the IS-infinity/FID-infinity fits."""
    rows = []
    for key, found in evaluation.items():
        metric = _metric(key)
        numbers = ", ".join(f"{name} = {value:.6g}" for name, value in metric.values(found).items())
        rows.append(
            f'<tr data-result="{html.escape(key)}"><th>{html.escape(metric.title)}</th>'
            f"<td>{html.escape(metric.about)}</td><td><code>{html.escape(numbers)}</code></td>"
            f"<td>{html.escape(found.summary())}</td></tr>"
        )
    fits = ""
    infinity = evaluation.infinity
    if infinity is not None:
        curves = [("IS-infinity", infinity.inception_score_fit)]
        if infinity.frechet_inception_distance_fit:
            curves.append(("FID-infinity", infinity.frechet_inception_distance_fit))
        fits = (
            '<h3>IS-infinity and FID-infinity</h3><p class="note">Each metric on seeded subsets of n samples, '
            "against 1/n; the straight line's value at 1/n = 0 is the value for infinitely many images, free of "
            f"the small-N bias.</p>{_figure(plots.extrapolation_plot(curves), 'extrapolation fits')}"
        )
    return (
        '<section><h2>Every metric computed</h2><table class="protocol metrics">'
        "<tr><th>metric</th><td><b>what it measures</b></td><td><b>numbers</b></td><td><b>in full</b></td></tr>"
        f"{''.join(rows)}</table>{fits}</section>"
    )


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


def _realism(result: ISResult | None, images: Any, labels: list[str], manifold: Any) -> str:
    """Precision/recall and density/coverage, the least realistic samples and those outside the reference manifold
    (thumbnails when the scored images and their Inception Score are given)."""
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
    if result is None or images is None or len(realism.scores) != result.n:
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


def _protocol(result: ISResult | None, evaluation: Evaluation, images: Any, cards: list[Card]) -> str:
    """How the numbers were made: source, network, weights, N, splits, order, what each distance compared
    with, versions; and the whole evaluation as JSON."""
    provenance = next(iter(evaluation.values())).provenance
    classifier = provenance.classifier or {}
    if provenance.reference_weights is None and not classifier:
        weights = (
            "logits given directly (no network run by this package)"
            if result is not None
            else f"<code>{html.escape(provenance.weights_sha256 or 'not recorded')}</code> (from the statistics files)"
        )
    elif classifier.get("name", "inception-2015") != "inception-2015":
        weights = f"<code>{html.escape(provenance.weights_sha256 or classifier.get('identity', ''))}</code>"
    else:
        status = "the reference 2015 weights" if provenance.reference_weights else "NOT the reference 2015 weights"
        weights = f"<code>{html.escape(provenance.weights_sha256 or '')}</code> ({status})"
    described = (
        f"{html.escape(str(classifier.get('name')))}: input {html.escape(str(classifier.get('input')))}; "
        f"logits {html.escape(str(classifier.get('logits')))}"
        if classifier
        else "the 2015 Inception network"
    )
    rows = [
        ("Source", html.escape(images.description) if images is not None else "not given"),
        ("Classifier", described),
        ("Weights sha256", weights),
        ("Protocol", html.escape(evaluation.protocol)),
    ]
    if result is not None:
        bootstrap = (
            f"{result.bootstrap_resamples} resamples, seed {result.bootstrap_seed}, percentile interval"
            if result.bootstrap_resamples
            else "not run"
        )
        order = html.escape(result.order) + (
            f", rows permuted by numpy RandomState({result.seed})"
            if result.order == "shuffled"
            else ", input order (paper's code)"
        )
        rows += [
            ("Images (N)", str(result.n)),
            ("Classes", str(result.num_classes)),
            ("Splits", f"{result.splits} (split i is rows i·N/splits to (i+1)·N/splits, mean and population std)"),
            ("Order", order),
            ("Bootstrap", bootstrap),
        ]
    compared = [
        f"{html.escape(_metric(key).title)} against {html.escape(found.b)}"
        for key, found in evaluation.items()
        if getattr(found, "b", None)
    ]
    compared += [
        html.escape(f"{card.label}: {card.meaning}")
        for card in cards
        if card.key not in evaluation and card.key in ("fid", "kid")
    ]
    versions = ", ".join(
        f"{name} {_version(name)}" for name in ("inception-score", "numpy", "torch", "pillow", "matplotlib")
    )
    rows += [
        ("Distances", "; ".join(compared) or "not computed"),
        ("Versions", f"{versions}, Python {platform.python_version()}"),
        ("Report written", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
    ]
    table = "".join(f"<tr><th>{name}</th><td>{value}</td></tr>" for name, value in rows)
    data = html.escape(json.dumps(evaluation.to_dict(), indent=2, allow_nan=False))
    return (
        f'<section><h2>Protocol</h2><table class="protocol">{table}</table>'
        f"<details><summary>The whole evaluation as JSON</summary><pre data-json>{data}</pre></details></section>"
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
