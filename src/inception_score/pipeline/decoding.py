"""Decoding workers of the input stage: threads, or processes where forking is safe (Linux), or inline.

Why processes: PIL releases the GIL while it inflates a PNG or runs libjpeg, but opening a file,
parsing its chunks and converting it run in Python, and for small images that is most of the work:
many threads then wait for one another and for the main process's own Python work. Worker
processes, forked once per pass (before any other thread of the pass starts), decode chunks of
samples and write the pixels into a shared memory ring the main process reads in place; the only
copy on the main side is the one into the batch, and no image is pickled (one that does not fit the
ring comes back through the pipe instead). With a few workers threads cost less (`make_decoder`).
"""

from __future__ import annotations

import math
import mmap
import multiprocessing
import signal
import struct
import sys
import threading
import warnings
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from ..errors import InceptionScoreError, escaped
from .sources import Sample, decode, pixel_count

_CHUNK_IMAGES = 32  # samples per worker task at most (a task costs the main process a few tens of microseconds)
_CHUNK_BYTES = 4 << 20  # encoded bytes per task at most
_RING_MIN = 64 << 20  # shared memory ring: at least 64 MiB (pages are only committed when used)
_RING_MAX = 1 << 30
_RINGS: dict[int, mmap.mmap] = {}  # the rings of running passes, inherited by forked workers
PROCESSES_FROM = 1000  # images: below this (when the count is known), threads; starting processes costs ~0.2 s
PROCESS_WORKERS_FROM = 6  # workers: below this, threads (measured faster on 2 cores: docs/speed.md)
_PNG = b"\x89PNG\r\n\x1a\n"
_JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def header_pixels(sample: Sample) -> int | None:
    """Width x height from a PNG's IHDR or a JPEG's frame header without PIL (the same numbers PIL
    reads), else `sources.pixel_count` (PIL reads the header); None if it cannot be read."""
    data = sample.data
    if isinstance(data, (bytes, bytearray)):
        try:
            size = _png_size(data) if data[:8] == _PNG else _jpeg_size(data) if data[:2] == b"\xff\xd8" else None
        except (struct.error, IndexError):
            size = None
        if size is not None and size[0] > 0 and size[1] > 0:
            return size[0] * size[1]
    return pixel_count(sample)


def _png_size(data: bytes) -> tuple[int, int] | None:
    if data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in _JPEG_FRAMES:
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        if marker == 0x01 or 0xD0 <= marker <= 0xD9:  # markers without a length
            position += 2
            continue
        position += 2 + struct.unpack(">H", data[position + 2 : position + 4])[0]
    return None


class WorkerDied(InceptionScoreError):
    """A decoding process died: not a bad file to skip, the pass cannot go on."""


class Decoded:
    """One sample's decoding: `result()` gives the H x W x 3 uint8 image (or raises its error); `release()`
    says the image has been copied out, so its place in the shared ring can be reused."""

    __slots__ = ("_future", "_position", "_chunk")

    def __init__(self, future: Future | None, position: int = 0, chunk: _Chunk | None = None) -> None:
        self._future, self._position, self._chunk = future, position, chunk

    def result(self) -> np.ndarray:
        if self._chunk is None:
            assert self._future is not None
            return self._future.result()
        return self._chunk.image(self._position)

    def release(self) -> None:
        if self._chunk is not None:
            self._chunk.release()


class _Chunk:
    """Samples decoded by one worker task: one region of the ring for all their pixels, freed once."""

    __slots__ = ("decoder", "names", "items", "offsets", "region", "future", "found")

    def __init__(self, decoder: ProcessDecoder) -> None:
        self.decoder = decoder
        self.names: list[str] = []
        self.items: list[tuple[bytes, int]] = []  # (encoded bytes, expected pixel bytes or 0)
        self.offsets: list[int] = []
        self.region: int | None = None
        self.future: Future | None = None
        self.found: list | None = None

    def send(self) -> None:
        """Place the chunk's pixels in the ring (when it has room) and hand the chunk to a worker."""
        sizes = [expected for _, expected in self.items]
        self.region = self.decoder.ring.allocate(sum(sizes)) if all(sizes) else None
        start = -1 if self.region is None else self.region
        self.offsets = [start + offset if start >= 0 else -1 for offset in np.cumsum([0, *sizes[:-1]]).tolist()]
        tasks = [(name, data, offset, size) for name, (data, size), offset in zip(self.names, self.items, self.offsets)]
        try:
            self.future = self.decoder.pool.submit(_decode_chunk, tasks, self.decoder.key, self.decoder.max_pixels)
        except BrokenProcessPool as error:  # a worker died before: every later chunk says so
            self.future = Future()
            self.future.set_exception(error)
        self.items = []  # the bytes are with the worker now

    def image(self, position: int) -> np.ndarray:
        if self.found is None:
            assert self.future is not None, "the decoder was not flushed"
            try:
                self.found = self.future.result()
            except BrokenProcessPool as error:
                raise WorkerDied(
                    f"a decoding process died while decoding the chunk with {escaped(self.names[0])} ({error}); "
                    "run with --workers 0 (workers=0) to decode in this process and find the file"
                ) from None
        kind, value = self.found[position]
        if kind == "error":
            raise InceptionScoreError(value)
        if kind == "pixels":
            return value
        return np.frombuffer(self.decoder.ring.buffer, np.uint8, math.prod(value), self.offsets[position]).reshape(
            value
        )

    def release(self) -> None:
        if self.region is not None:
            self.decoder.ring.free(self.region)
            self.region = None


