"""The catalog of named reference sides, kept as data.

Every entry says what it is, how it was computed (its protocol), what it can serve, where it
comes from and how it is checked. `sources` names where each URL and fact was read;
`unchecked` lists what could not be confirmed when the entry was written (no internet on the
build machine: no file was downloaded, so sizes and hashes are unknown unless published, and
those files are pinned at first download instead). docs/references.md is the human version.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Protocol:
    """How a reference's features were computed, and whether ours are comparable with them."""

    name: str
    network: str
    resize: str
    computed_by: str
    comparable: str  # "same": our default features; "close": warn; "different": refused unless allowed
    extractor: str = "inception-2015"  # the registry extractor whose feature space the statistics are in
    dims: int = 2048  # the length of its feature vectors (mu is dims, sigma dims x dims)
    spatial_dims: int | None = None  # sFID's spatial statistics (mu_s), where the protocol has them


@dataclass(frozen=True)
class Reference:
    """One catalog entry."""

    name: str
    dataset: str
    split: str
    resolution: str
    count: int | None  # images the statistics were computed from (None: not published)
    protocol: Protocol
    metrics: tuple[str, ...]  # of "fid", "kid", "sfid", "pr"
    file_format: str  # "statistics-npz" (mu, sigma), "adm-batch" (arr_0 + mu/sigma/mu_s/sigma_s), "edm2-pkl"
    filename: str
    urls: tuple[str, ...] = ()  # empty: built locally with `refs build`
    size: int | None = None
    sha256: str | None = None  # published; None: recorded at first download and pinned
    sources: tuple[str, ...] = ()
    unchecked: tuple[str, ...] = ()
    build: str | None = None  # how `refs build` makes it ("cifar10-python", "image-folder")

    @property
    def downloadable(self) -> bool:
        return bool(self.urls)


TF_2015 = Protocol(
    name="tf-inception-2015",
    network="Inception v3 TF graph 2015-12-05 (classify_image_graph_def.pb), pool_3, 2048-d",
    resize="the graph's own bilinear resize to 299 (TF1 ResizeBilinear), as our tf1-bilinear",
    computed_by="TTUR fid.py / precalc_stats_example.py (TensorFlow 1.x), bioinf-jku",
    comparable="same",
)
ADM = Protocol(
    name="adm-evaluator",
    network="Inception v3 TF graph 2015-12-05, pool_3 (FID) and mixed_6/conv channels [:7] (sFID)",
    resize="uint8 images at native size fed to the graph, which resizes bilinearly to 299 (TF1)",
    computed_by="openai/guided-diffusion evaluations/evaluator.py (TensorFlow), OpenAI, July 2021",
    comparable="same",
    spatial_dims=2023,  # mixed_6/conv channels [:7], 17 x 17 x 7
)
OURS = Protocol(
    name="inception-score",
    network="Inception v3 2015-12-05 weights (pt_inception-2015-12-05-6726825d.pth), pool3, 2048-d",
    resize="TF1 bilinear to 299 on float 0..255, (x - 128) / 128",
    computed_by="this package (`inception-score refs build`), on the user's machine",
    comparable="same",
    spatial_dims=2023,
)
NVIDIA_DETECTOR = Protocol(
    name="nvidia-inception-detector",
    network="NVIDIA's PyTorch port of the 2015-12-05 graph (inception-2015-12-05.pkl/.pt, StyleGAN3/EDM metrics)",
    resize="inside the detector (a port of the graph's resize); uint8 NCHW input",
    computed_by="NVlabs edm2 calculate_metrics.py `ref` (PyTorch), NVIDIA",
    comparable="close",
)
EDM2_DINOV2 = Protocol(
    name="edm2-dinov2",
    network="DINOv2 ViT-L/14 (torch.hub facebookresearch/dinov2), CLS token after the final LayerNorm, 1024-d",
    resize="torch bicubic with antialias to 224 x 224 on float 0..255, /255, ImageNet normalisation",
    computed_by="NVlabs edm2 calculate_metrics.py `ref` (PyTorch), NVIDIA",
    comparable="close",
    extractor="dinov2-vitl14",
    dims=1024,
)
CLEAN_FID = Protocol(
    name="clean-fid-clean",
    network="Inception v3 2015-12-05 as a TorchScript file (same weights)",
    resize="clean-fid 'clean' mode: PIL bicubic resize to 299 with antialiasing (not TF1 bilinear)",
    computed_by="GaParmar/clean-fid get_reference_statistics / make_custom_stats (PyTorch)",
    comparable="different",
)

