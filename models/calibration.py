"""Probability calibration: isotonic or sigmoid, chosen on the most recent data, as plain numpy."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import brentq
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

EPSILON = 1e-6
METHODS = ("isotonic", "sigmoid")


def logit(p: np.ndarray) -> np.ndarray:
    """Log-odds of probabilities, clipped away from 0 and 1."""
    p = np.clip(p, EPSILON, 1 - EPSILON)
    return np.log(p / (1 - p))


def shifted(p: np.ndarray, offset: float) -> np.ndarray:
    """Probabilities moved by `offset` on the log-odds scale (0 leaves them as they are)."""
    if offset == 0.0:
        return np.asarray(p, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-(logit(p) + offset)))


def intercept_offset(p: np.ndarray, y: np.ndarray) -> float:
    """The log-odds shift that makes the mean of the shifted probabilities the observed rate.

    This is an intercept update: it corrects calibration-in-the-large (a base rate that moved)
    without retraining the booster, and leaves the ranking, hence ROC-AUC, as it was.
    """
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(p) == 0 or len(np.unique(y)) < 2:
        raise ValueError("an intercept update needs labelled rows of both classes")
    rate = float(y.mean())
    return float(brentq(lambda d: float(shifted(p, d).mean()) - rate, -10.0, 10.0))


@dataclass(frozen=True)
class Calibrator:
    """A fitted map from raw to calibrated probabilities, then an optional log-odds `offset`
    (an intercept update from recent outcomes; 0 as fitted)."""

    method: str
    x: np.ndarray = field(default_factory=lambda: np.empty(0))
    y: np.ndarray = field(default_factory=lambda: np.empty(0))
    slope: float = 1.0
    intercept: float = 0.0
    offset: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The calibrator as JSON-ready data."""
        return {
            "method": self.method,
            "x": self.x.tolist(),
            "y": self.y.tolist(),
            "slope": self.slope,
            "intercept": self.intercept,
            "offset": self.offset,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        """A calibrator from `to_dict`'s data."""
        return cls(
            data["method"],
            x=np.asarray(data["x"], dtype=np.float64),
            y=np.asarray(data["y"], dtype=np.float64),
            slope=float(data["slope"]),
            intercept=float(data["intercept"]),
            offset=float(data.get("offset", 0.0)),  # versions saved before intercept updates have none
        )

    def transform(self, p: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw ones."""
        if self.method == "isotonic":
            mapped = np.interp(p, self.x, self.y)
        elif self.method == "sigmoid":
            mapped = 1.0 / (1.0 + np.exp(-(self.slope * logit(p) + self.intercept)))
        else:
            mapped = np.asarray(p, dtype=np.float64)
        return shifted(mapped, self.offset)


def fit_calibrator(p: np.ndarray, y: np.ndarray, method: str) -> Calibrator:
    """Fit `method` ("isotonic" or "sigmoid") on raw probabilities and outcomes."""
    if method == "isotonic":
        iso = IsotonicRegression(y_min=EPSILON, y_max=1 - EPSILON, out_of_bounds="clip").fit(p, y)
        return Calibrator("isotonic", x=iso.X_thresholds_.copy(), y=iso.y_thresholds_.copy())
    if method == "sigmoid":
        model = LogisticRegression(C=np.inf).fit(logit(p).reshape(-1, 1), y)
        return Calibrator("sigmoid", slope=float(model.coef_[0, 0]), intercept=float(model.intercept_[0]))
    raise ValueError(f"unknown calibration method '{method}'; use one of {METHODS}")


def choose_calibrator(p: np.ndarray, y: np.ndarray) -> tuple[Calibrator, dict[str, float]]:
    """Pick the method with the lower log loss on the later half, then refit it on all rows.

    Rows must be in time order: the earlier half fits, the later half judges.
    """
    half = len(p) // 2
    scores = {}
    for method in METHODS:
        candidate = fit_calibrator(p[:half], y[:half], method)
        scores[method] = float(
            log_loss(y[half:], np.clip(candidate.transform(p[half:]), EPSILON, 1 - EPSILON))
        )
    best = min(scores, key=scores.__getitem__)
    return fit_calibrator(p, y, best), scores


class CalibratedClassifier(ClassifierMixin, BaseEstimator):
    """A LightGBM classifier followed by a calibrator; the pipeline's final step.

    `classifier` is the unfitted template; `fit` leaves the fitted copy in `classifier_`, the
    chosen calibrator (or None) in `calibrator_` and each method's log loss in `calibration_scores_`.
    """

    def __init__(self, classifier: Any = None) -> None:
        self.classifier = classifier

    @classmethod
    def from_fitted(
        cls, classifier: Any, calibrator: Calibrator | None, calibration_scores: dict[str, float]
    ) -> CalibratedClassifier:
        """Wrap a classifier fitted elsewhere (on a Dask cluster) with its calibrator."""
        model = cls(classifier)
        model.classifier_ = classifier
        model.calibrator_ = calibrator
        model.calibration_scores_ = dict(calibration_scores)
        return model

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        calibration_X: np.ndarray | None = None,
        calibration_y: np.ndarray | None = None,
        refit: bool = False,
        **fit_params: object,
    ) -> CalibratedClassifier:
        """Fit the classifier, then choose and fit the calibrator on the calibration rows if given.

        `fit_params` go to the classifier's fit (early stopping, categorical features). With
        `refit`, the classifier is then fitted again on training and calibration rows together,
        with its best iteration count scaled to the larger data; the calibrator, fitted on
        out-of-sample scores of the first fit, is kept.
        """
        self.classifier_ = clone(self.classifier).fit(X, y, **fit_params)
        self.calibrator_: Calibrator | None = None
        self.calibration_scores_: dict[str, float] = {}
        if calibration_X is None or calibration_y is None:
            return self
        if not refit:
            self.calibrator_, self.calibration_scores_ = choose_calibrator(
                self.raw_probability(calibration_X), calibration_y
            )
            return self
        best = self.classifier_.best_iteration_ or self.classifier.get_params()["n_estimators"]
        kept = {k: v for k, v in fit_params.items() if k == "categorical_feature"}

        def refitted(extra: np.ndarray) -> Any:
            rows = len(X) + len(extra)
            model = clone(self.classifier).set_params(n_estimators=max(1, round(best * rows / len(X))))
            return model.fit(
                np.vstack([X, calibration_X[extra]]), np.concatenate([y, calibration_y[extra]]), **kept
            )

        # The refitted booster has learned from the calibration rows, so its scores there are not
        # out of sample. Each half of them is scored by a booster refitted with the other half, and
        # the calibrator is fitted on those scores: it then matches a booster that has seen recent rows.
        halves = np.array_split(np.arange(len(calibration_X)), 2)
        scores = np.empty(len(calibration_X))
        for fitted, scored in ((halves[0], halves[1]), (halves[1], halves[0])):
            scores[scored] = refitted(fitted).predict_proba(calibration_X[scored])[:, 1]
        self.calibrator_, self.calibration_scores_ = choose_calibrator(scores, calibration_y)
        self.classifier_ = refitted(np.arange(len(calibration_X)))
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "classifier_")

    @property
    def classes_(self) -> np.ndarray:
        """The fitted classifier's classes."""
        return self.classifier_.classes_

    @property
    def booster_(self) -> Any:
        """The fitted LightGBM booster."""
        return self.classifier_.booster_

    @property
    def num_iteration_(self) -> int | None:
        """Trees to predict with: the early-stopping best iteration, or None for all."""
        return self.classifier_.best_iteration_ or None

    @property
    def calibration_method_(self) -> str:
        """The calibration method in use ("none" without a calibrator)."""
        return self.calibrator_.method if self.calibrator_ is not None else "none"

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probabilities for raw booster probabilities."""
        return self.calibrator_.transform(raw) if self.calibrator_ is not None else raw

    def raw_probability(self, X: np.ndarray) -> np.ndarray:
        """The booster's uncalibrated probability of the positive class."""
        return self.classifier_.predict_proba(X)[:, 1]

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities."""
        p = self.calibrate(self.raw_probability(X))
        return np.column_stack([1 - p, p])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class labels at probability 0.5."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
