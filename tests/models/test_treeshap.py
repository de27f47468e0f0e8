"""TreeSHAP from tables equals LightGBM's own `pred_contrib`, on every kind of split and value."""

from __future__ import annotations

import lightgbm as lgb
import mlflow
import numpy as np
import pytest

from models import treeshap
from models.pyfunc import load_registered
from models.scorer import TABLE_SHAP_ROWS
from models.tasks import get_task
from models.treeshap import TreeShap
from tests.helpers import TrainedStore

TOLERANCE = 1e-9


def _reference(booster: lgb.Booster, matrix: np.ndarray) -> np.ndarray:
    return booster.predict(matrix, pred_contrib=True)[:, :-1]


def _data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Numbers with missing values and zeros, and a category column, with a signal in each."""
    rng = np.random.default_rng(seed)
    matrix = np.column_stack(
        [
            rng.normal(size=rows),
            np.where(rng.random(rows) < 0.2, np.nan, rng.normal(size=rows)),
            np.where(rng.random(rows) < 0.3, 0.0, rng.exponential(size=rows)),
            rng.integers(0, 12, rows).astype(float),
            rng.integers(0, 4, rows).astype(float),
        ]
    )
    logit = matrix[:, 0] + np.nan_to_num(matrix[:, 1]) - matrix[:, 2] + (matrix[:, 3] % 3 == 0) - 0.5
    return matrix, (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)


def _booster(matrix: np.ndarray, labels: np.ndarray, **params: object) -> lgb.Booster:
    settings = {"objective": "binary", "num_leaves": 15, "min_data_in_leaf": 20, "verbosity": -1, "seed": 1}
    data = lgb.Dataset(matrix, labels, categorical_feature=[3, 4], free_raw_data=False)
    return lgb.train(settings | params, data, num_boost_round=60)


def _awkward_rows(matrix: np.ndarray, seed: int) -> np.ndarray:
    """Rows with values training never saw: NaN everywhere, negative, fractional and new categories."""
    rng = np.random.default_rng(seed)
    rows = matrix[:200].copy()
    rows[rng.random(rows.shape) < 0.15] = np.nan
    rows[:50, 3] = rng.choice([-3.0, -0.5, 2.7, 11.2, 40.0, 1e9], 50)
    rows[50:100, 2] = rng.choice([0.0, -0.0, 1e-40, -1e-40], 50)
    return rows


@pytest.mark.parametrize(
    "params",
    [
        {},  # NaN as its own missing type, categories split by sets
        {"zero_as_missing": True},  # zeros are missing
        {"use_missing": False},  # no missing type: NaN reads as 0
        {"num_leaves": 63, "min_data_in_leaf": 5, "max_cat_to_onehot": 16},  # deep paths, one-hot splits
    ],
)
def test_contributions_equal_lightgbm_pred_contrib(params: dict) -> None:
    matrix, labels = _data(4_000, seed=3)
    booster = _booster(matrix, labels, **params)
    tables = TreeShap(booster)
    for rows in (matrix[:300], _awkward_rows(matrix, seed=4), matrix[:1]):
        reference = _reference(booster, rows)
        assert np.abs(reference).max() > 0.1  # the model does use its inputs
        assert np.abs(tables.contributions(rows) - reference).max() <= TOLERANCE


def test_trees_without_a_split_and_a_stopped_iteration() -> None:
    matrix, labels = _data(2_000, seed=5)
    stumps = _booster(matrix, labels, min_gain_to_split=1e9)  # every tree is a single leaf
    assert np.all(TreeShap(stumps).contributions(matrix[:20]) == 0)
    booster = _booster(matrix, labels)
    reference = booster.predict(matrix[:50], num_iteration=7, pred_contrib=True)[:, :-1]
    seven = TreeShap(booster, num_iteration=7).contributions(matrix[:50])
    assert np.abs(seven - reference).max() <= TOLERANCE


def test_a_model_too_deep_for_tables_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    matrix, labels = _data(2_000, seed=6)
    booster = _booster(matrix, labels)
    monkeypatch.setattr(treeshap, "MAX_PATH_FEATURES", 1)
    with pytest.raises(ValueError, match="distinct features"):
        TreeShap(booster)


@pytest.mark.parametrize("task_name", ["noshow", "denial"])
def test_served_factors_are_lightgbms(
    trained_store: TrainedStore, task_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request's few rows are explained from the tables, a batch by LightGBM: the same factors."""
    task = get_task(task_name)
    mlflow.set_tracking_uri(trained_store.settings.tracking_uri)
    trained = load_registered(f"models:/{task_name}@champion").trained
    path = trained_store.appointments if task_name == "noshow" else trained_store.claims
    matrix = trained.features.transform(trained.prepare(task.load(path).valid.tail(TABLE_SHAP_ROWS + 4)))
    scorer = trained.scorer(1)
    assert scorer.prepare_explanations() is not None
    batch = scorer.top_factors(matrix, 5)  # more rows than TABLE_SHAP_ROWS: LightGBM's TreeSHAP
    online = []
    for start in range(0, len(matrix), 4):  # as requests of up to four records each
        online += scorer.top_factors(matrix[start : start + 4], 5)
    assert len(online) == len(batch) == TABLE_SHAP_ROWS + 4
    for ours, theirs in zip(online, batch, strict=True):
        assert [f.name for f in ours] == [f.name for f in theirs] and len(ours) == 5
        gaps = [abs(a.contribution - b.contribution) for a, b in zip(ours, theirs, strict=True)]
        assert max(gaps) <= TOLERANCE
    # A model too deep for tables keeps LightGBM's TreeSHAP, with the same answer.
    monkeypatch.setattr(treeshap, "MAX_PATH_FEATURES", 1)
    fallback = trained.scorer(1)
    assert fallback.prepare_explanations() is None
    assert fallback.top_factors(matrix[:2], 5) == batch[:2]
