"""Risk bands for schedulers: low / medium / high no-show risk, with thresholds per clinic."""

from __future__ import annotations

import json
from dataclasses import dataclass

DEFAULT_KEY = "default"


@dataclass(frozen=True)
class RiskBands:
    """Thresholds (medium_from, high_from) per clinic, with a default for every other clinic."""

    thresholds: dict[str, tuple[float, float]]

    @classmethod
    def from_json(cls, text: str) -> RiskBands:
        """Parse `{"default": [0.15, 0.35], "C01": [0.1, 0.3]}`; a clear ValueError otherwise."""
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as error:
            raise ValueError(f"CAREOPS_RISK_BANDS is not valid JSON: {error.msg}") from None
        if not isinstance(raw, dict) or DEFAULT_KEY not in raw:
            raise ValueError('CAREOPS_RISK_BANDS must be an object with a "default" entry')
        thresholds = {}
        for clinic, pair in raw.items():
            if not (isinstance(pair, list) and len(pair) == 2 and 0 < pair[0] < pair[1] < 1):
                raise ValueError(
                    f"CAREOPS_RISK_BANDS['{clinic}'] must be [medium_from, high_from] with 0 < a < b < 1"
                )
            thresholds[str(clinic)] = (float(pair[0]), float(pair[1]))
        return cls(thresholds)

    def band(self, probability: float, clinic_id: str) -> str:
        """The band of a no-show probability at a clinic."""
        medium_from, high_from = self.thresholds.get(clinic_id, self.thresholds[DEFAULT_KEY])
        if probability >= high_from:
            return "high"
        return "medium" if probability >= medium_from else "low"
