"""Every output of every command is checked before any work against every input and every other output
(resolved: symlinks and hard links count), written atomically, and nothing the user gave is modified."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

from inception_score import InceptionScoreError, save_statistics
from inception_score.maths.frechet import Moments
from inception_score.pipeline import references
from inception_score.pipeline.files import Output, atomic_write, check_outputs
from inception_score.pipeline.statistics import write_statistics
from inception_score.pipeline.weights import REFERENCE_SHA256


@pytest.fixture
def files(tmp_path, data) -> dict[str, Path]:
    """A samples ADM batch, a reference statistics file, an image folder, an image file and class names."""
    rng = np.random.RandomState(0)
    samples = tmp_path / "samples.npz"
    np.savez(samples, rng.randint(0, 256, (6, 16, 16, 3)).astype(np.uint8))
    features = rng.standard_normal((40, 8))
    reference = write_statistics(
        tmp_path / "ref.npz",
        Moments(features.mean(0), np.cov(features, rowvar=False), 40),
        weights_sha256=REFERENCE_SHA256,
        pipeline_version="test",
    )
    names = tmp_path / "names.txt"
    names.write_text("zero\none\n")
    image = sorted((data / "images" / "a").glob("*.png"))[0]
    return dict(samples=samples, reference=reference, folder=data / "images" / "a", image=image, names=names)


def snapshot(*paths: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in paths if path.is_file()}


def refused(done, *expected: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    for text in expected:
        assert text in done.stderr, done.stderr


@pytest.mark.parametrize("target", ["samples", "reference"])
def test_evaluate_report_over_an_input_is_refused_before_any_work(files, target):
    before = snapshot(files["samples"], files["reference"])
    done = run_cli("evaluate", files["samples"], "--ref", files["reference"], "--report", files[target])
    refused(done, "is also an input", "--report")
    assert snapshot(files["samples"], files["reference"]) == before


def test_evaluate_report_over_a_ref_for_file_is_refused(files):
    done = run_cli(
        "evaluate", files["samples"], "--ref", files["samples"], "--ref-for", f"fid={files['reference']}",
        "--report", files["reference"],
    )  # fmt: skip
    refused(done, "is also an input")


@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_a_link_to_an_input_is_the_input(files, tmp_path, link):
    make = os.link if link == "hard" else os.symlink
    report, statistics = tmp_path / f"{link}.html", tmp_path / f"{link}.npz"
    make(files["samples"], report)
    make(files["samples"], statistics)
    before = snapshot(files["samples"])
    for words in (
        ("evaluate", files["samples"], "--ref", files["reference"], "--report", report),
        ("score", files["samples"], "--report", report),
        ("stats", files["samples"], "-o", statistics),
    ):
        refused(run_cli(*words), "is also an input")
    assert snapshot(files["samples"]) == before


def test_score_report_over_the_source_the_class_names_or_a_reference(files):
    for target, extra in (
        ("image", ()),
        ("names", ("--class-names", files["names"])),
        ("reference", ("--fid", files["reference"])),
    ):
        done = run_cli("score", files["image"], *extra, "--report", files[target])
        refused(done, "is also an input", "--report")


def test_a_bad_report_path_is_refused_before_any_image_is_read(files, tmp_path):
    """The folder holds an undecodable image: had it been read, that would be the error."""
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    for command in (("score", folder), ("evaluate", folder, "--ref", files["reference"])):
        refused(run_cli(*command, "--report", tmp_path / "no" / "such" / "r.html"), "does not exist")
        refused(run_cli(*command, "--report", tmp_path), "is a folder")
        refused(run_cli(*command, "--report", tmp_path / ("x" * 300 + ".html")), "longer than the")


def test_statistics_outputs_are_checked_against_inputs_and_each_other(files, tmp_path):
    out = tmp_path / "out.npz"
    refused(run_cli("stats", files["samples"], "-o", files["samples"]), "is also an input", "(-o)")
    refused(
        run_cli("stats", files["folder"], "-o", out, "--also", f"dinov2-vitl14={out}"),
        "named twice, for the statistics file (-o) and the dinov2-vitl14 statistics file (--also)",
    )
    refused(
        run_cli("stats", files["samples"], "-o", out, "--also", f"dinov2-vitl14={files['samples']}"),
        "is also an input",
        "--also",
    )
    refused(
        run_cli("stats", files["folder"], "-o", out, "--also", "clip-vit-b-32=a.npz", "--also", "clip-vit-b-32=b.npz"),
        "--also names clip-vit-b-32 twice (a.npz and b.npz); give it once",
    )
    refused(run_cli("stats", files["folder"], "-o", tmp_path / ("y" * 300 + ".npz")), "longer than the 255")
    assert not out.exists()


def test_an_output_that_is_a_device_or_fifo_is_refused(tmp_path, files):
    fifo = tmp_path / "pipe.npz"
    os.mkfifo(fifo)
    refused(run_cli("stats", files["folder"], "-o", fifo), "is not a regular file")
    assert fifo.exists() and not fifo.is_file()


def test_an_input_name_too_long_for_the_file_system_is_one_line(tmp_path):
    long = tmp_path / ("z" * 300)
    for words in (("score", long), ("fid", long, long), ("stats", long, "-o", tmp_path / "o.npz")):
        refused(run_cli(*words), "longer than the file system allows")


def test_refs_build_output_is_checked_before_any_work_and_pins_first(tmp_path, weights_path):
    """A damaged pins file is said before the statistics are computed; nothing is written."""
    entry = references.entry_named("cifar10-train")
    folder = references.ensure_references_dir()
    references.pins_path().write_text("{not json")
    done = run_cli("refs", "build", "cifar10-train", "--data", tmp_path / "none", "--weights", weights_path)
    refused(done, "pins.json: the reference pins are not valid JSON", "repair it or delete it")
    assert not references.installed_path(entry).exists() and sorted(p.name for p in folder.iterdir()) == ["pins.json"]
    references.pins_path().unlink()
    built = references.installed_path(entry)
    built.write_bytes(b"an old build")
    done = run_cli("refs", "build", "cifar10-train", "--data", built, "--weights", weights_path)
    refused(done, "is also an input")
    assert built.read_bytes() == b"an old build"


def test_check_outputs_compares_resolved_paths_and_inodes(tmp_path):
    real = tmp_path / "real.npz"
    real.write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    dotted = tmp_path / "sub" / ".." / "real.npz"
    with pytest.raises(InceptionScoreError, match="is also an input"):
        check_outputs([Output(dotted, "statistics file", "-o")], inputs=[real])
    with pytest.raises(InceptionScoreError, match="named twice"):
        check_outputs([Output(real, "report", "--report"), Output(dotted, "statistics file", "-o")])
    assert check_outputs([Output(tmp_path / "new.npz", "statistics file", "-o")], inputs=[real, "a catalog name"])


def test_atomic_writes_leave_the_old_file_or_the_new_one_and_no_temporary(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as file:
            file.write(b"half of the new")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [target]
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    with atomic_write(link) as file:
        file.write(b"new")
    assert target.read_bytes() == b"old" and link.read_bytes() == b"new" and not link.is_symlink()
    mask = os.umask(0o027)
    try:
        with atomic_write(tmp_path / "masked.bin") as file:
            file.write(b"x")
    finally:
        os.umask(mask)
    assert (tmp_path / "masked.bin").stat().st_mode & 0o777 == 0o640


def test_save_statistics_keeps_a_hard_linked_copy_of_the_old_file(tmp_path, weights_path, data):
    """Writing a statistics file replaces the name, never the bytes another name shares."""
    out = tmp_path / "stats.npz"
    out.write_bytes(b"previous statistics")
    os.link(out, tmp_path / "backup.npz")
    images = np.random.RandomState(1).randint(0, 256, (4, 16, 16, 3)).astype(np.uint8)
    save_statistics(images, out, weights=weights_path, progress=False)
    assert (tmp_path / "backup.npz").read_bytes() == b"previous statistics"
    assert out.read_bytes().startswith(b"PK")


def test_installed_references_their_pins_and_converted_files_follow_the_umask(tmp_path):
    features = np.random.RandomState(2).standard_normal((40, 2048))
    moments = dict(mu=features.mean(0), sigma=np.cov(features, rowvar=False))
    file, pickled = tmp_path / "ttur.npz", tmp_path / "img64.pkl"
    np.savez(file, **moments)
    pickled.write_bytes(pickle.dumps(dict(fid=moments)))
    mask = os.umask(0o027)
    try:
        assert run_cli("refs", "install", "fid_stats_svhn_train", file).returncode == 0
        assert run_cli("refs", "install", "edm2-img64", pickled).returncode == 0
        written = [
            references.installed_path(references.entry_named("fid_stats_svhn_train")),
            references.installed_path(references.entry_named("edm2-img64")),
            references.pins_path(),
            references.resolve("edm2-img64").path,
        ]
    finally:
        os.umask(mask)
    assert [path.stat().st_mode & 0o777 for path in written] == [0o640] * 4
