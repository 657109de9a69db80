"""Decoding workers (pipeline/decoding): header sizes without PIL, processes with a shared ring, errors,
a worker that dies, Ctrl-C; the features are bit for bit those of inline decoding."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from PIL import Image

import inception_score.pipeline.decoding as decoding
from inception_score.errors import InceptionScoreError
from inception_score.pipeline.decoding import ProcessDecoder, ThreadDecoder, WorkerDied, _Ring, header_pixels
from inception_score.pipeline.extract import extract_features
from inception_score.pipeline.sources import Sample, decode, open_source, pixel_count

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="decoding processes are forked on Linux")


def encoded(mode: str, size: tuple[int, int], fmt: str, **options) -> bytes:
    rng = np.random.default_rng(sum(size))
    image = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).convert(mode)
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def exif_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: PIL does not apply it, so the size stays the stored one
    return encoded("RGB", (37, 21), "JPEG", exif=exif.tobytes())


FILES = {
    "png rgb": encoded("RGB", (33, 17), "PNG"),
    "png 16-bit gray": encoded("I;16", (20, 31), "PNG"),
    "png palette": encoded("P", (40, 9), "PNG"),
    "png rgba": encoded("RGBA", (5, 64), "PNG"),
    "jpeg baseline": encoded("RGB", (71, 45), "JPEG", quality=90),
    "jpeg progressive": encoded("RGB", (64, 80), "JPEG", progressive=True),
    "jpeg gray": encoded("L", (19, 23), "JPEG"),
    "jpeg cmyk": encoded("CMYK", (30, 12), "JPEG"),
    "jpeg exif": exif_jpeg(),
    "gif": encoded("P", (13, 11), "GIF"),
    "webp": encoded("RGB", (24, 24), "WEBP"),
    "bmp": encoded("RGB", (7, 5), "BMP"),
}


@pytest.mark.parametrize("name", FILES)
def test_header_sizes_are_the_ones_pil_reads(name):
    sample = Sample(name, FILES[name])
    assert header_pixels(sample) == pixel_count(sample) > 0


UNREADABLE = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0\x00", b"not an image", b"\xff\xd8" + b"\x00" * 9]


@pytest.mark.parametrize("data", UNREADABLE)
def test_unreadable_headers_give_what_pil_gives(data):
    assert header_pixels(Sample("x", data)) == pixel_count(Sample("x", data))


def test_the_ring_hands_out_regions_in_order_and_wraps():
    ring = _Ring(1000)
    first, second, third = ring.allocate(200), ring.allocate(200), ring.allocate(200)
    assert (first, second, third) == (0, 200, 400)
    assert ring.allocate(300) is None  # over a quarter of the ring: through the pipe instead
    ring.free(second)  # out of order: nothing is reusable until the oldest is freed
    assert ring.allocate(251) is None and ring.allocate(200) == 600 and ring.allocate(200) == 800
    ring.free(first)  # 0..400 free now: the ring wraps
    assert ring.allocate(200) == 0 and ring.allocate(200) == 200 and ring.allocate(10) is None
    ring.close()


@linux_only
def test_processes_decode_every_file_as_inline_decoding_does(monkeypatch):
    monkeypatch.setattr(decoding, "_RING_MIN", 1 << 16)  # a small ring: some images come back through the pipe
    decoder = ProcessDecoder(2, max_pixels=10_000, batch_size=1)
    try:
        samples = [Sample(name, data) for name, data in FILES.items()] * 3
        samples.append(Sample("huge.png", encoded("RGB", (200, 100), "PNG")))  # 20,000 pixels > max_pixels
        samples.append(Sample("broken.png", FILES["png rgb"][:40]))
        handles = [decoder.submit(sample, header_pixels(sample)) for sample in samples]
        decoder.flush()
        for sample, handle in zip(samples[:-2], handles):
            assert np.array_equal(handle.result(), decode(sample)), sample.name
            handle.release()
        for sample, handle in zip(samples[-2:], handles[-2:]):
            with pytest.raises(InceptionScoreError) as inline:
                decode(sample, max_pixels=10_000)
            with pytest.raises(InceptionScoreError, match="^" + str(inline.value)[:30]):
                handle.result()
    finally:
        decoder.close()


@linux_only
def test_a_worker_that_dies_stops_the_run_with_a_clear_error():
    decoder = ProcessDecoder(1, max_pixels=10_000, batch_size=1)
    try:
        for process in list(decoder.pool._processes.values()):
            os.kill(process.pid, signal.SIGKILL)
            process.join()
        time.sleep(0.2)
        handle = decoder.submit(Sample("a.png", FILES["png rgb"]), 33 * 17)
        decoder.flush()
        with pytest.raises(WorkerDied, match="decoding process died while decoding the chunk with a.png"):
            handle.result()
    finally:
        decoder.close()


def test_threads_decode_the_same_pixels():
    decoder = ThreadDecoder(2, max_pixels=10_000)
    try:
        for name, data in FILES.items():
            assert np.array_equal(decoder.submit(Sample(name, data), None).result(), decode(Sample(name, data)))
    finally:
        decoder.close()


@pytest.mark.parametrize("name, workers", [("a", 2), ("mixed", 2), ("mixed", decoding.PROCESS_WORKERS_FROM)])
def test_features_are_bit_for_bit_those_of_inline_decoding(data, model, name, workers):
    run = dict(batch_size=5, device="cpu", progress=False)
    inline = extract_features(open_source(data / "images" / name), model, workers=0, **run)
    found = extract_features(open_source(data / "images" / name), model, workers=workers, **run)
    assert found.names == inline.names
    assert np.array_equal(found.logits, inline.logits) and np.array_equal(found.features, inline.features)


def test_skipped_files_are_the_same_with_workers(model, tmp_path, data):
    for index, path in enumerate(sorted((data / "images" / "a").iterdir())[:5]):
        (tmp_path / f"{index}.png").write_bytes(path.read_bytes())
    (tmp_path / "2b.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    run = dict(batch_size=2, device="cpu", progress=False, on_error="skip")
    inline = extract_features(open_source(tmp_path), model, workers=0, **run)
    workers = extract_features(open_source(tmp_path), model, workers=2, **run)
    assert workers.skipped == inline.skipped == [str(tmp_path / "2b.png")]
    assert workers.names == inline.names and np.array_equal(workers.logits, inline.logits)


@linux_only
def test_ctrl_c_stops_the_workers(tmp_path, weights_path, data):
    folder = tmp_path / "many"
    folder.mkdir()
    source = sorted((data / "images" / "a").iterdir())
    for index in range(400):
        (folder / f"{index:04d}.png").write_bytes(source[index % len(source)].read_bytes())
    script = textwrap.dedent(
        f"""
        import multiprocessing, sys
        from inception_score.pipeline.extract import extract_features
        from inception_score.pipeline.inception2015 import load_inception
        from inception_score.pipeline.sources import open_source
        model = load_inception({str(weights_path)!r})
        try:
            print("started", flush=True)
            extract_features(open_source({str(folder)!r}), model, batch_size=2, device="cpu", progress=False, workers=6)
        except KeyboardInterrupt:
            print("interrupted; workers left:", len(multiprocessing.active_children()), flush=True)
            sys.exit(3)
        """
    )
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process = subprocess.Popen([sys.executable, "-c", script], **pipes)
    assert process.stdout.readline().strip() == "started"
    time.sleep(3)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 3, err
    assert "interrupted; workers left: 0" in out
