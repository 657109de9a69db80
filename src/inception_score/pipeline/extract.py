"""Batched feature extraction: decode once, then per network resize (TF1 bilinear to 299 for the 2015
network), normalise and one forward pass per image.

The pipeline overlaps its stages: a background thread reads samples, looks them up in each
network's feature cache and hands those some network misses to a pool of decoding threads (PIL
releases the GIL), while the calling thread resizes whole batches on the device and runs the
networks that miss them. Results are committed to the cache as each batch finishes, so an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm import tqdm

from ..errors import InceptionScoreError, escaped, plural
from .cache import FeatureCache, sample_key
from .extractors import INCEPTION_2015_INPUT, InputContract
from .sources import DEFAULT_MAX_PIXELS, Sample, decode, pixel_count

if TYPE_CHECKING:
    from ..maths.frechet import MomentAccumulator

# Part of every cache key: bump it whenever any step changes the numbers an image produces.
PIPELINE_VERSION = "inception-score pipeline 1: PIL RGB, TF1 bilinear 299, (x-128)/128, unbiased logits, pool3"
_QUEUE_BATCHES = 2  # decoded batches waiting ahead of the network
_HITS_PER_STEP = 256  # cache hits handed over at a time, so progress shows during a cached run


@dataclass
class Features:
    """Per-image outputs of the network, in input order."""

    logits: np.ndarray | None  # N x C float32 (for the 2015 network: 1008, unbiased); None when not kept
    features: np.ndarray | None  # N x D float32 feature vectors (the 2015 network: 2048 pool3); None when not kept
    names: list[str]
    computed: int = 0  # images that went through the network (the rest came from the cache)
    corrupt_cache_entries: int = 0  # damaged cache entries found, removed and recomputed
    precision: str = "float32"
    skipped: list[str] = field(default_factory=list)  # names of samples that could not be decoded (on_error="skip")
    cache_problems: list[str] = field(default_factory=list)  # why the feature cache (or an entry) was not used
    spatial: np.ndarray | None = None  # N x 2023 float32 sFID features when kept (keep_spatial)


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def check_device(device: torch.device | str) -> torch.device:
    """The device, if this machine can run the network on it; else one line that says what to use."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InceptionScoreError(
            f"device '{escaped(device)}' is not a torch device; use cpu, cuda or cuda:N (--device)"
        ) from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise InceptionScoreError(
                f"device {parsed} asked for, but CUDA is not available here (torch {torch.__version__}, "
                f"{'no GPU found' if torch.version.cuda else 'built without CUDA'}); use --device cpu (device='cpu')"
            )
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise InceptionScoreError(
                f"device {parsed} asked for, but this machine has {plural(torch.cuda.device_count(), 'GPU')} "
                f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})"
            )
    elif parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise InceptionScoreError(f"device {parsed} (Apple GPU) is not available here; use --device cpu")
    elif parsed.type != "cpu":
        raise InceptionScoreError(
            f"device {parsed} cannot run the network (it holds no data or is not supported here); "
            "use cpu, cuda or cuda:N (--device)"
        )
    return parsed


def default_batch_size(device: torch.device | str) -> int:
    """Large batches keep a GPU busy; on a CPU small ones are a little faster (activations stay in cache)
    and use less memory (benchmarks/throughput.py, README "Speed")."""
    return 200 if torch.device(device).type == "cuda" else 8


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def exact_float32() -> Iterator[None]:
    """Keep TF32 off on CUDA while scoring so GPU and CPU numbers agree; restore the user's settings."""
    with _tf32(False):
        yield


@contextlib.contextmanager
def _tf32(enabled: bool) -> Iterator[None]:
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


@contextlib.contextmanager
def _threads(count: int | None) -> Iterator[None]:
    """Run torch's CPU kernels on `count` threads (default: no more than the CPUs we may use)."""
    saved = torch.get_num_threads()
    wanted = count if count is not None else min(saved, available_cpus())
    torch.set_num_threads(max(1, wanted))
    try:
        yield
    finally:
        torch.set_num_threads(saved)


@contextlib.contextmanager
def network_mode(device: torch.device, fast: bool, threads: int | None = None) -> Iterator[None]:
    """How the networks run: inference mode, torch CPU threads, and on CUDA exact float32 (TF32 off) or,
    with `fast`, TF32 and float16 autocast."""
    approximate = precision_name(device, fast) != "float32"
    autocast = torch.autocast("cuda", dtype=torch.float16) if approximate else contextlib.nullcontext()
    with _tf32(fast and device.type == "cuda"), _threads(threads), torch.inference_mode(), autocast:
        yield