def decoded_now(sample: Sample, max_pixels: int) -> Decoded:
    """Decode inline; the outcome (image or error) held like a worker's."""
    outcome: Future = Future()
    try:
        outcome.set_result(decode(sample, max_pixels=max_pixels))
    except Exception as error:
        outcome.set_exception(error)
    return Decoded(outcome)


class ThreadDecoder:
    """A pool of decoding threads (PIL releases the GIL while it decompresses)."""

    def __init__(self, workers: int, max_pixels: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inception-score-decode")
        self._max_pixels = max_pixels

    def submit(self, sample: Sample, pixels: int | None) -> Decoded:
        if not isinstance(sample.data, (bytes, bytearray)) or sample.error is not None:
            return decoded_now(sample, self._max_pixels)
        return Decoded(self._pool.submit(decode, sample, max_pixels=self._max_pixels))

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class _Ring:
    """Regions of a shared buffer handed out and given back in the same order (a ring)."""

    def __init__(self, capacity: int) -> None:
        self.buffer = mmap.mmap(-1, capacity)  # anonymous and shared: forked workers write into it
        self.capacity = capacity
        self._regions: deque[list[int]] = deque()  # [start, end, in use]
        self._by_start: dict[int, list[int]] = {}
        self._lock = threading.Lock()

    def allocate(self, size: int) -> int | None:
        """Start of a free region of `size` bytes, or None (the ring is full or the image too large)."""
        if size <= 0 or size > self.capacity // 4:
            return None
        with self._lock:
            if not self._regions:
                start = 0
            else:
                tail, head = self._regions[0][0], self._regions[-1][1]
                wrapped = self._regions[-1][0] < tail
                if not wrapped and self.capacity - head >= size:
                    start = head
                elif not wrapped and tail >= size:
                    start = 0
                elif wrapped and tail - head >= size:
                    start = head
                else:
                    return None
            region = [start, start + size, 1]
            self._regions.append(region)
            self._by_start[start] = region
            return start

    def free(self, start: int) -> None:
        with self._lock:
            self._by_start.pop(start)[2] = 0
            while self._regions and not self._regions[0][2]:
                self._regions.popleft()

    def close(self) -> None:
        self.buffer.close()


class ProcessDecoder:
    """Forked decoding processes; pixels come back through a shared ring (`_Ring`), one region per chunk."""

    def __init__(self, workers: int, max_pixels: int, batch_size: int) -> None:
        self.max_pixels = max_pixels
        self.ring = _Ring(min(_RING_MAX, max(_RING_MIN, 12 * batch_size * (1 << 20))))
        self.key = id(self.ring)
        _RINGS[self.key] = self.ring.buffer
        self.pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("fork"), initializer=_ignore_interrupts
        )
        self._chunk = _Chunk(self)
        self._chunk_bytes = 0
        with warnings.catch_warnings():  # Python 3.12+ warns about forking a process that runs threads: these
            warnings.simplefilter("ignore", DeprecationWarning)  # workers only run PIL and numpy
            self.pool.submit(int).result()  # forks every worker now, from this thread, before the pass's threads

    def submit(self, sample: Sample, pixels: int | None) -> Decoded:
        if not isinstance(sample.data, (bytes, bytearray)) or sample.error is not None:
            return decoded_now(sample, self.max_pixels)
        chunk = self._chunk
        handle = Decoded(None, len(chunk.names), chunk)
        chunk.names.append(sample.name)
        chunk.items.append((bytes(sample.data), 3 * pixels if pixels else 0))
        self._chunk_bytes += len(sample.data)
        if len(chunk.names) >= _CHUNK_IMAGES or self._chunk_bytes >= _CHUNK_BYTES:
            self.flush()
        return handle

    def flush(self) -> None:
        """Send the samples gathered so far to a worker."""
        if self._chunk.names:
            self._chunk.send()
            self._chunk, self._chunk_bytes = _Chunk(self), 0

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        _RINGS.pop(self.key, None)
        try:
            self.ring.close()
        except BufferError:  # an image view is still held by the caller: the mapping goes with it
            pass


def make_decoder(
    workers: int, max_pixels: int, batch_size: int, total: int | None = None
) -> ThreadDecoder | ProcessDecoder:
    """Processes on Linux (fork is safe for workers that only run PIL and numpy) for PROCESS_WORKERS_FROM
    workers or more, unless fewer than PROCESSES_FROM images are known to come; else threads. Both give
    the same pixels. With a few workers threads cost the main process less (no task to pickle, no
    process to start); with many, the GIL-bound part of PIL's decoding stays out of the main process."""
    small = total is not None and total < PROCESSES_FROM
    forks = sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()
    if forks and workers >= PROCESS_WORKERS_FROM and not small:
        return ProcessDecoder(workers, max_pixels, batch_size)
    return ThreadDecoder(workers, max_pixels)


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the main process, which stops them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _decode_chunk(items: list[tuple[str, bytes, int, int]], ring: int, max_pixels: int) -> list[tuple[str, Any]]:
    """In a worker: decode each (name, bytes, ring offset, expected bytes); pixels into the ring when they fit."""
    buffer = _RINGS[ring]
    found: list[tuple[str, Any]] = []
    for name, data, offset, expected in items:
        try:
            image = np.ascontiguousarray(decode(Sample(name, data), max_pixels=max_pixels))
        except InceptionScoreError as error:
            found.append(("error", str(error)))
            continue
        if offset >= 0 and image.dtype == np.uint8 and image.nbytes == expected:
            np.frombuffer(buffer, np.uint8, expected, offset)[:] = image.reshape(-1)
            found.append(("ring", image.shape))
        else:
            found.append(("pixels", image))
    return found
