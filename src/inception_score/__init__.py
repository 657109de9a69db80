"""The Inception Score (Salimans et al. 2016) exactly as the paper computes it."""
from .api import inception_score
from .compare import Evaluation, evaluate, fid, kid, save_statistics
from .errors import InceptionScoreError, InceptionScoreWarning
from .metric import InceptionScore
from .metrics import (FIDResult, ISResult, KIDResult, MomentAccumulator, fid_from_features, frechet_distance,
                      inception_score_from_logits, inception_score_from_probabilities, kernel_inception_distance)
from .stats import read_statistics

__all__ = ["inception_score", "inception_score_from_logits", "inception_score_from_probabilities",
           "ISResult", "InceptionScoreError", "InceptionScore", "InceptionScoreWarning",
           "evaluate", "fid", "kid", "save_statistics", "read_statistics", "Evaluation", "FIDResult", "KIDResult",
           "MomentAccumulator", "fid_from_features", "frechet_distance", "kernel_inception_distance"]
__version__ = "0.1.0"
