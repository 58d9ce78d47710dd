"""Reference data: engagements, partners, the customer directory.

Not event-sourced: loaded once at start-up from a JSON or YAML file and validated. The
decisions that depend on it live in ``ledger.domain.eligibility``; their results are recorded in
events, so replay never reads the catalog.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from enum import StrEnum
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Self

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from ledger.domain.customer_ids import IdType, normalise

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Money = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2)]
Guid = Annotated[str, AfterValidator(partial(normalise, IdType.TENANT_ID))]
DomainName = Annotated[str, AfterValidator(partial(normalise, IdType.DOMAIN))]
Tpid = Annotated[str, AfterValidator(partial(normalise, IdType.TPID))]
MsxId = Annotated[str, AfterValidator(partial(normalise, IdType.MSX_OPPORTUNITY_ID))]


class EngagementKind(StrEnum):
    ASSESSMENT = "assessment"
    WORKSHOP = "workshop"
    PROJECT_XS = "project_xs"
    PROJECT_S = "project_s"
    PROJECT_M = "project_m"
    PROJECT_L = "project_l"


class PayoutModel(StrEnum):
    FIXED = "fixed"
    VARIABLE = "variable"


class ProofItem(StrEnum):
    INVOICE = "invoice"
    POE_DOCUMENT = "poe_document"
    CUSTOMER_SURVEY = "customer_survey"
    PARTNER_SURVEY = "partner_survey"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Deadlines(_Model):
    """Days: consent from creation, submission and review from consent, dispute from rejection."""

    consent_days: PositiveInt
    first_submission_days: PositiveInt
    review_completion_days: PositiveInt
    dispute_days: PositiveInt

    @model_validator(mode="after")
    def _review_after_submission(self) -> Self:
        if self.review_completion_days < self.first_submission_days:
            raise ValueError("review_completion_days must not be less than first_submission_days")
        return self


def _days(consent: int, submission: int, review: int, dispute: int) -> Deadlines:
    return Deadlines(
        consent_days=consent,
        first_submission_days=submission,
        review_completion_days=review,
        dispute_days=dispute,
    )


DEFAULT_DEADLINES: dict[EngagementKind, Deadlines] = {
    EngagementKind.ASSESSMENT: _days(30, 60, 90, 30),
    EngagementKind.WORKSHOP: _days(30, 90, 120, 30),
    EngagementKind.PROJECT_XS: _days(30, 120, 150, 30),
    EngagementKind.PROJECT_S: _days(30, 120, 150, 30),
    EngagementKind.PROJECT_M: _days(30, 200, 230, 30),
    EngagementKind.PROJECT_L: _days(30, 260, 290, 30),
}


class RateTier(_Model):
    min_opportunity_usd: Money
    rate_usd: Money


class VariablePayout(_Model):
    hourly_rate_tiers: Annotated[list[RateTier], Field(min_length=1)]
    max_hours: PositiveInt
    payout_cap_usd: Money

    def rate_for(self, opportunity_amount: Decimal) -> Decimal | None:
        """The rate of the tier with the highest minimum not above the amount (None: no tier)."""
        tiers = [t for t in self.hourly_rate_tiers if t.min_opportunity_usd <= opportunity_amount]
        if not tiers:
            return None
        return max(tiers, key=lambda t: t.min_opportunity_usd).rate_usd

    def payout(self, opportunity_amount: Decimal, hours: int) -> Decimal | None:
        rate = self.rate_for(opportunity_amount)
        if rate is None:
            return None
        return min(rate * hours, self.payout_cap_usd).quantize(Decimal("0.01"))


class Engagement(_Model):
    id: NonEmpty
    name: NonEmpty
    solution_area: NonEmpty
    kind: EngagementKind
    payout_model: PayoutModel
    allowed_id_types: Annotated[list[IdType], Field(min_length=1)]
    customer_claim_limit: PositiveInt
    deadlines: Deadlines
    required_proof: list[ProofItem]
    fixed_payout_usd: Money | None = None
    variable: VariablePayout | None = None
    referrals_enabled: bool = False
    referral_min_deal_size_usd: Money = Decimal("0")
    eligible_locations: list[NonEmpty]
    eligible_customers: dict[IdType, list[str]] = Field(default_factory=dict)

    _eligible_sets: dict[IdType, frozenset[str]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _default_deadlines(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("deadlines") is None:
            try:
                kind = EngagementKind(str(data.get("kind")))
            except ValueError:
                return data  # the kind field reports the error
            return {**data, "deadlines": DEFAULT_DEADLINES[kind].model_dump()}
        return data

    @field_validator("eligible_customers")
    @classmethod
    def _normalise_eligible(cls, value: dict[IdType, list[str]]) -> dict[IdType, list[str]]:
        return {kind: [normalise(kind, raw) for raw in values] for kind, values in value.items()}

    @model_validator(mode="after")
    def _check_payout(self) -> Self:
        if self.payout_model is PayoutModel.VARIABLE:
            if self.allowed_id_types != [IdType.MSX_OPPORTUNITY_ID]:
                raise ValueError("a variable-payout engagement allows only msx_opportunity_id")
            if self.variable is None or self.fixed_payout_usd is not None:
                raise ValueError(
                    "a variable-payout engagement needs 'variable' and no fixed payout"
                )
        elif self.fixed_payout_usd is None or self.variable is not None:
            raise ValueError("a fixed-payout engagement needs 'fixed_payout_usd' and no 'variable'")
        for kind, values in self.eligible_customers.items():
            if values and kind not in self.allowed_id_types:
                raise ValueError(f"eligible_customers lists {kind.value}, which is not allowed")
        self._eligible_sets = {k: frozenset(v) for k, v in self.eligible_customers.items()}
        return self

    def lists(self, id_type: IdType, value: str) -> bool:
        """Whether ``value`` is on this engagement's eligibility list for ``id_type``."""
        return value in self._eligible_sets.get(id_type, frozenset())

    @property
    def accepts_only_msx(self) -> bool:
        return self.allowed_id_types == [IdType.MSX_OPPORTUNITY_ID]


