"""The event feed: what happened to the caller's claims, in the log's order, from a cursor;
with ``wait``, an empty answer waits for the next event (a long poll)."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api.deps import PrincipalDep, ServicesDep
from api.schemas import FeedEventOut, FeedOut, errors
from ledger.projections.feed import FeedPage

router = APIRouter(prefix="/v1", tags=["events"])
POLL_SECONDS = 0.2
"""How often a waiting request looks at the log again."""


@router.get("/events", response_model=FeedOut, responses=errors(401, 403, 422))
async def events(
    services: ServicesDep,
    principal: PrincipalDep,
    after: Annotated[
        str | None,
        Query(max_length=100, description="The `next` of your last answer; none: the start"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Events at most (1-500)")] = 100,
    wait: Annotated[
        float, Query(ge=0, le=30, description="Seconds to wait for an event if none is there")
    ] = 0,
) -> FeedOut:
    """The events the caller may see after the cursor, in the followers' order: a partner's
    users their claims' and referrals' events, auditors every event. Each has a stable `id`;
    contacts' names and addresses read as anywhere else (`[erased]` after an erasure). A
    cursor that was not given to you is 422."""
    deadline = time.monotonic() + wait
    while True:
        page: FeedPage = await run_in_threadpool(services.feed.page, principal, after, limit)
        if page.items or time.monotonic() >= deadline:
            break
        after = page.next
        await asyncio.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
    return FeedOut(items=[FeedEventOut(**e.as_json()) for e in page.items], next=page.next)