def precision_name(device: torch.device, fast: bool) -> str:
    """What the network's arithmetic is: exact float32, or the approximate `fast` mode on CUDA."""
    return "float16+tf32" if fast and device.type == "cuda" else "float32"


def uses_channels_last(model: torch.nn.Module) -> bool:
    for parameter in model.parameters():
        if parameter.dim() == 4:
            return parameter.is_contiguous(memory_format=torch.channels_last) and not parameter.is_contiguous()
    return False


def preprocess(
    images: list[np.ndarray],
    device: torch.device | str,
    *,
    channels_last: bool = False,
    contract: InputContract = INCEPTION_2015_INPUT,
) -> torch.Tensor:
    """H x W x 3 uint8 images of any sizes -> the classifier's input on `device`, as `contract` says.

    For the 2015 network: N x 3 x 299 x 299 float32 in [-1, 1), TF1 bilinear resize, exactly.
    Images of one size are stacked and resized together on the device (pinned memory and a
    non-blocking copy on CUDA).
    """
    device = torch.device(device)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for index, image in enumerate(images):
        by_shape.setdefault(image.shape, []).append(index)
    groups = []
    for indices in by_shape.values():
        pixels = torch.from_numpy(np.stack([images[i] for i in indices]))
        if device.type == "cuda":
            pixels = pixels.pin_memory().to(device, non_blocking=True)
        groups.append((indices, pixels))
    return prepare_groups(groups, len(images), device, channels_last=channels_last, contract=contract)


def prepare_groups(
    groups: list[tuple[list[int], torch.Tensor]],
    count: int,
    device: torch.device,
    *,
    channels_last: bool,
    contract: InputContract,
) -> torch.Tensor:
    """Groups of images of one size each (batch positions, B x H x W x 3 uint8 on `device`) -> the classifier's
    count x C x size x size input, as `contract` says; shared by decoded images and in-memory tensor batches."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    prepared = [(indices, contract.prepare(pixels.permute(0, 3, 1, 2).float())) for indices, pixels in groups]
    if len(prepared) == 1 and prepared[0][1].is_contiguous(memory_format=memory_format):
        return prepared[0][1]  # one size, already in the wanted layout (TF1 resize gives channels-last)
    size = contract.size
    batch = torch.empty((count, contract.channels, size, size), dtype=torch.float32, device=device)
    batch = batch.contiguous(memory_format=memory_format)
    for indices, values in prepared:
        if len(indices) == count:
            batch.copy_(values)
        else:
            batch[indices] = values
    return batch


def check_finite(logits: np.ndarray, features: np.ndarray, names: list[str], *, fast: bool = False) -> None:
    """Refuse a batch whose network outputs hold NaN or infinity: every score made from them would be
    meaningless (broken weights, a normalisation that overflows, or float16 overflow in fast mode)."""
    bad = ~(np.isfinite(logits).all(axis=1) & np.isfinite(features).all(axis=1))
    if not bad.any():
        return
    first = names[int(np.argmax(bad))]
    others = int(bad.sum()) - 1
    more = f" and {plural(others, 'other image')}" if others else ""
    cause = (
        "float16 overflowed: run without --fast (fast=False)"
        if fast
        else "check the weights file (--weights) and the classifier's normalisation, which must give finite values"
    )
    raise InceptionScoreError(
        f"{escaped(first)}{more}: the network gave NaN or infinite outputs, from which no score is meaningful; {cause}"
    )


@dataclass
class _Work:
    """One step of the input stage: samples every head has cached, and a batch of the others being decoded.

    Per sample of the batch, `keys` and `cached` hold one entry per head (a head whose entry was
    cached takes it instead of running its network on the decoded image).
    """

    hits: list[tuple] = field(default_factory=list)  # (index, name, [per head: (logits, pool3[, spatial])])
    indices: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    keys: list[list[str | None]] = field(default_factory=list)
    cached: list[list[tuple | None]] = field(default_factory=list)
    decoded: list[Future] = field(default_factory=list)


def _plan(
    samples: Iterable[Sample],
    batch_size: int,
    heads: list[Head],
    contexts: list[str],
    start_decode: Callable[[Sample], Future],
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Iterator[_Work]:
    """Look each sample up in each head's cache; group the others, their decoding started, in batches.

    A batch also closes when its images would hold more than max_pixels pixels together, so decoded
    pixels in flight stay bounded (an image alone over max_pixels is refused by decoding). A cached
    image over max_pixels counts as a miss, so decoding refuses it as it would uncached. A head that
    needs spatial features takes only entries that hold them.
    """
    work = _Work()
    batch_pixels = 0
    for index, sample in enumerate(samples):
        keys = [
            sample_key(sample, context) if head.cache is not None and sample.error is None else None
            for head, context in zip(heads, contexts)
        ]
        pixels = pixel_count(sample) if sample.error is None else None
        fits = pixels is not None and pixels <= max_pixels
        cached = [
            head.cache.get(key, spatial=head.spatial) if head.cache is not None and key is not None and fits else None
            for head, key in zip(heads, keys)
        ]
        if all(entry is not None for entry in cached):
            work.hits.append((index, sample.name, cached))
        else:
            if work.indices and batch_pixels + (pixels or 0) > max_pixels:
                yield work
                work, batch_pixels = _Work(), 0
            batch_pixels += pixels or 0
            work.indices.append(index)
            work.names.append(sample.name)
            work.keys.append(keys)
            work.cached.append(cached)
            work.decoded.append(start_decode(sample))
        if len(work.indices) == batch_size or len(work.hits) == _HITS_PER_STEP:
            yield work
            work, batch_pixels = _Work(), 0
    if work.indices or work.hits:
        yield work


class _InputStage:
    """A background thread runs `_plan` with a pool of decoding threads, `_QUEUE_BATCHES` ahead."""

    def __init__(
        self,
        samples: Iterable[Sample],
        *,
        batch_size: int,
        workers: int,
        max_pixels: int,
        heads: list[Head],
        contexts: list[str],
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inception-score-decode")
        self._plan = _plan(
            samples,
            batch_size,
            heads,
            contexts,
            lambda sample: self._pool.submit(decode, sample, max_pixels=max_pixels),
            max_pixels,
        )
        self._queue: queue.Queue = queue.Queue(maxsize=_QUEUE_BATCHES)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="inception-score-input", daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[_Work]:
        while True:
            kind, item = self._queue.get()
            if kind == "done":
                return
            if kind == "error":
                raise item
            yield item

    def close(self) -> None:
        """Stop reading ahead (on completion, error or Ctrl-C) and wait for the threads."""
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _send(self, kind: str, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put((kind, item), timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for work in self._plan:
                if not self._send("work", work):
                    return
            self._send("done", None)
        except BaseException as error:  # handed to the consumer, which raises it in its own thread
            self._send("error", error)


def _decode_now(sample: Sample, max_pixels: int) -> Future:
    """Decode inline, the outcome (image or error) held in a finished Future like a worker's."""
    outcome: Future = Future()
    try:
        outcome.set_result(decode(sample, max_pixels=max_pixels))
    except Exception as error:
        outcome.set_exception(error)
    return outcome


