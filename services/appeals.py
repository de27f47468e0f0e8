"""After a denial: an appeal letter for the denial's reason, and for an administrative reason a
corrected-claim checklist, from the practice's editable templates (data/reference/appeals.csv).

The reason is the 835's: its first denying CARC with a category, refined by the remark codes as the
labels are (data/x12/carc.py); without the 835's codes, the model's likely reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date

from data.reference import AppealTemplate, Payer
from data.worklist_items import WorkItem
from data.x12.carc import is_denial, refined_category
from data.x12.code_words import carc_words, rarc_words
from services.access.principal import Principal
from services.worklist import WorklistService

WORKED = ("denied", "appealed", "corrected")  # the statuses a draft is offered for


@dataclass(frozen=True)
class AppealDraft:
    """Everything an appeal letter (or a corrected claim) of one denied claim says."""

    item: WorkItem
    payer_name: str
    category: str
    codes: list[tuple[str, str]]  # (code, in words): the 835's CARCs then RARCs
    template: AppealTemplate
    written_on: date

    @property
    def reason(self) -> str:
        """The denial's category in words ("medical necessity")."""
        return self.category.replace("_", " ")


def denial_category(codes: str | None, predicted: str | None) -> str | None:
    """The category of an 835's denial codes ("CO-50;N115"), else the predicted one."""
    parts = [c.strip().upper() for c in (codes or "").split(";") if c.strip()]
    carcs = [c.split("-", 1) for c in parts if "-" in c]
    remarks = [c for c in parts if "-" not in c]
    for group, carc in carcs:
        if is_denial(group, carc):
            category = refined_category(carc, remarks)
            if category is not None:
                return str(category.value)
    return predicted


class AppealService:
    """Drafts for the denied claims on the list, through the worklist's scope and audit."""

    def __init__(
        self,
        worklist: WorklistService,
        templates: Mapping[str, AppealTemplate],
        payers: Mapping[str, Payer],
        clock: Callable[[], date] = date.today,
    ) -> None:
        self.worklist, self.templates, self.payers, self.clock = worklist, templates, payers, clock

    def draft(self, who: Principal, handle: int, form: str = "page") -> AppealDraft | None:
        """The draft for a listed claim the caller may see that was denied (None otherwise); the
        claim is audited as exported, with the draft's form (page or pdf)."""
        item = self.worklist.store.item(handle, self.worklist.policy)
        if item is None or item.status not in WORKED or not who.may_see_payer(item.claim.payer_id):
            return None
        category = denial_category(item.denial_codes, item.top_reason)
        if category not in self.templates:
            return None
        self.worklist.audit.record(
            who, "export", "claim", [item.claim.claim_id], door="pages", document=f"appeal {form}"
        )
        parts = list(dict.fromkeys(c for c in (item.denial_codes or "").split(";") if c))  # once each
        codes = [(c, carc_words(c) if "-" in c else rarc_words(c)) for c in parts]
        payer = self.payers.get(item.claim.payer_id)
        return AppealDraft(
            item, payer.payer_name if payer else item.claim.payer_id, category, codes,
            self.templates[category], self.clock(),
        )  # fmt: skip
