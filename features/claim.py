"""Claim features for denial risk: payer rules, coverage policy, coding, filing and eligibility."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from data.epoch import SECONDS_PER_DAY, as_seconds, is_missing
from data.reference import Payer, Procedure, payers, procedures
from data.schemas import line_field
from features.claim_history import CLAIM_HISTORY_COLUMNS, CLAIM_HISTORY_MODEL_FEATURES
from features.columns import Columns, as_float
from features.transformer import CanonicalFeatures

# The payer and policy checks made on each service line, in the column order of `line_flags`.
LINE_RULES = (
    "needs_missing_prior_auth",
    "not_covered_by_payer",
    "not_supported_by_diagnosis",
    "em_without_modifier_25",
    "unknown_procedure_code",
)
RULE = {name: column for column, name in enumerate(LINE_RULES)}
# What the rule checks add up to per claim, in the model's column order.
CLAIM_RULE_FEATURES = (
    "lines_needing_missing_auth",
    "noncovered_lines",
    "lines_unsupported_by_diagnosis",
    "em_with_procedure_without_modifier_25",
    "rendering_provider_missing",
    "unknown_procedure_lines",
    "lines_breaking_a_rule",
    "lines_breaking_no_rule",
)


class ClaimFeatures(CanonicalFeatures):
    """Canonical claims to features, using the payer table and the procedure coverage policy."""

    input_columns: ClassVar[tuple[str, ...]] = (
        "payer_id",
        "payer_type",
        "claim_type",
        "place_of_service",
        "rendering_provider_id",
        "service_date",
        "submitted_at",
        "total_charge",
        "diagnosis_codes",
        "service_lines",
        "prior_auth_number",
        "eligibility_verified_at",
    )
    record_columns: ClassVar[tuple[str, ...]] = input_columns
    input_columns = (*record_columns, *CLAIM_HISTORY_COLUMNS)
    categorical: ClassVar[tuple[str, ...]] = (
        "payer_id",
        "payer_type",
        "claim_type",
        "place_of_service",
    )
    numeric: ClassVar[tuple[str, ...]] = (
        "total_charge",
        "line_count",
        "diagnosis_count",
        "days_to_submit",
        "filing_window_days",
        "days_past_filing_window",
        "eligibility_not_verified",
        "eligibility_age_days",
        "prior_auth_present",
        *CLAIM_RULE_FEATURES,
        *CLAIM_HISTORY_MODEL_FEATURES,
    )

    def fit(self, X: pd.DataFrame, y: Any = None) -> ClaimFeatures:
        """Learn category vocabularies and take a snapshot of the reference tables."""
        super().fit(X, y)
        self.payers_: dict[str, Payer] = dict(payers())
        self.procedures_: dict[str, Procedure] = dict(procedures())
        return self

    def fitted_state(self) -> dict[str, Any]:
        """Vocabularies, and the payer and procedure tables as they were when the model was fitted."""
        return super().fitted_state() | {
            "payers": [
                asdict(p)
                | {
                    "auth_required_codes": sorted(p.auth_required_codes),
                    "noncovered_codes": sorted(p.noncovered_codes),
                }
                for p in self.payers_.values()
            ],
            "procedures": [asdict(p) for p in self.procedures_.values()],
        }

    def restore(self, state: dict[str, Any]) -> ClaimFeatures:
        """Set the saved vocabularies and reference-table snapshot; returns self, fitted."""
        super().restore(state)
        self.payers_ = {
            p["payer_id"]: Payer(
                **p
                | {
                    "auth_required_codes": frozenset(p["auth_required_codes"]),
                    "noncovered_codes": frozenset(p["noncovered_codes"]),
                }
            )
            for p in state["payers"]
        }
        self.procedures_ = {
            p["procedure_code"]: Procedure(**p | {"supporting_diagnoses": tuple(p["supporting_diagnoses"])})
            for p in state["procedures"]
        }
        return self

    def line_flags(self, columns: Columns, row: int) -> np.ndarray:
        """Per line of claim `row`, the rule checks in LINE_RULES order (NaN when the payer is unknown)."""
        payer = self.payers_.get(columns["payer_id"][row])
        lines = columns["service_lines"][row]
        codes = [line_field(line, "procedure_code") for line in lines]
        modifiers = [line_field(line, "modifiers") for line in lines]
        diagnoses = list(columns["diagnosis_codes"][row])
        known = [self.procedures_.get(code) for code in codes]
        kinds = [p.kind if p is not None else None for p in known]
        has_auth = not is_missing(columns["prior_auth_number"][row])
        has_procedure = "procedure" in kinds
        flags = np.zeros((len(lines), len(LINE_RULES)))
        for k, (code, procedure, kind, mods) in enumerate(zip(codes, known, kinds, modifiers, strict=True)):
            flags[k, RULE["needs_missing_prior_auth"]] = (
                code in payer.auth_required_codes and not has_auth if payer else np.nan
            )
            flags[k, RULE["not_covered_by_payer"]] = code in payer.noncovered_codes if payer else np.nan
            flags[k, RULE["not_supported_by_diagnosis"]] = (
                procedure is not None and not procedure.supported_by(diagnoses)
            )
            flags[k, RULE["em_without_modifier_25"]] = has_procedure and kind == "em" and "25" not in mods
            flags[k, RULE["unknown_procedure_code"]] = procedure is None
        return flags

    def _rule_features(self, columns: Columns) -> dict[str, np.ndarray]:
        rows = len(columns["payer_id"])
        out = {name: np.full(rows, np.nan) for name in ("filing_window_days", *CLAIM_RULE_FEATURES)}
        # The rules that deny a line (an unknown code is flagged, not a payer rule).
        payer_rules = [RULE[name] for name in LINE_RULES if name != "unknown_procedure_code"]
        for i in range(rows):
            payer = self.payers_.get(columns["payer_id"][i])
            flags = self.line_flags(columns, i)
            out["filing_window_days"][i] = payer.timely_filing_days if payer else np.nan
            out["lines_needing_missing_auth"][i] = flags[:, RULE["needs_missing_prior_auth"]].sum()
            out["noncovered_lines"][i] = flags[:, RULE["not_covered_by_payer"]].sum()
            out["lines_unsupported_by_diagnosis"][i] = flags[:, RULE["not_supported_by_diagnosis"]].sum()
            out["em_with_procedure_without_modifier_25"][i] = float(
                flags[:, RULE["em_without_modifier_25"]].any()
            )
            out["rendering_provider_missing"][i] = float(is_missing(columns["rendering_provider_id"][i]))
            out["unknown_procedure_lines"][i] = flags[:, RULE["unknown_procedure_code"]].sum()
            # A claim is denied only when every line is, so how many lines break a rule matters.
            flagged = np.nan_to_num(flags[:, payer_rules]).any(axis=1)
            out["lines_breaking_a_rule"][i] = flagged.sum()
            out["lines_breaking_no_rule"][i] = len(flagged) - flagged.sum()
        return out

    def unseen_categories(self, columns: Columns) -> list[list[str]]:
        """Categories never seen in training, and procedure codes missing from the procedure table."""
        flags = super().unseen_categories(columns)
        for row, lines in enumerate(columns["service_lines"]):
            unknown = [line_field(line, "procedure_code") for line in lines]
            flags[row] += [f"procedure_code:{code}" for code in unknown if code not in self.procedures_]
        return flags

    def numeric_features(self, columns: Columns) -> dict[str, np.ndarray]:
        """Charges, counts, filing and eligibility timing, and the payer/policy rule checks."""
        service = as_seconds(columns["service_date"])
        submitted = as_seconds(columns["submitted_at"])
        verified = as_seconds(columns["eligibility_verified_at"])
        days_to_submit = (submitted - service) / SECONDS_PER_DAY
        named = self._rule_features(columns) | {
            "total_charge": as_float(columns["total_charge"]),
            "line_count": np.array([len(lines) for lines in columns["service_lines"]], dtype=float),
            "diagnosis_count": np.array([len(codes) for codes in columns["diagnosis_codes"]], dtype=float),
            "days_to_submit": days_to_submit,
            "eligibility_not_verified": np.isnan(verified).astype(float),
            "eligibility_age_days": (service - verified) / SECONDS_PER_DAY,
            "prior_auth_present": np.array(
                [not is_missing(v) for v in columns["prior_auth_number"]], dtype=float
            ),
        }
        named["days_past_filing_window"] = days_to_submit - named["filing_window_days"]
        named |= {name: as_float(columns[name]) for name in CLAIM_HISTORY_MODEL_FEATURES}
        return named