def _decoded(work: _Work, on_error: str, skipped: list[str]) -> list[np.ndarray]:
    """The batch's images; with on_error="skip", undecodable samples are dropped from `work` and named in `skipped`."""
    images, kept = [], []
    for position, future in enumerate(work.decoded):
        try:
            images.append(future.result())
            kept.append(position)
        except InceptionScoreError:
            if on_error != "skip":
                raise
            skipped.append(work.names[position])
    if len(kept) < len(work.decoded):
        work.indices = [work.indices[i] for i in kept]
        work.names = [work.names[i] for i in kept]
        work.keys = [work.keys[i] for i in kept]
        work.cached = [work.cached[i] for i in kept]
    return images


class _Rows:
    """Per-image outputs put in by input index and handed back in input order.

    When the count is known, each output goes straight into one preallocated N x d array (no
    second copy at the end unless images were skipped); otherwise batches are kept and joined once.
    """

    def __init__(self, total: int | None, kept: tuple[str, ...]) -> None:
        self.total = total
        self.names: dict[int, str] = {}
        self.arrays: dict[str, np.ndarray] = {}
        self.batches: dict[str, list[tuple[list[int], np.ndarray]]] = {key: [] for key in kept}

    def add(self, indices: list[int], names: list[str], outputs: dict[str, np.ndarray]) -> None:
        if self.total is not None and indices and max(indices) >= self.total:
            raise InceptionScoreError(f"the source gave more than the {self.total} images it announced")
        self.names.update(zip(indices, names))
        for key, rows in outputs.items():
            if key not in self.batches:
                continue
            if self.total is None:
                self.batches[key].append((indices, np.array(rows, np.float32)))
                continue
            if key not in self.arrays:
                self.arrays[key] = np.empty((self.total, rows.shape[1]), np.float32)
            self.arrays[key][indices] = rows

    def order(self) -> list[int]:
        return sorted(self.names)

    def assemble(self, key: str) -> np.ndarray | None:
        """The N x d array of output `key` in input order; None if it was not kept."""
        if key not in self.batches:
            return None
        order = self.order()
        if self.total is not None:
            array = self.arrays.get(key, np.zeros((self.total, 0), np.float32))
            return array if len(order) == self.total else array[order]
        batches = self.batches.pop(key)
        width = batches[0][1].shape[1] if batches else 0
        joined = np.empty((len(order), width), np.float32)
        position = {index: row for row, index in enumerate(order)}
        for indices, rows in batches:
            joined[[position[index] for index in indices]] = rows
        return joined


