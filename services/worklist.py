"""The biller's worklist: claims brought in before submission, scored, ranked, opened, exported and
marked, each through the biller's scope (payers) and into the audit trail."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from data.epoch import epoch_day
from data.filing_deadlines import DeadlinePolicy, filing_deadline
from data.reference import Payer
from data.schemas import Claim
from data.stores.claim_workflow import ClaimWorkflow, FileStatus
from data.stores.claims import ClaimStore
from data.stores.worklist import WorklistStore
from data.worklist_items import ADJUDICATED, Deadline, ListedItem, WorkItem, WorklistPage, WorklistView
from data.x12.acknowledgments_277 import ClaimAcknowledgment
from data.x12.code_words import carc_words, rarc_words
from data.x12.remittances_835 import ClaimPayment
from services.access.audit import AuditTrail
from services.access.principal import Principal
from services.denial import DenialService
from services.upload_reader import read_claims


@dataclass(frozen=True)
class Acknowledged:
    """What a 277CA did to the list: claims marked rejected and acknowledged, and statuses that
    changed nothing (no such claim on the list, outside the reader's payers, or older than what the
    list holds)."""

    rejected: int
    acknowledged: int
    unchanged: int


@dataclass(frozen=True)
class UploadAdded:
    """What an upload did to the list, and the rows it could not take, by reason."""

    added: int
    updated: int
    quarantined: int
    reason_counts: dict[str, int]


class WorklistService:
    """Reads and changes the worklist for a principal, leaving out (and counting) claims outside
    their payers."""

    def __init__(
        self,
        store: WorklistStore,
        claims: ClaimStore,
        denial: DenialService,
        audit: AuditTrail,
        payers: Mapping[str, Payer],
        policy: DeadlinePolicy = DeadlinePolicy(),
        clock: Callable[[], date] = date.today,
    ) -> None:
        self.store, self.claims, self.denial, self.audit = store, claims, denial, audit
        self.workflow = ClaimWorkflow(store.engine)
        self.payers, self.clock = payers, clock
        self._policy = policy
        self.windows = {payer_id: payer.timely_filing_days for payer_id, payer in payers.items()}
        store.set_windows(self.windows)  # the practice may have edited its payer table since
        # Uploads score one chunk at a time between them: Python runs one thread's work at a time
        # anyway, and a single busy thread leaves the event loop its turns.
        self._chunk_turns = threading.Lock()

    def add(self, who: Principal, claims: Sequence[Claim], door: str) -> tuple[int, int]:
        """Score claims and put them on the list (or update them); returns (added, updated)."""
        if not claims:
            return 0, 0
        scores, version = self.denial.worklist_scores(who, claims)
        added, updated = self.store.add(claims, scores, version, self.windows)
        self.audit.record(who, "change", "claim", (c.claim_id for c in claims), door=door, change="worklist")
        return added, updated

    def upload(self, who: Principal, name: str, content: bytes, max_rows: int | None) -> UploadAdded:
        """An uploaded CSV or 837, read in a process of its own, then scored and listed a chunk at a
        time (each chunk its own scoring and audit entry), so that a large file never holds all its
        claims here at once. Raises UploadError for a file that cannot be read."""
        read = read_claims(name, content, max_rows)
        added = updated = 0
        chunks = read.chunks()
        while True:
            with self._chunk_turns:  # building a chunk's claims is work too
                claims = next(chunks, None)
                if claims is None:
                    break
                more, again = self.add(who, claims, "pages")
            added, updated = added + more, updated + again
        return UploadAdded(added, updated, read.quarantined, read.reason_counts)

    def awaiting(self, who: Principal, limit: int) -> list[Claim]:
        """Claims recorded as submitted and still waiting for their remittance, in the caller's scope."""
        waiting = [c for c in self.claims.awaiting(limit) if who.may_see_payer(c.payer_id)]
        self.audit.record(who, "read", "claim", (c.claim_id for c in waiting), door="pages")
        return waiting

    def view(
        self, who: Principal, view: WorklistView, limit: int | None, action: str = "read"
    ) -> WorklistPage:
        """The first `limit` rows of a view of the list (all for None) in the caller's payers, ranked,
        with how many were left out; the claims handed out are the ones audited (`action` "export"
        for a download)."""
        page = self.store.view(view, who.payers, limit, self.policy)
        self.audit.record(who, action, "claim", (i.claim_id for i in page.items), door="pages")
        return page

    def search(self, who: Principal, term: str) -> list[ListedItem]:
        """The listed claims in the caller's payers whose claim id, patient id or payer claim number
        is `term` (exactly, spaces trimmed); a claim outside them is not found."""
        found = self.store.find(term.strip(), who.payers, self.policy) if term.strip() else []
        ids = [i.claim_id for i in found]
        self.audit.record(who, "read", "claim", ids, door="pages", searched=term.strip()[:64])
        return found

    @property
    def policy(self) -> DeadlinePolicy:
        """The deadline policy as of today (the clinic's day)."""
        return self._policy.on(self.clock())

    def acknowledge(self, who: Principal, acks: Sequence[ClaimAcknowledgment], door: str) -> Acknowledged:
        """Mark listed claims rejected ("fix and resubmit", with the reason in words) or acknowledged,
        as a 277CA says. A rejection is not a denial: nothing reaches the claim store or training. A
        claim already adjudicated (denied, paid, or worked after a denial) keeps its status."""
        kept = [a for a in acks if a.accepted or a.rejected]
        payers = self.store.payers_of([a.claim_id for a in kept])
        in_scope = [a for a in kept if a.claim_id in payers and who.may_see_payer(payers[a.claim_id])]
        changes = [
            FileStatus(
                a.claim_id,
                "rejected" if a.rejected else "acknowledged",
                epoch_day(a.on),
                f"rejected: fix and resubmit ({a.words})" if a.rejected else None,
                a.payer_claim_number,
            )
            for a in in_scope
        ]
        changed = self.workflow.apply(changes, ADJUDICATED, "277ca")
        self.audit.record(who, "change", "claim", changed, door=door, change="277ca")
        latest = {a.claim_id: a for a in sorted(in_scope, key=lambda a: (a.on is None, a.on or 0))}
        rejected = sum(1 for claim_id in changed if latest[claim_id].rejected)  # as each claim ends
        return Acknowledged(rejected, len(changed) - rejected, len(acks) - len(changed))

    def settle(self, who: Principal, payments: Sequence[ClaimPayment], door: str) -> int:
        """Mark listed claims denied (with the 835's CARC/RARC codes, and them in words) or paid, as
        an 835 says; returns how many changed. A write-off stays a write-off."""
        kept = [p for p in payments if p.labelled]
        payers = self.store.payers_of([p.claim_id for p in kept])
        changes = []
        for payment in kept:
            if payment.claim_id not in payers or not who.may_see_payer(payers[payment.claim_id]):
                continue
            carcs, rarcs = list(dict.fromkeys(payment.carcs)), list(dict.fromkeys(payment.rarcs))  # once each
            codes = [*carcs, *rarcs]
            words = "; ".join([*map(carc_words, carcs), *map(rarc_words, rarcs)])
            denied = payment.denied
            changes.append(
                FileStatus(
                    payment.claim_id,
                    "denied" if denied else "paid",
                    epoch_day(payment.adjudicated_at),
                    f"denied: {words}" if denied and words else None,
                    payment.payer_claim_number,
                    ";".join(codes) if denied else None,
                )
            )
        changed = self.workflow.apply(changes, frozenset({"written_off"}), "835")
        self.audit.record(who, "change", "claim", changed, door=door, change="835")
        return len(changed)

    def deadlines(self, claims: Sequence[Claim], status: str = "open") -> list[Deadline]:
        """Each claim's filing deadline as of today, from the practice's payer table, as a claim of
        `status` (the API ranks claims about to be filed: open ones)."""
        policy = self.policy
        out = []
        for claim in claims:
            day = filing_deadline(claim.service_date, self.windows.get(claim.payer_id))
            out.append(Deadline(day, policy.days_left(day), policy.flag(day, status)))
        return out

    def item(self, who: Principal, handle: int) -> WorkItem | None:
        """One claim of the list by its handle (None when there is none in the caller's scope)."""
        item = self.store.item(handle, self.policy)
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
