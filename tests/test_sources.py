"""Every source gives the folder's numbers; odd images decode as the reference does (or better, for 16 bits)."""

from __future__ import annotations

import io
import json
import tarfile
import warnings
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from inception_score import inception_score, inception_score_from_logits
from inception_score.errors import InceptionScoreError
from inception_score.pipeline.extract import extract_features, preprocess
from inception_score.pipeline.sources import decode, open_source

COUNT = 16  # images of fixture set a scored through each source
SPLITS = 4


@pytest.fixture(scope="module")
def files(data):
    return sorted((data / "images" / "a").glob("*.png"))[:COUNT]


@pytest.fixture(scope="module")
def pixels(files):
    """The images as COUNT x 32 x 32 x 3 uint8, decoded from the PNG files."""
    return np.stack([np.asarray(Image.open(path).convert("RGB")) for path in files])


@pytest.fixture(scope="module")
def folder_score(folder_features):
    """IS of the folder's first COUNT images (sorted order), from the session's run of set a."""
    return inception_score_from_logits(folder_features("a").logits[:COUNT], splits=SPLITS)


def score_of(source, model, **options):
    features = extract_features(
        open_source(source, **options).iterate(), model, batch_size=16, device="cpu", progress=False
    )
    return inception_score_from_logits(features.logits, splits=SPLITS), features


def write_zip(path, files, extra=()):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in extra:
            archive.writestr(name, data)
        for file in reversed(files):  # stored out of order: the source sorts by member path
            archive.write(file, f"images/{file.name}")
    return path


def write_tar(path, files, extra=()):
    with tarfile.open(path, "w:gz") as archive:
        for name, data in extra:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for file in reversed(files):
            archive.add(file, f"sub/{file.name}")
    return path


def uneven_batches(pixels):
    """The images as a generator of NCHW uint8 tensors in batches of 5, 1, 7 and 3."""
    start = 0
    for size in (5, 1, 7, 3):
        yield torch.from_numpy(pixels[start : start + size]).permute(0, 3, 1, 2)
        start += size


def make_sources(kind, tmp_path, files, pixels):
    escaping = files[0].read_bytes()
    if kind == "zip":
        return write_zip(
            tmp_path / "images.zip", files, extra=[("README.txt", b"not an image"), ("../escape.png", escaping)]
        ), {}
    if kind == "tar.gz":
        return write_tar(
            tmp_path / "images.tar.gz", files, extra=[("notes.md", b"# notes"), ("/absolute.png", escaping)]
        ), {}
    if kind == "npz NHWC uint8":
        np.savez(tmp_path / "samples.npz", pixels)
        return tmp_path / "samples.npz", {}
    if kind == "npy NCHW uint8":
        np.save(tmp_path / "samples.npy", pixels.transpose(0, 3, 1, 2))
        return tmp_path / "samples.npy", {}
    if kind == "float tensor (-1, 1)":
        return torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 127.5 - 1, {"value_range": (-1, 1)}
    if kind == "float64 array (0, 255)":
        return pixels.astype(np.float64), {"value_range": (0, 255)}
    if kind == "generator, uneven batches":
        return uneven_batches(pixels), {}
    if kind == "callable":
        drawn = []

        def sample(batch_size):
            start = sum(drawn)
            drawn.append(batch_size)
            return torch.from_numpy(pixels[start : start + batch_size]).float() / 255

        return sample, {"num_samples": COUNT, "batch_size": 10}
    if kind == "list of PIL images":
        return [Image.open(path) for path in files], {}
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "zip",
        "tar.gz",
        "npz NHWC uint8",
        "npy NCHW uint8",
        "float tensor (-1, 1)",
        "float64 array (0, 255)",
        "generator, uneven batches",
        "callable",
        "list of PIL images",
    ],
)
def test_every_source_gives_the_folders_score(kind, tmp_path, files, pixels, model, folder_score):
    source, options = make_sources(kind, tmp_path, files, pixels)
    result, features = score_of(source, model, **options)
    assert result.n == COUNT
    assert result.mean == pytest.approx(folder_score.mean, rel=1e-6)
    assert result.std == pytest.approx(folder_score.std, rel=1e-5, abs=1e-7)
    if kind in ("zip", "tar.gz"):
        assert [name.rsplit("/", 1)[1] for name in features.names] == [path.name for path in files]
        assert not (tmp_path.parent / "escape.png").exists()