@dataclass
class Head:
    """One network of a pass over the images: its module, input contract and cache identity, what
    to keep of its outputs and where to stream their moments.

    model_id: the network's identity for the feature cache (the weights' sha256; for another
    classifier, one that names its contract too: `Classifier.cache_key`). keep_spatial /
    spatial_moments: also ask the model for the sFID spatial features (its forward must take
    `spatial=True`, as the 2015 network's does).
    """

    model: torch.nn.Module
    contract: InputContract = INCEPTION_2015_INPUT
    cache: FeatureCache | None = None
    model_id: str = ""
    keep_logits: bool = True
    keep_features: bool = True
    keep_spatial: bool = False
    feature_moments: MomentAccumulator | None = None
    spatial_moments: MomentAccumulator | None = None

    @property
    def spatial(self) -> bool:
        return self.keep_spatial or self.spatial_moments is not None

    def kept(self) -> tuple[str, ...]:
        return tuple(
            key for key, keep in zip(_OUTPUTS, (self.keep_logits, self.keep_features, self.keep_spatial)) if keep
        )


_OUTPUTS = ("logits", "features", "spatial")


def extract_features(
    samples: Iterable[Sample],
    model: torch.nn.Module,
    *,
    cache: FeatureCache | None = None,
    model_id: str = "",
    keep_features: bool = True,
    keep_logits: bool = True,
    feature_moments: MomentAccumulator | None = None,
    contract: InputContract = INCEPTION_2015_INPUT,
    keep_spatial: bool = False,
    spatial_moments: MomentAccumulator | None = None,
    **run: Any,
) -> Features:
    """Run every sample through the network; returns logits and features (pool3) in input order.

    One network's `extract_many` (its other keywords: batch size, device, progress, decoding
    workers...). cache + model_id (the weights' sha256): reuse and store per-image results keyed by
    content. feature_moments receives every batch of features (FID in O(d^2) memory);
    keep_features=False / keep_logits=False keep no per-image features / logits (None). contract: how
    images become the model's input. keep_spatial / spatial_moments: see `Head`.
    """
    head = Head(
        model, contract, cache, model_id, keep_logits, keep_features, keep_spatial, feature_moments, spatial_moments
    )
    return extract_many(samples, [head], **run)[0]