class Location(_Model):
    id: NonEmpty
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    enrolled: bool


class Partner(_Model):
    id: NonEmpty
    name: NonEmpty
    locations: list[Location]

    def location(self, location_id: str) -> Location | None:
        return next((loc for loc in self.locations if loc.id == location_id), None)


class Tenant(_Model):
    tenant_id: Guid
    name: NonEmpty
    domains: list[DomainName] = Field(default_factory=list)
    tpid: Tpid | None = None
    azure_subscription_ids: list[Guid] = Field(default_factory=list)
    managed: bool = False

    def ids(self) -> dict[IdType, list[str]]:
        """Every id of this customer by type (its MSX opportunities excluded)."""
        return {
            IdType.TENANT_ID: [self.tenant_id],
            IdType.DOMAIN: list(self.domains),
            IdType.TPID: [self.tpid] if self.tpid else [],
            IdType.AZURE_SUBSCRIPTION_ID: list(self.azure_subscription_ids),
        }


class Opportunity(_Model):
    id: MsxId
    tenant_id: Guid
    amount_usd: Money


class Directory(_Model):
    tenants: list[Tenant] = Field(default_factory=list)
    opportunities: list[Opportunity] = Field(default_factory=list)

    _by_id: dict[tuple[IdType, str], Tenant] = PrivateAttr(default_factory=dict)
    _opportunities: dict[str, Opportunity] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _index(self) -> Self:
        for tenant in self.tenants:
            for kind, values in tenant.ids().items():
                for value in values:
                    other = self._by_id.setdefault((kind, value), tenant)
                    if other is not tenant and kind is not IdType.TPID:
                        raise ValueError(f"{kind.value} {value} belongs to two tenants")
        for opportunity in self.opportunities:
            if (IdType.TENANT_ID, opportunity.tenant_id) not in self._by_id:
                raise ValueError(f"opportunity {opportunity.id} names an unknown tenant")
            self._opportunities[opportunity.id] = opportunity
        return self

    def tenant_for(self, id_type: IdType, value: str) -> Tenant | None:
        """The tenant a customer id belongs to, as the programme knows it."""
        if id_type is IdType.MSX_OPPORTUNITY_ID:
            opportunity = self._opportunities.get(value)
            return (
                None
                if opportunity is None
                else self._by_id[(IdType.TENANT_ID, opportunity.tenant_id)]
            )
        return self._by_id.get((id_type, value))

    def opportunity(self, opportunity_id: str) -> Opportunity | None:
        return self._opportunities.get(opportunity_id)


