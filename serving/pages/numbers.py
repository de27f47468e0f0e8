"""The practice's numbers page: every role may read it (admin is its audience), each over their scope."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from serving.dependencies import app_state
from serving.pages.rendering import SessionDep, page

router = APIRouter(prefix="/app", include_in_schema=False)
CHART_WIDTH, CHART_HEIGHT, MARGIN = 640, 200, 32


def bars(
    series: dict[str, list[float | None]], labels: list[str], tick: Callable[[str], str] = lambda w: w[5:]
) -> dict[str, Any]:
    """Grouped bars for an inline SVG (values 0-1): rectangles with their positions, and the axis
    (`tick` shortens a label: weeks lose their year)."""
    names = list(series)
    groups = max(1, len(labels))
    group_width = (CHART_WIDTH - 2 * MARGIN) / groups
    width = group_width * 0.8 / max(1, len(names))
    top = max([v for values in series.values() for v in values if v is not None] + [0.05])
    rects = []
    for g, label in enumerate(labels):
        for k, name in enumerate(names):
            value = series[name][g]
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            height = (CHART_HEIGHT - 2 * MARGIN) * value / top
            x = MARGIN + g * group_width + group_width * 0.1 + k * width
            rects.append({"x": x, "y": CHART_HEIGHT - MARGIN - height, "w": width, "h": height, "k": k,
                          "title": f"{label} {name}: {value:.1%}"})  # fmt: skip
    ticks = [
        {"x": MARGIN + g * group_width + group_width / 2, "label": tick(label)}
        for g, label in enumerate(labels)
    ]
    return {
        "rects": rects,
        "ticks": ticks,
        "top": top,
        "names": names,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
    }


def _weekly(frame: pd.DataFrame, numerator: str, denominator: str) -> pd.Series:
    grouped = frame.groupby("week")[[numerator, denominator]].sum()
    return grouped[numerator] / grouped[denominator].where(grouped[denominator] > 0)


@router.get("/numbers", response_class=HTMLResponse)
async def numbers(
    request: Request, session: SessionDep, weeks: Annotated[int, Query(ge=1, le=52)] = 8
) -> HTMLResponse:
    """No-show, cancellation and denial rates, days to remittance, and the worklist's top decile."""
    numbers = app_state(request).services.numbers
    figures, sessions = await run_in_threadpool(numbers.figures, session.who, weeks)
    visits, claims = figures.visits, figures.claims
    context: dict[str, Any] = {
        "title": "Practice numbers", "figures": figures, "weeks": weeks, "sessions": sessions,
    }  # fmt: skip
    if not visits.empty:
        observed = _weekly(visits, "no_shows", "known")
        rows = visits.dropna(subset=["predicted_no_show_rate"])
        weighted = (rows["predicted_no_show_rate"] * rows["known"]).groupby(rows["week"]).sum()
        predicted = weighted / rows.groupby("week")["known"].sum()
        labels = list(observed.index)
        context["visit_chart"] = bars(
            {"observed": list(observed.values), "predicted": [predicted.get(w) for w in labels]}, labels
        )
    if not claims.empty:
        denial = _weekly(claims, "denied", "claims")
        context["claim_chart"] = bars({"denial rate": list(denial.values)}, list(denial.index))
    if figures.denials is not None:
        context["denial_charts"] = [
            bars({"denial rate": list(b.overall["denial_rate"])}, [str(k) for k in b.overall["key"]], _short)
            for b in figures.denials.breakdowns
        ]
        fixable = figures.denials.fixable
        if not fixable.empty:
            context["fixable_chart"] = bars(
                {"fixable share": list(fixable["fixable_share"])}, list(fixable["week"])
            )
    return page(request, "numbers.html", context, session)


def _short(label: str) -> str:
    label = label.replace("_", " ")
    return label if len(label) <= 10 else label[:9] + "…"
