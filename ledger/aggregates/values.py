"""Value objects recorded in claim events."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Protocol, cast
from uuid import UUID

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    FieldSerializationInfo,
    StringConstraints,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_serializer,
)

from ledger.domain.catalog import ProofItem

# Printable text only: control characters (NUL above all, which PostgreSQL text refuses) would
# be stored in events for ever and break every view that shows them.
PRINTABLE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
"""A name is one line: a line break in it would start a paragraph of its own in an e-mail or
a row of its own in a file. Events are read back without this check (names recorded before
it keep their line breaks; whatever shows a name puts it on one line: ``one_line``)."""


def one_line(value: str) -> str:
    """``value`` with every run of white space (line breaks too) as one space."""
    return " ".join(value.split())


def text(max_length: int, *, one_line: bool = False) -> StringConstraints:
    return StringConstraints(
        strip_whitespace=True,
        min_length=1,
        max_length=max_length,
        pattern=ONE_LINE if one_line else PRINTABLE,
    )


TRUSTED = {"trusted": True}
"""The validation context of events read back from our own store: checked on the way in."""


def _checked_unless_trusted(
    value: object, check: ValidatorFunctionWrapHandler, info: ValidationInfo
) -> object:
    """An e-mail address is checked (the costliest check of all) unless it comes from an
    event we stored ourselves, whose address was checked when the command made it."""
    if isinstance(value, str) and info.context is TRUSTED:
        return value
    return check(value)


Email = Annotated[EmailStr, WrapValidator(_checked_unless_trusted)]
OneLine100 = Annotated[str, text(100, one_line=True)]
"""Up to 100 characters on one line: what a command takes for a name."""
Name = Annotated[OneLine100, WrapValidator(_checked_unless_trusted)]
"""A person's name: read back from our store as it is (sealed, or erased; see below)."""


class Sealer(Protocol):
    def seal(self, email: str, value: str) -> str: ...


SEAL = "seal"
"""The serialisation context key under which the event store passes its ``Sealer``: a
contact's name and address are stored sealed under that contact's own key, so that deleting
the key erases them (``ledger.store.personal``); every other dump shows them as they are."""


def sealed(email: str, value: str, info: FieldSerializationInfo) -> str:
    """``value`` sealed for the contact ``email`` when the event store dumps it; else as is."""
    context = info.context
    sealer = context.get(SEAL) if isinstance(context, dict) else None
    return value if sealer is None else cast(Sealer, sealer).seal(email, value)


Reason = Annotated[str, text(2000)]
Usd = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2)]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Contact(_Value):
    name: Annotated[Name, Field(description="The person's name (1-100 characters)")]
    email: Annotated[Email, Field(description="The person's e-mail address (R13)")]
    language: Annotated[
        Literal["en", "pt-BR"],
        Field(description="The language e-mails to this person are written in"),
    ] = "en"

    @field_serializer("name", "email")
    def _sealed(self, value: str, info: FieldSerializationInfo) -> str:
        return sealed(self.email, value, info)

    @property
    def email_domain(self) -> str:
        return self.email.rsplit("@", 1)[1].lower()


class Contacts(_Value):
    """The customer's contact (who consents) and the partner's contact (R13)."""

    customer: Annotated[
        Contact, Field(description="The customer's contact: who receives the consent e-mail")
    ]
    partner: Annotated[Contact, Field(description="The partner's contact for this claim")]


Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class ProofDocument(_Value):
    """One proof-of-execution item: its kind and a reference to the document; for a document
    uploaded to the claim, its id and the SHA-256 of its content (None: a reference alone, and
    every item submitted before documents were uploaded)."""

    kind: Annotated[ProofItem, Field(description="Which kind of proof this document is")]
    reference: Annotated[
        str, text(500), Field(description="Where the document is: a file name, link or id")
    ]
    document_id: Annotated[
        UUID | None,
        Field(
            description="The uploaded document of the claim this item is",
            exclude_if=lambda value: value is None,  # items by reference read as before
        ),
    ] = None
    sha256: Annotated[
        Sha256 | None,
        Field(
            description="The SHA-256 of the uploaded document's content",
            exclude_if=lambda value: value is None,
        ),
    ] = None


class AttachedDocument(_Value):
    """A document uploaded to a claim, as its ``Claim.DocumentAttached`` event records it:
    the file itself is kept by its SHA-256 in the documents folder (docs/documents.md)."""

    id: UUID
    kind: ProofItem
    name: Annotated[str, text(255, one_line=True)]
    media_type: str
    size: int
    sha256: Sha256


class ReferralTerms(_Value):
    """The engagement's referral settings as they were when the claim was made (R40)."""

    enabled: bool
    min_deal_size_usd: Decimal


def usd_text(amount: Decimal) -> str:
    """An amount of USD as every read shows it: exactly two decimals (SPEC 6.1)."""
    return f"{amount:.2f}"
