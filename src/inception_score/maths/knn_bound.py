"""The float64 squared distance every k-NN count is defined by, and the proven error bound of its float32 estimate.

Definition. The squared distance of two feature vectors x, y (rows of n numbers) is

    D(x, y) = sum_i (x_i - y_i)^2

evaluated in float64 by numpy: both rows converted to float64, subtracted, squared, and summed along
the row by numpy's pairwise summation (`exact_squared_distances`). D depends on the two vectors
alone: it is symmetric ((x_i - y_i)^2 and (y_i - x_i)^2 are the same number), the same in every block
and whatever device held the features, so a radius and a distance between the same two points are
the same number and ties are decided once. A plain float64 implementation,
`((x[:, None] - y[None]) ** 2).sum(-1)`, computes the same values.

The float32 estimate. Distances do not change when every point moves by one vector, so both sets
are first centred on one vector c (the mean of the real set): the bound below grows with
the norms, and centred norms are those of the spread, not of the offset (pool3 features are all
positive). Then they are scaled by one power of two s (1 unless the data are tiny or huge: then
s^2 max|x - c|^2 is about 2^60, so no product overflows and underflow stays far below every
distance that matters) and rounded: x^ = fl32(s fl64(x - c)) (for float32 rows and a float32 c at
s = 1: fl32(x - c)). q_x = fl64(sum_i fl64(x_i - c_i)^2) (there: fl64(sum_i x^_i^2)) is
the float64 squared norm and h_x = fl32(s^2 q_x / 2). A block of a pass holds, for each pair,
w~ = a float32 evaluation of the n + 2 terms x^_1 y^_1, ..., x^_n y^_n, -h_x, -h_y summed in any
order, with or without fused multiply-adds (a float32 matrix product followed by two
subtractions, or torch's addmm); d~ = -2 w~ / s^2 estimates the squared distance. Below, x and y
stand for the centred rows x - c and y - c, exact real vectors.

Claim. |d~ - D| <= G (q_x + q_y) + A / s^2  (`Float32Bound.distance_bound`), with
u = 2^-24, v = 2^-53, gamma_m = m u / (1 - m u), gamma'_m = m v / (1 - m v) (m u < 1/2),
u_in = u + 2v + u_mm (1 + u + 2v), where u_mm = 0 for an IEEE float32 product and 2^-p when the
product first rounds its inputs to p fraction bits (TF32: p = 10, bfloat16: p = 7), and

    K = gamma_{n+2} [(1 + u_in)^2 + (1 + u)(1 + g)] + 2 u_in + u_in^2 + g + u (1 + g),   g = gamma'_{n+1} + 3u
    G = (K + 2 gamma'_{n+1} + 2^-120) (1 + 2^-30),    A = 16 (n + 2) 2^-126 + 4 (n + 2) 2^-1074 s^2.

Proof (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., Lemma 3.1 and eq. 3.5:
a sum of m terms, the products among them rounded once, evaluated in any order, has an absolute
error at most gamma_m times the sum of the terms' absolute values). Write mu = 2^-126 for the
absolute error one underflowing float32 operation may add (gradual or flushed to zero), and
d^2 = |x - y|^2 for the exact squared distance.
1. |w~ - W| <= gamma_{n+2} (sum_i |x^_i y^_i| + h_x + h_y) + (2n + 2) mu, where W = x^.y^ - h_x - h_y.
2. x^_i = s x_i (1 + e_i) + f_i with |e_i| <= u_in, |f_i| <= mu (the centring in float64 rounds by
   at most v, the scaling is exact, the rounding to float32 is u, and with u_mm the product's own
   rounding of its inputs). Hence
   |x^.y^ - s^2 x.y| <= (2 u_in + u_in^2) s^2 sum_i |x_i y_i| + 2 mu (n + s^2 (|x|^2 + |y|^2) / 2)
   (with sum_i |x_i| <= sqrt(n) |x| <= (n + |x|^2) / 2).
3. Each term of q_x is rounded twice (centring, square) and the sum n - 1 times, so
   |q_x - |x|^2| <= gamma'_{n+1} |x|^2 <= g |x|^2. (float32 rows with a float32 centre are centred in
   float32 and q_x is the float64 norm of x^: within gamma'_n (1 + u)^2 + 2u + u^2 <= g relative.)
   Then |h_x - s^2 |x|^2 / 2| <= (g + u (1 + g)) s^2 |x|^2 / 2 + mu.
4. sum_i |x_i y_i| <= |x| |y| <= (|x|^2 + |y|^2) / 2, and sum_i |x^_i y^_i| <= (1 + u_in)^2 s^2 (|x|^2 + |y|^2) / 2
   plus underflow terms of the size of those in 2.
Adding 1-3 with 4: |w~ - (-s^2 d^2 / 2)| <= K s^2 (|x|^2 + |y|^2) / 2 + (4n + 4) mu + 2 mu s^2 (|x|^2 + |y|^2)
(the terms in mu times gamma are below 2^-140 of the rest). Times 2 / s^2:
|d~ - d^2| <= (K + 2^-123) (|x|^2 + |y|^2) + (8n + 8) mu / s^2.
5. The definition D is computed on the given rows, not the centred ones; d^2 is the same number for
   both. Each term (x_i - y_i)^2 of D is rounded twice and the sum n - 1 times, so
   |D - d^2| <= gamma'_{n+1} d^2 + 2 n 2^-1074 <= 2 gamma'_{n+1} (|x|^2 + |y|^2) + 2 n 2^-1074.
6. |x|^2 <= q_x / (1 - g); the factor 1 + 2^-30 covers that and the float64 evaluation of the bound
   itself and of the comparisons made with it (each relative error below 2^-50). The float64
   underflow of q and D (at most 2^-1074 per term) is the second part of A.
1-6 give the claim, with A at twice the terms found (a margin, not a need).

For n = 2048 and an IEEE float32 product, G = 2.446e-4: for pool3 features (|x - c|^2 ~ 270) a squared
distance is known within ~0.13 in a few hundred. Every comparison of a distance with a radius, or
between two candidates, that the bound cannot decide is made again on the float64 values above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FLOAT32_UNIT = 2.0**-24  # unit roundoff of float32 (round to nearest)
FLOAT64_UNIT = 2.0**-53
_SMALLEST_NORMAL32 = 2.0**-126
_SMALLEST_SUBNORMAL64 = 2.0**-1074


def _gamma(terms: int, unit: float) -> float:
    if terms * unit >= 0.5:
        raise ValueError(f"the error bound needs dimension * unit roundoff < 1/2, got {terms} terms")
    return terms * unit / (1.0 - terms * unit)


@dataclass(frozen=True)
class Float32Bound:
    """G and the scaled absolute term A of the module docstring's bound, for one dimension, scale and product."""

    relative: float  # G: the bound's coefficient of q_x + q_y
    absolute_scaled: float  # A: in scaled units (divide by s^2 for the data's)
    scale: float  # s, the power of two both sets were multiplied by

    @classmethod
    def for_product(cls, dim: int, scale: float, product_rounding: float = 0.0) -> Float32Bound:
        """The bound for n = dim, scale s and u_mm = product_rounding (0 for an IEEE float32 product)."""
        u, v = FLOAT32_UNIT, FLOAT64_UNIT
        u_in = u + 2 * v + product_rounding * (1 + u + 2 * v)
        g32, g64 = _gamma(dim + 2, u), _gamma(dim + 1, v) + 3 * u
        k = g32 * ((1 + u_in) ** 2 + (1 + u) * (1 + g64)) + 2 * u_in + u_in**2 + g64 + u * (1 + g64)
        relative = (k + 2 * _gamma(dim + 1, v) + 2.0**-120) * (1 + 2.0**-30)
        absolute = 16 * (dim + 2) * _SMALLEST_NORMAL32 + 4 * (dim + 2) * _SMALLEST_SUBNORMAL64 * scale * scale
        return cls(relative, absolute, scale)

    def half_scaled(self, norms_a: np.ndarray, norms_b: np.ndarray | float) -> np.ndarray:
        """Bound on |w~ - (-s^2 D / 2)| (the block's units) for float64 squared norms q_a, q_b (broadcast)."""
        squared_scale = self.scale * self.scale
        return 0.5 * (self.relative * squared_scale * (np.asarray(norms_a) + norms_b) + self.absolute_scaled)

    def distance_bound(self, norm_a: float, norm_b: float) -> float:
        """Bound on |d~ - D| in the data's units for squared norms q_a, q_b."""
        return self.relative * (norm_a + norm_b) + self.absolute_scaled / (self.scale * self.scale)


