"""The biller's worklist: claims brought in before submission, scored, ranked, opened, exported and
marked, each through the biller's scope (payers) and into the audit trail."""

from __future__ import annotations

from collections.abc import Sequence

from data.schemas import Claim
from data.stores.claims import ClaimStore
from data.stores.worklist import WorklistStore
from data.worklist_items import WorkItem
from services.access.audit import AuditTrail
from services.access.principal import Principal
from services.denial import DenialService


class WorklistService:
    """Reads and changes the worklist for a principal, leaving out (and counting) claims outside
    their payers."""

    def __init__(
        self, store: WorklistStore, claims: ClaimStore, denial: DenialService, audit: AuditTrail
    ) -> None:
        self.store, self.claims, self.denial, self.audit = store, claims, denial, audit

    def add(self, who: Principal, claims: Sequence[Claim], door: str) -> tuple[int, int]:
        """Score claims and put them on the list (or update them); returns (added, updated)."""
        if not claims:
            return 0, 0
        scores, version = self.denial.worklist_scores(who, claims)
        added, updated = self.store.add(claims, scores, version)
        self.audit.record(who, "change", "claim", (c.claim_id for c in claims), door=door, change="worklist")
        return added, updated

    def awaiting(self, who: Principal, limit: int) -> list[Claim]:
        """Claims recorded as submitted and still waiting for their remittance, in the caller's scope."""
        waiting = [c for c in self.claims.awaiting(limit) if who.may_see_payer(c.payer_id)]
        self.audit.record(who, "read", "claim", (c.claim_id for c in waiting), door="pages")
        return waiting

    def items(self, who: Principal, action: str = "read") -> tuple[list[WorkItem], int]:
        """The list's claims in the caller's scope, and how many were left out (`action` "export" for
        a download)."""
        every = self.store.items()
        shown = [i for i in every if who.may_see_payer(i.claim.payer_id)]
        self.audit.record(who, action, "claim", (i.claim.claim_id for i in shown), door="pages")
        return shown, len(every) - len(shown)

    def item(self, who: Principal, handle: int) -> WorkItem | None:
        """One claim of the list by its handle (None when there is none in the caller's scope)."""
        item = self.store.item(handle)
        if item is None or not who.may_see_payer(item.claim.payer_id):
            return None
        self.audit.record(who, "read", "claim", [item.claim.claim_id], door="pages")
        return item

    def mark(self, who: Principal, handle: int, status: str) -> bool:
        """Mark a claim fixed, submitted or open again; False when there is none in scope."""
        item = self.store.item(handle)
        if item is None or not who.may_see_payer(item.claim.payer_id):
            return False
        changed = self.store.mark(handle, status)
        self.audit.record(
            who, "change", "claim", [item.claim.claim_id], door="pages", change=f"status {status}"
        )
        return changed