_TTUR_BASE = "http://bioinf.jku.at/research/ttur/ttur_stats/"
_TTUR_SOURCES = ("bioinf-jku/TTUR README.md (commit 73ab375), section 'Precalculated Statistics for FID calculation'",)
_TTUR_UNCHECKED = (
    "size and sha256 (not published; pinned at first download)",
    "number of images (not stored in the file; README says 'all training samples')",
    "whether the file was made with the current fid.py or the withdrawn 'unbatched' (JPEG input) version",
)
_ADM_BASE = "https://openaipublic.blob.core.windows.net/diffusion/jul-2021/ref_batches/"
_ADM_SOURCES = (
    "openai/guided-diffusion evaluations/README.md (later version, as mirrored in forks): "
    "'Download batches' list of reference batch URLs",
    "same README: reference batches hold statistics over the whole dataset and 10,000 images",
)
_ADM_UNCHECKED = (
    "size and sha256 (not published; pinned at first download)",
    "number of images behind mu/sigma ('the whole dataset'; not stored in the file)",
)


def _ttur(name: str, dataset: str, split: str, resolution: str, note: str = "") -> Reference:
    filename = f"fid_stats_{name}.npz"
    return Reference(
        name=f"fid_stats_{name}",
        dataset=dataset,
        split=split,
        resolution=resolution,
        count=None,
        protocol=TF_2015,
        metrics=("fid",),
        file_format="statistics-npz",
        filename=filename,
        urls=(_TTUR_BASE + filename,),
        sources=_TTUR_SOURCES,
        unchecked=_TTUR_UNCHECKED + ((note,) if note else ()),
    )


def _adm(name: str, path: str, dataset: str, resolution: str, note: str = "") -> Reference:
    return Reference(
        name=name,
        dataset=dataset,
        split="train (statistics); 10,000 images for precision/recall",
        resolution=resolution,
        count=None,
        protocol=ADM,
        metrics=("fid", "sfid", "pr"),
        file_format="adm-batch",
        filename=f"{name}.npz",
        urls=(_ADM_BASE + path + f"{name}.npz",),
        sources=_ADM_SOURCES,
        unchecked=_ADM_UNCHECKED + ((note,) if note else ()),
    )