def power_of_two_scale(largest_squared_norm: float) -> float:
    """s = 1 when the largest squared norm is in [2^-60, 2^90] (float32 products neither overflow nor
    lose anything that matters to underflow); else 2^e with s^2 * largest in [2^59, 2^61) (|e| <= 500,
    so s^2 stays a float64 for data of any size)."""
    if largest_squared_norm <= 0.0 or 2.0**-60 <= largest_squared_norm <= 2.0**90:
        return 1.0
    exponent = math.frexp(largest_squared_norm)[1]  # largest = m * 2^exponent, m in [0.5, 1)
    return math.ldexp(1.0, min(500, max(-500, (61 - exponent) // 2)))


def round_down32(values: np.ndarray) -> np.ndarray:
    """float64 -> the largest float32 at or below each value (so a float32 test `w >= t` loses nothing)."""
    values = np.asarray(values, np.float64)
    with np.errstate(over="ignore"):
        rounded = values.astype(np.float32)
    above = rounded.astype(np.float64) > values
    rounded[above] = np.nextafter(rounded[above], np.float32(-np.inf))
    return rounded


def exact_squared_distances(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """D of the module docstring for pairs of rows (rows[i], cols[i]) (float32 or float64 rows, broadcast),
    the subtraction done in float64 (float32 values convert exactly)."""
    difference = np.subtract(rows, cols, dtype=np.float64)
    np.square(difference, out=difference)
    return difference.sum(axis=1)
