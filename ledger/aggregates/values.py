"""Value objects recorded in claim events."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from ledger.catalog import ProofItem

Text100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Usd = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Contact(_Value):
    name: Text100
    email: EmailStr

    @property
    def email_domain(self) -> str:
        return self.email.rsplit("@", 1)[1].lower()


class Contacts(_Value):
    """The customer's contact (who consents) and the partner's contact (R13)."""

    customer: Contact
    partner: Contact


class ProofDocument(_Value):
    """One proof-of-execution item: its kind and a reference to the document."""

    kind: ProofItem
    reference: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)
    ]


class ReferralTerms(_Value):
    """The engagement's referral settings as they were when the claim was made (R40)."""

    enabled: bool
    min_deal_size_usd: Decimal