CATALOG: tuple[Reference, ...] = (
    _ttur("cifar10_train", "CIFAR-10", "train", "32x32"),
    _ttur("celeba", "CelebA, cropped", "all images", "64x64"),
    _ttur("lsun_train", "LSUN bedroom", "train", "not stated (64x64 in TTUR's experiments?)"),
    _ttur("svhn_train", "SVHN", "train", "32x32"),
    _ttur(
        "imagenet_train",
        "ImageNet",
        "train",
        "not stated (README links the 64x64 downsampled ImageNet)",
        "resolution: the README points to 64x64 downsampled ImageNet but does not say these files use it",
    ),
    _ttur(
        "imagenet_valid",
        "ImageNet",
        "validation",
        "not stated (README links the 64x64 downsampled ImageNet)",
        "resolution: the README points to 64x64 downsampled ImageNet but does not say these files use it",
    ),
    _adm("VIRTUAL_imagenet64_labeled", "imagenet/64/", "ImageNet", "64x64"),
    _adm("VIRTUAL_imagenet128_labeled", "imagenet/128/", "ImageNet", "128x128"),
    _adm("VIRTUAL_imagenet256_labeled", "imagenet/256/", "ImageNet", "256x256"),
    _adm(
        "VIRTUAL_imagenet512",
        "imagenet/512/",
        "ImageNet",
        "512x512",
        "the 512 batch is published without the '_labeled' suffix; whether it holds labels is not known",
    ),
    _adm("VIRTUAL_lsun_bedroom256", "lsun/bedroom/", "LSUN bedroom", "256x256"),
    _adm("VIRTUAL_lsun_cat256", "lsun/cat/", "LSUN cat", "256x256"),
    _adm("VIRTUAL_lsun_horse256", "lsun/horse/", "LSUN horse", "256x256"),
    Reference(
        name="edm2-img512",
        dataset="ImageNet (EDM2 dataset, 512x512)",
        split="train",
        resolution="512x512",
        count=None,
        protocol=NVIDIA_DETECTOR,
        metrics=("fid", "fd_dinov2"),
        file_format="edm2-pkl",
        filename="edm2-img512.pkl",
        urls=("https://nvlabs-fi-cdn.nvidia.com/edm2/dataset-refs/img512.pkl",),
        sources=(
            "NVlabs/edm2 calculate_metrics.py: docstring examples (--ref URL) and save_stats/load_stats "
            "(a pickled dict: num_images, fid: {mu, sigma}, fd_dinov2: {mu, sigma})",
        ),
        unchecked=(
            "size and sha256 (not published; pinned at first download)",
            "exact preprocessing of the 512x512 images (EDM2's dataset tool)",
        ),
    ),
    Reference(
        name="edm2-img64",
        dataset="ImageNet (EDM2 dataset, 64x64)",
        split="train",
        resolution="64x64",
        count=None,
        protocol=NVIDIA_DETECTOR,
        metrics=("fid",),
        file_format="edm2-pkl",
        filename="edm2-img64.pkl",
        urls=("https://nvlabs-fi-cdn.nvidia.com/edm2/dataset-refs/img64.pkl",),
        sources=("NVlabs/edm2 calculate_metrics.py and READMEs of projects evaluating with it (--ref URL)",),
        unchecked=(
            "size and sha256 (not published; pinned at first download)",
            "whether the file holds fd_dinov2 statistics too (`ref` writes them by default; used when present)",
        ),
    ),
    Reference(
        name="cifar10_clean_train_32",
        dataset="CIFAR-10",
        split="train",
        resolution="32x32",
        count=None,
        protocol=CLEAN_FID,
        metrics=("fid",),
        file_format="statistics-npz",
        filename="cifar10_clean_train_32.npz",
        urls=("https://www.cs.cmu.edu/~clean-fid/stats/cifar10_clean_train_32.npz",),
        sources=(
            "GaParmar/clean-fid cleanfid/features.py get_reference_statistics: URL pattern "
            "https://www.cs.cmu.edu/~clean-fid/stats/{name}_{mode}_{split}_{res}.npz (lower case)",
        ),
        unchecked=(
            "that this exact file exists (the URL is built from clean-fid's pattern)",
            "size and sha256 (not published; pinned at first download)",
        ),
    ),
    Reference(
        name="cifar10-train",
        dataset="CIFAR-10",
        split="train (data_batch_1..5)",
        resolution="32x32",
        count=50_000,
        protocol=OURS,
        metrics=("fid", "kid", "pr"),
        file_format="statistics-npz",
        filename="cifar10-train.npz",
        sources=("CIFAR-10 python version layout: data_batch_1..5 pickles with b'data' (N x 3072 uint8)",),
        build="cifar10-python",
    ),
    Reference(
        name="imagenet-val",
        dataset="ImageNet ILSVRC2012",
        split="validation",
        resolution="native (resized to 299 by the pipeline)",
        count=50_000,
        protocol=OURS,
        metrics=("fid", "kid", "pr"),
        file_format="statistics-npz",
        filename="imagenet-val.npz",
        sources=("ILSVRC2012 validation set: 50,000 images (the user supplies the folder)",),
        build="image-folder",
    ),
)


def find_entry(name: str) -> Reference | None:
    """The entry called `name` (also accepted with its file's extension), or None."""
    for entry in CATALOG:
        if name in (entry.name, entry.filename):
            return entry
    return None
