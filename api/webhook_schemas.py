"""The webhooks' request and response bodies."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from api.schemas import Out
from ledger.policies.webhooks import Delivery, Subscription


class Subscribe(BaseModel):
    """Where to send the partner's claim events, and which (``["*"]``: every type)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"url": "https://hooks.example.com/ledger", "events": ["*"]}]
        },
    )

    url: Annotated[str, Field(min_length=1, max_length=2000, description="An https:// URL")]
    events: Annotated[
        list[Annotated[str, Field(max_length=100)]],
        Field(min_length=1, max_length=100, description='Event types, or ["*"] for every one'),
    ]


class SubscriptionOut(Out):
    id: str
    url: str
    events: list[str]
    status: str
    """``active``, or ``disabled`` (since ``disabled_at``) after a day of failed deliveries."""
    created_at: str
    created_by: str
    disabled_at: str | None
    last_delivery_at: str | None
    last_response_code: int | None


class CreatedSubscriptionOut(SubscriptionOut):
    secret: str = Field(description="Verifies the signatures; shown this once, keep it")


class DeliveryOut(Out):
    id: str
    event_id: str
    """The event's id: the ``webhook-id`` header of every attempt."""
    type: str
    claim_id: str
    status: str
    """``pending``, ``retrying``, ``sending``, ``delivered`` or ``failed``."""
    attempts: int
    last_response_code: int | None
    last_error: str | None
    """Why the last attempt failed: ``timeout``, ``unreachable``, ``refused-address``,
    ``status`` (the receiver's code is ``last_response_code``) or ``missing-event``."""
    next_attempt_at: str | None
    delivered_at: str | None
    created_at: str


def _iso(moment: object) -> str | None:
    return None if moment is None else moment.isoformat()  # type: ignore[attr-defined]


def subscription_out(found: Subscription) -> SubscriptionOut:
    return SubscriptionOut(
        id=found.id,
        url=found.url,
        events=list(found.events),
        status=found.status,
        created_at=found.created_at.isoformat(),
        created_by=found.created_by,
        disabled_at=_iso(found.disabled_at),
        last_delivery_at=_iso(found.last_delivery_at),
        last_response_code=found.last_code,
    )


def delivery_out(found: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=found.id,
        event_id=found.event_id,
        type=found.type,
        claim_id=found.claim_id,
        status=found.status,
        attempts=found.attempts,
        last_response_code=found.last_code,
        last_error=found.last_error,
        next_attempt_at=_iso(found.next_attempt_at),
        delivered_at=_iso(found.delivered_at),
        created_at=found.created_at.isoformat(),
    )
