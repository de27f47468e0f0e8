"""A trained model as data: JSON for settings, vocabularies and calibrators, LightGBM's own text for trees.

Nothing here is pickled, so loading a registered model runs no code from the registry: the code
that reads these files ships with careops.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from features.claim_history import ClaimHistoryParams
from features.history import HistoryParams
from models.calibration import CalibratedClassifier, Calibrator
from models.denial_model import DenialModel
from models.estimator import BoosterClassifier
from models.noshow_model import NoShowModel
from models.reasons import ReasonModel
from models.service_lines import LineModel
from models.task_models import build_trained
from models.tasks import get_task
from models.trained import TrainedModel

FORMAT_VERSION = 3  # 2: the no-show model reads booked_together; 3: and its history against lead bands
MODEL_FILE = "model.json"
BOOSTER_FILE, REASONS_FILE, LINES_FILE = "booster.txt", "reasons.txt", "lines.txt"


def _classifier_state(model: CalibratedClassifier) -> dict[str, Any]:
    return {
        "best_iteration": int(model.classifier_.best_iteration_ or 0),
        "calibrator": model.calibrator_.to_dict() if model.calibrator_ is not None else None,
        "calibration_scores": model.calibration_scores_,
    }


def _classifier(state: dict[str, Any], booster_text: str, n_jobs: int) -> CalibratedClassifier:
    booster = lgb.Booster(model_str=booster_text)
    calibrator = Calibrator.from_dict(state["calibrator"]) if state["calibrator"] is not None else None
    classifier = BoosterClassifier(booster, state["best_iteration"], n_jobs)
    return CalibratedClassifier.from_fitted(classifier, calibrator, state["calibration_scores"])


def save_trained(trained: TrainedModel, folder: Path) -> Path:
    """Write `trained` into `folder` (created) as JSON and LightGBM text files; returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "task": trained.task_name,
        "features": trained.features.fitted_state(),
        "classifier": _classifier_state(trained.classifier),
        "history": asdict(trained.history) if isinstance(trained, NoShowModel) else None,
        "claim_history": asdict(trained.claim_history) if isinstance(trained, DenialModel) else None,
        "reasons": None,
        "lines": None,
    }
    (folder / BOOSTER_FILE).write_text(
        trained.classifier.booster_.model_to_string(num_iteration=-1), encoding="utf-8"
    )
    if isinstance(trained, DenialModel) and trained.reasons is not None:
        state["reasons"] = {"categories": trained.reasons.categories}
        if trained.reasons.booster is not None:
            (folder / REASONS_FILE).write_text(
                trained.reasons.booster.model_to_string(num_iteration=-1), encoding="utf-8"
            )
    if isinstance(trained, DenialModel) and trained.lines is not None:
        state["lines"] = _classifier_state(trained.lines.model)
        (folder / LINES_FILE).write_text(
            trained.lines.model.booster_.model_to_string(num_iteration=-1), encoding="utf-8"
        )
    (folder / MODEL_FILE).write_text(json.dumps(state), encoding="utf-8")
    return folder


def load_trained(folder: Path, n_jobs: int = 1) -> TrainedModel:
    """Read a model written by `save_trained`; a clear ValueError when the files do not fit."""
    state = json.loads((folder / MODEL_FILE).read_text(encoding="utf-8"))
    if state.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"model files of format {state.get('format_version')}; this careops reads {FORMAT_VERSION}"
        )
    task = get_task(state["task"])
    features = task.features().restore(state["features"])
    classifier = _classifier(state["classifier"], (folder / BOOSTER_FILE).read_text(encoding="utf-8"), n_jobs)
    reasons = lines = None
    if state["reasons"] is not None:
        reasons_file = folder / REASONS_FILE
        booster = (
            lgb.Booster(model_str=reasons_file.read_text(encoding="utf-8")) if reasons_file.exists() else None
        )
        reasons = ReasonModel(state["reasons"]["categories"], booster)  # type: ignore[arg-type]
    if state["lines"] is not None:
        lines = LineModel(
            _classifier(state["lines"], (folder / LINES_FILE).read_text(encoding="utf-8"), n_jobs)
        )
    claim_history = state["claim_history"]
    return build_trained(
        task.name,
        Pipeline([("features", features), ("classifier", classifier)]),
        history=HistoryParams(**state["history"]) if state["history"] is not None else None,
        claim_history=ClaimHistoryParams(**claim_history) if claim_history is not None else None,
        reasons=reasons,
        lines=lines,
    )


def read_golden_set(task_name: str, path: str | Path) -> pd.DataFrame:
    """The golden set's canonical rows, validated; a ValueError when any row no longer fits the schema."""
    loaded = get_task(task_name).load(pd.read_json(path, orient="records", dtype=False))
    if len(loaded.quarantined) or loaded.valid.empty:
        raise ValueError(f"golden set does not fit the schema: {loaded.reason_counts}")
    return loaded.valid


def golden_probabilities(trained: TrainedModel, golden: pd.DataFrame) -> np.ndarray:
    """The pipeline's probabilities on the golden set (claims uncapped), as saved beside a version."""
    return trained.pipeline.predict_proba(trained.prepare(golden))[:, 1]