def extract_many(
    samples: Iterable[Sample],
    heads: list[Head],
    *,
    batch_size: int | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
    total: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    workers: int | None = None,
    threads: int | None = None,
    fast: bool = False,
    on_error: str = "stop",
) -> list[Features]:
    """Decode each sample once and run it through every head's network; one `Features` per head.

    A sample every head has cached is not decoded; otherwise only the heads that miss it run their
    network on it. workers: decoding threads (0: decode inline, no overlap); threads: torch CPU
    threads; fast: on CUDA, TF32 and float16 (approximate). total: the number of samples, when
    known (outputs then go straight into their final arrays). on_error="skip": undecodable files
    are left out (of every head) and named in `Features.skipped` instead of stopping the run.
    """
    if on_error not in ("stop", "skip"):
        raise InceptionScoreError(f"on_error must be 'stop' or 'skip', got {on_error!r}")
    device = torch.device(device) if device is not None else default_device()
    batch_size = batch_size or default_batch_size(device)
    precision = precision_name(device, fast)
    for head in heads:
        if head.cache is not None and not head.model_id:
            raise ValueError("a feature cache needs the model's identity (model_id, e.g. the weights sha256)")
    contexts = [f"{head.model_id}\0{PIPELINE_VERSION}\0{precision}" for head in heads]
    models = [head.model.to(device) for head in heads]
    channels_last = [uses_channels_last(model) for model in models]
    rows = [_Rows(total, head.kept()) for head in heads]
    computed = [0] * len(heads)
    skipped: list[str] = []
    corrupt_before = [head.cache.corrupt if head.cache is not None else 0 for head in heads]
    workers = min(4, available_cpus()) if workers is None else workers
    stage = (
        _InputStage(
            samples,
            batch_size=batch_size,
            workers=max(1, workers),
            max_pixels=max_pixels,
            heads=heads,
            contexts=contexts,
        )
        if workers > 0
        else None
    )
    decode_now = lambda sample: _decode_now(sample, max_pixels)  # noqa: E731
    work_items = stage if stage is not None else _plan(samples, batch_size, heads, contexts, decode_now, max_pixels)
    try:
        with (
            network_mode(device, fast, threads),
            tqdm(total=total, unit="img", desc="scoring", disable=None if progress else True) as bar,
        ):
            for work in work_items:
                if work.hits:
                    indices, names = [hit[0] for hit in work.hits], [hit[1] for hit in work.hits]
                    for number, head in enumerate(heads):
                        outputs = _stacked([hit[2][number] for hit in work.hits])
                        rows[number].add(indices, names, outputs)
                        _update_moments(outputs, head.feature_moments, head.spatial_moments)
                bar.update(len(work.hits))
                if not work.indices:
                    continue
                images = _decoded(work, on_error, skipped)
                if not images:
                    continue
                for number, head in enumerate(heads):
                    entries = [cached[number] for cached in work.cached]  # this head's cached outputs, or None
                    runs = [position for position, entry in enumerate(entries) if entry is None]
                    reused = [(position, entry) for position, entry in enumerate(entries) if entry is not None]
                    if reused:  # other heads missed these samples, this one had them
                        outputs = _stacked([entry for _, entry in reused])
                        positions = [position for position, _ in reused]
                        rows[number].add(
                            [work.indices[p] for p in positions], [work.names[p] for p in positions], outputs
                        )
                        _update_moments(outputs, head.feature_moments, head.spatial_moments)
                    if not runs:
                        continue
                    names = [work.names[p] for p in runs]
                    batch = preprocess(
                        [images[p] for p in runs], device, channels_last=channels_last[number], contract=head.contract
                    )
                    outputs = forward(models[number], batch, head, names, fast=precision != "float32")
                    if head.cache is not None:
                        keys = [work.keys[p][number] for p in runs]
                        head.cache.put_many(keys, outputs["logits"], outputs["features"], outputs.get("spatial"))
                    _update_moments(outputs, head.feature_moments, head.spatial_moments)
                    rows[number].add([work.indices[p] for p in runs], names, outputs)
                    computed[number] += len(runs)
                bar.update(len(work.indices))
    finally:
        if stage is not None:
            stage.close()
    found = []
    for number, head in enumerate(heads):
        if head.cache is not None:
            head.cache.trim()
        found.append(
            Features(
                rows[number].assemble("logits"),
                rows[number].assemble("features"),
                [rows[number].names[i] for i in rows[number].order()],
                computed[number],
                head.cache.corrupt - corrupt_before[number] if head.cache is not None else 0,
                precision,
                list(skipped),
                list(dict.fromkeys(head.cache.problems)) if head.cache is not None else [],
                rows[number].assemble("spatial"),
            )
        )
    return found


def forward(model: torch.nn.Module, batch: torch.Tensor, head: Head, names: list[str], *, fast: bool) -> dict:
    """One head's network on a prepared batch: its outputs ("logits", "features" and, when the head needs them,
    "spatial") as float32 numpy arrays, refused when not finite."""
    keywords = {"spatial": True} if head.spatial else {}
    outputs = dict(zip(_OUTPUTS, (out.float().cpu().numpy() for out in model(batch, **keywords))))
    check_finite(outputs["logits"], outputs["features"], names, fast=fast)
    return outputs


def _stacked(entries: list[tuple]) -> dict[str, np.ndarray]:
    """Cache entries ((logits, pool3[, spatial]) each) as one batch of outputs."""
    return {
        key: np.stack([entry[position] for entry in entries])
        for position, key in enumerate(_OUTPUTS[: len(entries[0])])
    }


def _update_moments(
    arrays: dict[str, np.ndarray], feature_moments: MomentAccumulator | None, spatial_moments: MomentAccumulator | None
) -> None:
    """Stream a batch's pool3 and spatial features into their moments (FID and sFID in O(d^2) memory)."""
    if feature_moments is not None:
        feature_moments.update(arrays["features"])
    if spatial_moments is not None:
        spatial_moments.update(arrays["spatial"])
