"""The Inception Score (Salimans et al. 2016) exactly as the paper computes it."""
from .api import inception_score
from .errors import InceptionScoreError
from .metric import InceptionScore
from .metrics import (ISResult, inception_score_from_logits, inception_score_from_probabilities)

__all__ = ["inception_score", "inception_score_from_logits", "inception_score_from_probabilities",
           "ISResult", "InceptionScoreError", "InceptionScore"]
__version__ = "0.1.0"
