"""The Inception Score (Salimans et al. 2016) exactly as the paper computes it, with FID and KID beside it."""

from ._version import __version__
from .api import evaluate, fid, inception_score, kid, save_statistics
from .errors import InceptionScoreError, InceptionScoreWarning
from .export import save_adm_batch
from .maths.frechet import MomentAccumulator, frechet_distance
from .options import Options
from .pipeline.extractors import REGISTRY, Classifier, InputContract
from .pipeline.statistics import Statistics, read_statistics
from .report import save_report
from .results import (
    Evaluation,
    FIDResult,
    ISResult,
    KIDResult,
    fid_from_features,
    inception_score_from_logits,
    inception_score_from_probabilities,
    kernel_inception_distance,
)
from .streaming import InceptionScore

__all__ = [
    "inception_score",
    "inception_score_from_logits",
    "inception_score_from_probabilities",
    "ISResult",
    "InceptionScoreError",
    "InceptionScore",
    "InceptionScoreWarning",
    "Options",
    "evaluate",
    "fid",
    "kid",
    "save_statistics",
    "save_adm_batch",
    "read_statistics",
    "Statistics",
    "Evaluation",
    "FIDResult",
    "KIDResult",
    "MomentAccumulator",
    "fid_from_features",
    "frechet_distance",
    "kernel_inception_distance",
    "save_report",
    "Classifier",
    "InputContract",
    "REGISTRY",
    "__version__",
]
