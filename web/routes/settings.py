"""A person's own settings, kept in a cookie of their browser like the language: the time
zone the page shows times in (UTC unless they choose another)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse, Response

from ledger.words import i18n
from web.pages import PageDep
from web.session import safe_next

router = APIRouter(include_in_schema=False)
YEAR = 365 * 86400


def zone_choices(zones: tuple[str, ...], language: str, now: datetime) -> list[tuple[str, str]]:
    """Each zone as the form offers it, in the reader's words with its offset now (``Brazil
    (São Paulo) Time (UTC-03:00)``); of zones that read alike (aliases), the first only."""
    choices: dict[str, str] = {}
    for zone in zones:
        text = f"{i18n.zone_label(zone, language)} ({i18n.offset_now(zone, now)})"
        choices.setdefault(text, zone)
    return [(zone, text) for text, zone in choices.items()]


@router.get("/time-zone")
def time_zone(
    page: PageDep,
    zone: Annotated[str | None, Query()] = None,
    next: Annotated[str | None, Query()] = None,
) -> Response:
    """The time zone form; with a ``zone`` of the list, keep it in a cookie and go back to
    where the person was. A zone that is not one is the form again, with its error (422)."""
    target = safe_next(next)
    if zone is not None and i18n.zone_of(zone) == zone:
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(i18n.ZONE_COOKIE, zone, max_age=YEAR, samesite="lax", path="/")
        return response
    return page.render(
        "time_zone.html",
        200 if zone is None else 422,
        next=target,
        invalid=zone is not None,
        common=zone_choices(i18n.COMMON_ZONES, page.language, page.now),
        every=zone_choices(i18n.zones(), page.language, page.now),
    )