def test_archives_count_other_files_and_skip_escaping_members(tmp_path, files):
    archive = open_source(write_zip(tmp_path / "a.zip", files[:3], extra=[("x.txt", b"x"), ("../up.png", b"")]))
    assert len(archive) == 3 and archive.ignored == 1
    assert [s.name for s in archive][0] == f"{tmp_path / 'a.zip'}:images/{files[0].name}"
    tar = open_source(write_tar(tmp_path / "a.tgz", files[:2], extra=[("/etc/x.png", b""), ("a/../../b.png", b"")]))
    assert len(tar) == 2
    with pytest.raises(InceptionScoreError, match=r"no image files in the archive, only 1 other file"):
        open_source(write_zip(tmp_path / "text.zip", [], extra=[("read.me", b"hi")]))


@pytest.mark.reference
def test_mixed_sizes_and_modes_match_reference_at_any_batch_size(data, model):
    expected = json.loads((data / "reference_mixed.json").read_text())["sets"]["mixed"]
    for batch_size in (1, 7, 64):
        features = extract_features(
            open_source(data / "images" / "mixed"), model, batch_size=batch_size, device="cpu", progress=False
        )
        for splits in (10, 5, 1):
            result = inception_score_from_logits(features.logits, splits=splits)
            mean, std = expected[f"is_splits{splits}_shuffled2020"]
            assert result.mean == pytest.approx(mean, rel=1e-5), (batch_size, splits)
            assert result.std == pytest.approx(std, abs=1e-4)


def png_bytes(image, **options):
    buffer = io.BytesIO()
    image.save(buffer, format=options.pop("format", "PNG"), **options)
    return buffer.getvalue()


def png_16bit_rgb(values):
    """A 16-bit RGB PNG written by hand (PIL cannot write one), rows unfiltered."""
    import struct
    import zlib

    height, width, _ = values.shape

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\0" + values[y].astype(">u2").tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def decoded(data):
    from inception_score.pipeline.sources import Sample

    return decode(Sample("test image", data))


def test_16bit_images_are_scaled_by_257_and_rounded_not_clipped():
    rng = np.random.RandomState(0)
    gray = rng.randint(0, 65536, (9, 11)).astype(np.uint16)
    image = decoded(png_bytes(Image.fromarray(gray)))
    expected = np.floor(gray / 257 + 0.5).astype(np.uint8)
    assert image.shape == (9, 11, 3) and (image == expected[..., None]).all()
    assert Image.open(io.BytesIO(png_bytes(Image.fromarray(gray)))).convert("RGB").getextrema()[0][0] >= 0
    colour = rng.randint(0, 65536, (6, 5, 3)).astype(np.uint16)
    assert (decoded(png_16bit_rgb(colour)) == np.floor(colour / 257 + 0.5)).all()


def test_odd_modes_decode_like_pil_convert_rgb():
    rng = np.random.RandomState(1)
    rgb = Image.fromarray(rng.randint(0, 256, (7, 9, 3), dtype=np.uint8))
    rgba = rgb.copy()
    rgba.putalpha(Image.fromarray(rng.randint(0, 256, (7, 9), dtype=np.uint8)))
    palette = rgb.quantize(16)
    palette.info["transparency"] = 3
    for image in (rgb.convert("L"), rgb.convert("LA"), rgba, rgb.convert("1"), palette, rgb.quantize(8)):
        data = png_bytes(image)
        expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGBA").convert("RGB"))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert (decoded(data) == expected).all(), image.mode
    assert (decoded(png_bytes(rgba)) == np.asarray(rgb)).all()  # alpha dropped, colours kept
    cmyk = png_bytes(rgb.convert("CMYK"), format="TIFF")
    assert (decoded(cmyk) == np.asarray(Image.open(io.BytesIO(cmyk)).convert("RGB"))).all()
    assert decoded(png_bytes(Image.new("RGB", (1, 1), (10, 20, 30)))).tolist() == [[[10, 20, 30]]]


