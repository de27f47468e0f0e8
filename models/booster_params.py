"""LightGBM hyper-parameters: the defaults, and the no-show model's own."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class BoosterParams:
    """LightGBM hyper-parameters; thread count and seed are set per run, not here."""

    n_estimators: int = 1000
    learning_rate: float = 0.03
    num_leaves: int = 15
    min_child_samples: int = 40
    reg_lambda: float = 5.0
    min_split_gain: float = 0.0
    cat_smooth: float = 20.0
    subsample: float = 1.0
    colsample_bytree: float = 1.0
    early_stopping_rounds: int = 50
    refit_on_calibration_rows: bool = True

    def as_params(self) -> dict[str, float | int]:
        """Parameters as logged to MLflow."""
        return asdict(self)


DEFAULT_PARAMS = BoosterParams()
# Chosen on the no-show folds with four seeds (docs/models.md): each tree learns from a random 70%
# of the rows, which regularises the first fold's model, learned from six days of visits, and
# raised the mean over folds on every seed. The denial model gained nothing from it.
NOSHOW_PARAMS = BoosterParams(subsample=0.7)
