"""Decoding workers of the input stage: processes where forking is safe (Linux), threads elsewhere, or inline.

Why processes: PIL releases the GIL while it inflates a PNG or runs libjpeg, but opening a file,
parsing its chunks and converting it run in Python, and for small images that is most of the work:
threads then decode on one core at a time. Worker processes, forked once per pass (before any other
thread of the pass starts), decode chunks of samples and write the pixels into a shared memory ring
the main process reads in place; the only copy on the main side is the one into the batch, and no
image is pickled (one that does not fit the ring comes back through the pipe instead).
"""

from __future__ import annotations

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

    def __init__(
        self, future: Future, position: int = 0, decoder: ProcessDecoder | None = None, name: str = ""
    ) -> None:
        self._future, self._position, self._decoder, self._name = future, position, decoder, name
        self._region: int | None = None

    def result(self) -> np.ndarray:
        if self._decoder is None:
            return self._future.result()
        try:
            found = self._future.result()
        except BrokenProcessPool as error:
            raise WorkerDied(
                f"a decoding process died while decoding the chunk with {escaped(self._name)} ({error}); run with "
                "--workers 0 (workers=0) to decode in this process and find the file"
            ) from None
        return self._decoder.unpack(found, self._position, self._region)

    def release(self) -> None:
        if self._decoder is not None and self._region is not None:
            self._decoder.ring.free(self._region)
            self._region = None


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
    """Forked decoding processes; pixels come back through a shared ring (`_Ring`)."""

    def __init__(self, workers: int, max_pixels: int, batch_size: int) -> None:
        self._max_pixels = max_pixels
        self.ring = _Ring(min(_RING_MAX, max(_RING_MIN, 12 * batch_size * (1 << 20))))
        self._key = id(self.ring)
        _RINGS[self._key] = self.ring.buffer
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("fork"), initializer=_ignore_interrupts
        )
        self._pending: list[tuple[Decoded, tuple]] = []
        self._pending_bytes = 0
        with warnings.catch_warnings():  # Python 3.12+ warns about forking a process that runs threads: these
            warnings.simplefilter("ignore", DeprecationWarning)  # workers only run PIL and numpy
            self._pool.submit(int).result()  # forks every worker now, from this thread, before the pass's threads

    def submit(self, sample: Sample, pixels: int | None) -> Decoded:
        if not isinstance(sample.data, (bytes, bytearray)) or sample.error is not None:
            return decoded_now(sample, self._max_pixels)
        handle = Decoded(Future(), len(self._pending), self, sample.name)
        handle._region = self.ring.allocate(3 * pixels) if pixels else None
        region = -1 if handle._region is None else handle._region
        self._pending.append((handle, (sample.name, bytes(sample.data), region, 3 * (pixels or 0))))
        self._pending_bytes += len(sample.data)
        if len(self._pending) >= _CHUNK_IMAGES or self._pending_bytes >= _CHUNK_BYTES:
            self.flush()
        return handle

    def flush(self) -> None:
        """Send the samples gathered so far to a worker."""
        if not self._pending:
            return
        handles, items = zip(*self._pending)
        self._pending, self._pending_bytes = [], 0
        try:
            chunk = self._pool.submit(_decode_chunk, list(items), self._key, self._max_pixels)
        except BrokenProcessPool as error:  # a worker died before: every later chunk says so
            chunk = Future()
            chunk.set_exception(error)
        for handle in handles:
            handle._future = chunk

    def unpack(self, found: list, position: int, region: int | None) -> np.ndarray:
        kind, value = found[position]
        if kind == "error":
            raise InceptionScoreError(value)
        if kind == "pixels":
            return value
        assert region is not None
        count = int(np.prod(value))
        return np.frombuffer(self.ring.buffer, np.uint8, count, region).reshape(value)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        _RINGS.pop(self._key, None)
        try:
            self.ring.close()
        except BufferError:  # an image view is still held by the caller: the mapping goes with it
            pass


def make_decoder(workers: int, max_pixels: int, batch_size: int) -> ThreadDecoder | ProcessDecoder:
    """Processes on Linux (fork is safe for workers that only run PIL and numpy), threads elsewhere."""
    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
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
