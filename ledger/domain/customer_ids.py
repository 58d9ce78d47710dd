"""The five customer id types (R4): parsing, normalising, validation."""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

from ledger.domain.errors import InvalidInputError
from ledger.words.refusals import Words


class IdType(StrEnum):
    DOMAIN = "domain"
    TENANT_ID = "tenant_id"
    TPID = "tpid"
    AZURE_SUBSCRIPTION_ID = "azure_subscription_id"
    MSX_OPPORTUNITY_ID = "msx_opportunity_id"


_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST = re.compile(rf"^(?:{_LABEL}\.)+[a-z]{{2,63}}$")
_TPID = re.compile(r"^[0-9]{1,15}$")
_MSX = re.compile(r"^7-[A-Z0-9]{8,12}$")
_MAX_RAW_LENGTH = 300
KEY_SEPARATOR = ":"
"""Between an id's type and its value in its key (``CustomerId.key``, ``key_sql``)."""


class CustomerId(BaseModel):
    """A normalised customer id: its type and its canonical value."""

    model_config = ConfigDict(frozen=True)

    type: IdType
    value: str

    @property
    def key(self) -> str:
        """The id as one text, ``type:value``: what the claims record as their eligibility
        key and the seats are named by."""
        return f"{self.type.value}{KEY_SEPARATOR}{self.value}"

    def __str__(self) -> str:
        return self.key


def key_sql(type_column: str, value_column: str) -> str:
    """``CustomerId.key`` as an SQL expression over the columns holding an id's type and
    value (SQLite and PostgreSQL alike)."""
    return f"{type_column} || '{KEY_SEPARATOR}' || {value_column}"


def _normalise_domain(raw: str) -> str:
    text = raw.strip().lower()
    if "://" in text:
        text = urlsplit(text).hostname or ""
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    text = text.removeprefix("www.").rstrip(".")
    try:
        text = text.encode("idna").decode("ascii")
    except UnicodeError:
        text = ""
    if len(text) > 253 or not _HOST.match(text):
        raise PydanticCustomError("customer_id_domain", "must be a host name such as contoso.com")
    return text


def _guid(kind: str) -> Callable[[str], str]:
    def normalise_guid(raw: str) -> str:
        try:
            return str(UUID(raw.strip().strip("{}")))
        except ValueError:
            raise PydanticCustomError(
                kind, "must be a GUID such as 0f8fad5b-d9cb-469f-a165-70867728950e"
            ) from None

    return normalise_guid


def _normalise_tpid(raw: str) -> str:
    text = raw.strip()
    if not _TPID.match(text):
        raise PydanticCustomError("customer_id_tpid", "must be digits only, such as 1000000")
    return str(int(text))


def _normalise_msx(raw: str) -> str:
    text = raw.strip().upper()
    if not _MSX.match(text):
        raise PydanticCustomError(
            "customer_id_msx", "must be 7- followed by 8 to 12 letters or digits"
        )
    return text


_NORMALISERS = {
    IdType.DOMAIN: _normalise_domain,
    IdType.TENANT_ID: _guid("customer_id_tenant"),
    IdType.TPID: _normalise_tpid,
    IdType.AZURE_SUBSCRIPTION_ID: _guid("customer_id_subscription"),
    IdType.MSX_OPPORTUNITY_ID: _normalise_msx,
}


def normalise(id_type: IdType, raw: str) -> str:
    """Return the canonical form of ``raw`` for ``id_type``; a PydanticCustomError (a
    ValueError) says why not, its type the key of its sentence (``ledger.words.refusals``)."""
    if len(raw) > _MAX_RAW_LENGTH:
        raise PydanticCustomError(
            "customer_id_too_long",
            "is longer than {max_length} characters",
            {"max_length": _MAX_RAW_LENGTH},
        )
    return _NORMALISERS[id_type](raw)


def parse_customer_id(id_type: str, raw: str, field: str = "customer_id.value") -> CustomerId:
    """Parse a user-given id, raising InvalidInputError (R4) that names the field."""
    try:
        kind = IdType(id_type)
    except ValueError:
        raise InvalidInputError(
            "invalid-customer-id", rule="R4", field="customer_id.type"
        ) from None
    try:
        return CustomerId(type=kind, value=normalise(kind, raw))
    except PydanticCustomError as error:
        raise InvalidInputError(
            "invalid-customer-id",
            rule="R4",
            field=field,
            words=Words(error.type, field, error.context or {}),
        ) from None
