"""The Inception Score (Salimans et al. 2016) exactly as the paper computes it, and every other number of a
paper's table (FID, KID, sFID, precision/recall, FD_DINOv2, CMMD, Vendi, MIND...) beside it."""

from ._version import __version__
from .api import evaluate, fid, inception_score, kid, save_statistics
from .engine import Evaluator
from .errors import InceptionScoreError, InceptionScoreWarning
from .export import save_adm_batch
from .maths.frechet import MomentAccumulator, frechet_distance
from .metrics import (
    Evaluation,
    FIDResult,
    ISResult,
    KIDResult,
    Metric,
    Need,
    Option,
    register_metric,
)
from .metrics.frechet import fid_from_features
from .metrics.inception import inception_score_from_logits, inception_score_from_probabilities
from .metrics.kernel import kernel_inception_distance
from .options import Options
from .pipeline.extractors import REGISTRY, Classifier, InputContract, register_extractor
from .pipeline.statistics import Statistics, read_statistics
from .report import save_report
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
    "Evaluator",
    "Metric",
    "Need",
    "Option",
    "register_metric",
    "register_extractor",
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
