"""Webhooks (a partner's incentives admin): subscribe an https address to the partner's claim
events, list and delete subscriptions, read a subscription's deliveries, retry a failed one."""

from __future__ import annotations

from typing import Annotated
from uuid import NAMESPACE_URL, uuid5

from fastapi import APIRouter, Depends, Response

from api.deps import IdempotencyKey, NowDep, PrincipalDep, ServicesDep
from api.schemas import errors
from api.webhook_schemas import (
    CreatedSubscriptionOut,
    DeliveryOut,
    Subscribe,
    SubscriptionOut,
    delivery_out,
    subscription_out,
)
from ledger.policies.webhooks import Webhooks

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
KEYS = uuid5(NAMESPACE_URL, "https://claim-ledger.dev/webhook-idempotency-key")
"""A subscription made with an Idempotency-Key has an id derived from its user and key."""


def _webhooks(services: ServicesDep) -> Webhooks:
    return services.workers.webhooks.subscriptions


WebhooksDep = Annotated[Webhooks, Depends(_webhooks)]


@router.post(
    "", status_code=201, response_model=CreatedSubscriptionOut, responses=errors(401, 403, 422)
)
def subscribe(
    body: Subscribe,
    hooks: WebhooksDep,
    principal: PrincipalDep,
    now: NowDep,
    key: IdempotencyKey = None,
) -> CreatedSubscriptionOut:
    """Subscribe an https address to your partner's claim and referral events (incentives
    admins). The answer carries the `secret` that verifies each delivery's signature, this
    once (and to a retry with the same `Idempotency-Key`, which makes no second one). An
    address on this machine or a private network, or not https, is refused (422)."""
    made_id = None if key is None else uuid5(KEYS, f"{principal.user_id}/{key}")
    made, secret = hooks.subscribe(principal, body.url, body.events, now, made_id)
    return CreatedSubscriptionOut(**subscription_out(made).model_dump(), secret=secret)


@router.get("", response_model=list[SubscriptionOut], responses=errors(401, 403, 422))
def list_subscriptions(hooks: WebhooksDep, principal: PrincipalDep) -> list[SubscriptionOut]:
    """Your partner's subscriptions (never their secrets), oldest first."""
    return [subscription_out(s) for s in hooks.subscriptions(principal)]


@router.delete("/{subscription_id}", status_code=204, responses=errors(401, 403, 404, 422))
def delete_subscription(
    subscription_id: str, hooks: WebhooksDep, principal: PrincipalDep, now: NowDep
) -> Response:
    """Delete a subscription: nothing more is sent to it."""
    hooks.delete(principal, subscription_id, now)
    return Response(status_code=204)


@router.get(
    "/{subscription_id}/deliveries",
    response_model=list[DeliveryOut],
    responses=errors(401, 403, 404, 422),
)
def list_deliveries(
    subscription_id: str, hooks: WebhooksDep, principal: PrincipalDep
) -> list[DeliveryOut]:
    """The subscription's deliveries, the latest event first: each event's id, status,
    attempts, last response code and next attempt."""
    return [delivery_out(d) for d in hooks.deliveries(principal, subscription_id)]


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/retry",
    response_model=DeliveryOut,
    responses=errors(401, 403, 404, 422),
)
def retry_delivery(
    subscription_id: str,
    delivery_id: str,
    hooks: WebhooksDep,
    principal: PrincipalDep,
    now: NowDep,
) -> DeliveryOut:
    """Send a failed delivery again, with a new retry window (a disabled subscription is
    enabled again); a delivery that has not failed is answered as it is."""
    return delivery_out(hooks.retry(principal, subscription_id, delivery_id, now))