@pytest.mark.parametrize("format", ["GIF", "WEBP"])
def test_animations_give_their_first_frame(format):
    frames = [Image.new("RGB", (8, 6), colour) for colour in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    data = png_bytes(frames[0], format=format, save_all=True, append_images=frames[1:], duration=50, lossless=True)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    image = decoded(data)
    assert image.shape == (6, 8, 3) and tuple(image[0, 0]) == (255, 0, 0)


def test_a_1x1_image_is_resized_like_any_other():
    batch = preprocess([np.full((1, 1, 3), 200, np.uint8)], "cpu")
    assert batch.shape == (1, 3, 299, 299) and torch.allclose(batch, torch.tensor((200 - 128) / 128))


def test_16bit_png_scores_as_its_8bit_version(tmp_path, files, pixels, model, folder_features):
    rng = np.random.RandomState(2)
    count = 8
    for index in range(count):  # 257 * k plus noise below half a step: rounds back to k, truncation would not
        wide = pixels[index].astype(np.int64) * 257 + rng.randint(-120, 121, pixels[index].shape)
        (tmp_path / f"{index:03d}.png").write_bytes(png_16bit_rgb(np.clip(wide, 0, 65535)))
    features = extract_features(open_source(tmp_path), model, batch_size=8, device="cpu", progress=False)
    wide_score = inception_score_from_logits(features.logits, splits=2)
    narrow_score = inception_score_from_logits(folder_features("a").logits[:count], splits=2)
    assert wide_score.mean == pytest.approx(narrow_score.mean, rel=1e-4)


@pytest.mark.parametrize(
    "array, options, message",
    [
        (np.full((4, 8, 8, 3), 0.5, np.float32), {}, None),
        (np.full((4, 8, 8, 3), 1.001, np.float32), {}, None),  # within half an 8-bit step: rounds to 255
        (
            np.full((4, 8, 8, 3), 1.01, np.float32),
            {},
            r"array index 0: values span \[1.01, 1.01\], outside value_range "
            r"\(0, 1\); pass value_range=\(0, 255\)",
        ),
        (
            np.linspace(-1, 1, 4 * 8 * 8 * 3).reshape(4, 8, 8, 3),
            {},
            r"index 0: values span \[-1, 1\].*value_range=\(-1, 1\)",
        ),
        (np.full((4, 8, 8, 3), 300.0), {"value_range": (0, 255)}, "rescale the images"),
        (np.stack([np.zeros((4, 4, 3)), np.full((4, 4, 3), np.inf)]), {}, "array index 1: NaN or infinite"),
        (np.zeros((4, 8, 8, 3), np.int64), {}, "expected uint8 or floating-point images, got int64"),
        (np.zeros((4, 8, 8, 4), np.uint8), {}, "expected 3 \\(RGB\\) or 1 \\(grayscale\\) channels"),
        (np.zeros((8, 8), np.uint8), {}, "got 2 dimensions"),
        (np.zeros((2, 3, 5, 3), np.uint8), {}, "ambiguous.*layout='NHWC'"),
        (np.zeros((2, 3, 5, 3), np.uint8), {"layout": "NCHW"}, None),
        (np.zeros((4, 8, 8, 3), np.float32), {"value_range": (0, 2)}, "value_range must be one of"),
    ],
)
def test_array_checks(array, options, message):
    if message is None:
        images = [decode(sample) for sample in open_source(array, **options)]
        assert images[0].dtype == np.uint8 and images[0].shape[2] == 3
        return
    with pytest.raises(InceptionScoreError, match=message):
        open_source(array, **options)


def test_float_arrays_equal_their_png_files(tmp_path):
    rng = np.random.RandomState(3)
    pixels = rng.randint(0, 256, (5, 6, 7, 3), dtype=np.uint8)
    for value_range, floats in (((0, 1), pixels / 255), ((-1, 1), pixels / 127.5 - 1), ((0, 255), pixels * 1.0)):
        for dtype in (np.float16, np.float32, np.float64):
            got = np.stack([decode(s) for s in open_source(floats.astype(dtype), value_range=value_range)])
            assert (got == pixels).all(), (value_range, dtype)
    gray = np.stack([decode(s) for s in open_source(pixels[..., 0])])
    assert (gray == pixels[..., :1]).all() and gray.shape == (5, 6, 7, 3)
    one_channel = torch.from_numpy(pixels[..., :1]).permute(0, 3, 1, 2)
    assert (np.stack([decode(s) for s in open_source(one_channel)]) == gray).all()
    bf16 = torch.from_numpy(pixels[..., :1] * 0 + 128).float().div(255).to(torch.bfloat16)
    assert {int(decode(s)[0, 0, 0]) for s in open_source(bf16)} == {128}


def test_npz_files_pick_their_array_and_refuse_statistics(tmp_path):
    pixels = np.zeros((3, 4, 4, 3), np.uint8)
    np.savez(tmp_path / "two.npz", labels=np.arange(3), images=pixels)
    assert len(open_source(tmp_path / "two.npz", npz_key="images")) == 3
    with pytest.raises(InceptionScoreError, match="no array 'x'; it holds labels, images"):
        open_source(tmp_path / "two.npz", npz_key="x")
    with pytest.raises(InceptionScoreError, match=r"two.npz\[labels\]: expected"):
        open_source(tmp_path / "two.npz", npz_key="labels")
    with pytest.raises(
        InceptionScoreError, match="two.npz: holds 2 arrays .labels, images.; say which .* --npz-key NAME"
    ):
        open_source(tmp_path / "two.npz")
    np.savez(tmp_path / "stats.npz", mu=np.zeros(2048), sigma=np.eye(2048))
    with pytest.raises(InceptionScoreError, match="holds FID statistics"):
        open_source(tmp_path / "stats.npz")
    with pytest.raises(InceptionScoreError, match="--npz-key\\) is for .npz files"):
        open_source(tmp_path, npz_key="images")


def test_streams_are_read_once_and_callables_need_num_samples(pixels):
    stream = open_source(uneven_batches(pixels))
    assert stream.total is None and stream.streamed
    assert len(list(stream.iterate())) == COUNT
    with pytest.raises(InceptionScoreError, match="gave no images.*read only once"):
        list(stream.iterate())
    with pytest.raises(InceptionScoreError, match="needs num_samples"):
        open_source(lambda n: pixels[:n])
    capped = open_source(iter([pixels, pixels]), num_samples=30)
    assert len(capped) == 30 and len(list(capped)) == 30
    with pytest.raises(InceptionScoreError, match="ended after 16 images, but num_samples=30"):
        list(open_source(iter([pixels]), num_samples=30))
    with pytest.raises(InceptionScoreError, match="num_samples is for callables"):
        open_source(pixels, num_samples=3)
    pairs = open_source([(torch.from_numpy(pixels[:4]), torch.arange(4))] * 2)  # (images, labels) batches
    assert len(pairs) == 8


def test_streamed_score_checks_splits_after_reading(weights_path, pixels):
    with pytest.raises(InceptionScoreError, match="3 images cannot be cut into 10 splits"):
        inception_score(iter([pixels[:3]]), weights=weights_path, progress=False, cache=False)


def test_skip_bad_records_the_skipped_files(tmp_path, files, weights_path):
    for path in files[:3]:
        (tmp_path / path.name).write_bytes(path.read_bytes())
    (tmp_path / "broken.png").write_bytes(files[3].read_bytes()[:60])
    (tmp_path / "text.png").write_text("hello")
    with pytest.raises(InceptionScoreError, match="broken.png: cannot decode image"):
        inception_score(tmp_path, splits=3, weights=weights_path, progress=False)
    result = inception_score(tmp_path, splits=3, weights=weights_path, progress=False, on_error="skip", workers=0)
    assert result.n == 3 and result.skipped == 2
    assert result.skipped_names == [str(tmp_path / "broken.png"), str(tmp_path / "text.png")]
    assert result.to_dict()["skipped"] == 2 and result.to_dict()["skipped_names"] == result.skipped_names
    assert "3 images, 2 skipped" in result.summary()
    assert any("2 undecodable files were skipped" in warning for warning in result.warnings)


def test_in_a_process_group_generators_are_refused_and_callables_drawn_per_rank(weights_path, pixels):
    import socket

    import torch.distributed as dist

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = dict(weights=weights_path, progress=False, splits=2, cache=False)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)
    try:
        with pytest.raises(InceptionScoreError, match="a generator or iterable cannot be split over torch.distributed"):
            inception_score(uneven_batches(pixels), **options)
        drawn = inception_score(lambda n: pixels[:n], num_samples=8, **options)
    finally:
        dist.destroy_process_group()
    assert drawn.n == 8 and drawn.world_size == 1 and drawn.sample_seed == 0  # seeded by default in a group
    assert drawn.mean == pytest.approx(inception_score(pixels[:8], **options).mean, rel=1e-6)