class Catalog(_Model):
    engagements: list[Engagement]
    partners: list[Partner]
    directory: Directory = Field(default_factory=Directory)

    _engagements: dict[str, Engagement] = PrivateAttr(default_factory=dict)
    _partners: dict[str, Partner] = PrivateAttr(default_factory=dict)
    _tab_digests: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _cross_check(self) -> Self:
        self._engagements = {e.id: e for e in self.engagements}
        self._partners = {p.id: p for p in self.partners}
        if len(self._engagements) != len(self.engagements):
            raise ValueError("engagement ids must be unique")
        if len(self._partners) != len(self.partners):
            raise ValueError("partner ids must be unique")
        known_locations = {loc.id for p in self.partners for loc in p.locations}
        for engagement in self.engagements:
            unknown = set(engagement.eligible_locations) - known_locations
            if unknown:
                raise ValueError(
                    f"engagement {engagement.id} names unknown locations {sorted(unknown)}"
                )
        return self

    def engagement(self, engagement_id: str) -> Engagement | None:
        return self._engagements.get(engagement_id)

    def partner(self, partner_id: str) -> Partner | None:
        return self._partners.get(partner_id)

    def engagement_name(self, engagement_id: str) -> str:
        """The engagement's name; its id once it has left the catalog."""
        engagement = self._engagements.get(engagement_id)
        return engagement.name if engagement else engagement_id

    def partner_name(self, partner_id: str) -> str:
        """The partner's name; its id once it has left the catalog."""
        partner = self._partners.get(partner_id)
        return partner.name if partner else partner_id

    def tabs_digest(self, engagement_id: str) -> str:
        """A digest of what decides which Customers tab a known customer shows on for the
        engagement: its id types, its list and its claim limit, and the directory the ids
        resolve through. Two catalogs with the same digest sort every customer alike; the
        kept tabs record the digest they were sorted by (``ledger.projections.customer_tabs``).
        Computed once per catalog."""
        found = self._tab_digests.get(engagement_id)
        if found is None:
            if "" not in self._tab_digests:  # the directory's part, shared by every engagement
                directory = self.directory.model_dump_json().encode()
                self._tab_digests[""] = hashlib.sha256(directory).hexdigest()
            engagement = self._engagements[engagement_id]
            decides = engagement.model_dump_json(
                include={"allowed_id_types", "eligible_customers", "customer_claim_limit"}
            )
            text = self._tab_digests[""] + decides
            found = self._tab_digests[engagement_id] = hashlib.sha256(text.encode()).hexdigest()
        return found


class CatalogError(Exception):
    """A catalog that does not load: names the file, the path of the bad field and why."""

    def __init__(self, path: Path | str, where: str, reason: str) -> None:
        super().__init__(f"{path}: {where}: {reason}")
        self.path = str(path)
        self.where = where
        self.reason = reason


def _field_path(location: tuple[int | str, ...]) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def parse_catalog(text: str, path: Path | str) -> Catalog:
    """Parse and validate catalog text (YAML is a superset of the JSON it accepts)."""
    try:
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise CatalogError(path, "(file)", f"not valid JSON/YAML: {error}") from None
    try:
        return Catalog.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = _field_path(first["loc"])
        reason = first["msg"].removeprefix("Value error, ")
        more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
        raise CatalogError(path, where, reason + more) from None


def load_catalog(path: Path | str | None = None) -> Catalog:
    """Load the catalog at ``path``, or the bundled demo catalog."""
    if path is None:
        demo = resources.files("ledger.demo").joinpath("catalog.json")
        return parse_catalog(demo.read_text(encoding="utf-8"), "demo/catalog.json")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise CatalogError(path, "(file)", error.strerror or str(error)) from None
    return parse_catalog(text, path)
