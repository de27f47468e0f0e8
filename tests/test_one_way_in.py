"""One way in: booking and scoring, and the prediction log's writes, each happen in exactly one place.

Read from the source: every call of the functions that book, read history for a score, hand scores
to the log's recorder or write the log's rows, listed with the function that makes it.
"""

from __future__ import annotations

import ast

from tests.source_tree import source_files


def callers(*called: str, passed: bool = False) -> dict[str, list[str]]:
    """For each callee, written as `f` or `receiver.f` (the receiver as the source spells it), the
    `module.function` of every call to it (with `passed`, also where it is handed to another call,
    as to a thread pool)."""
    found: dict[str, set[str]] = {name: set() for name in called}
    for module, path in source_files().items():
        for function in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if not isinstance(node, ast.Call):
                    continue
                for target in [node.func, *(node.args if passed else [])]:
                    spelled = ast.unparse(target)
                    for name in called:
                        if spelled == name or (spelled.endswith(f".{name}") and "." not in name):
                            found[name].add(f"{module}.{function.name}")
    return {name: sorted(places) for name, places in found.items()}


def test_one_way_to_book_and_score() -> None:
    calls = callers("online_history", "online_claim_history", "booking_rows", "self._queue().submit")
    # The services are the one place a score reads history; the no-show service the one place a
    # scored appointment is booked (the HL7 feed books the schedule's messages, the store a file).
    assert calls["online_history"] == ["services.noshow._score_stored"]
    assert calls["online_claim_history"] == ["services.denial._score"]
    assert calls["booking_rows"] == [
        "data.stores.appointments.book_table",
        "services.noshow.score",
        "services.noshow.score_queued",
        "services.schedule_feed._book",
    ]
    assert calls["self._queue().submit"] == ["services.noshow.score", "services.noshow.score_queued"]


def test_every_door_scores_through_the_services() -> None:
    calls = callers("score", "score_queued", "worklist_scores", "plan_session", "day_schedule", passed=True)
    doors = {place.rsplit(".", 1)[0] for places in calls.values() for place in places}
    assert {
        "serving.routes.noshow",
        "serving.routes.overbook",
        "serving.routes.fhir",
        "serving.routes.denial",
        "serving.pages.day",
        "serving.pages.worklist",
        "serving.hl7_listener",
        "services.overbook",
        "services.schedule_day",
        "services.worklist",
    } <= doors


def test_one_way_to_log_scores() -> None:
    calls = callers(
        "self.recorder.record", "recorder.record", "self.log.write", "log.write", "self.log.record"
    )
    assert calls["self.recorder.record"] == ["services.monitoring.score_log.record"]
    assert calls["recorder.record"] == []
    # Only the log's writer writes its rows: the recorder's hand-overs and batch runs alike.
    assert calls["self.log.write"] == [
        "services.monitoring.log_writer.write",
        "services.monitoring.log_writer.write_table",
    ]
    assert calls["log.write"] == []
    # Every score handed to the log goes through the services.
    assert calls["self.log.record"] == ["services.denial.score", "services.noshow.score"]
