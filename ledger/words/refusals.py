"""What a refusal says to a person, in their language: THE table of messages.

Every refusal the ledger gives (its slug) and every problem a validation finds (its type: pydantic's
``missing``, ``string_too_long``, ... or one of our own, ``customer_id_tpid``, ...) is a sentence
here, keyed by ``(key, field)`` with a ``(key, None)`` fallback. A sentence names the field by the
label the person sees on the page (``FIELDS``: ``%(field)s``, or ``%(Field)s`` at the start of a
sentence) and says what to do; the rule id is not part of it (the page and the API give it
beside). The English text is the gettext message id, marked for extraction; ``say`` looks it up
in the language's catalog (``ledger/words/locales``) and fills in the parameters, which may be
words themselves: a ``Term`` (a word of the catalog), ``Terms`` (a list of them, joined as the
language joins lists), or nested ``Words``.

The public function is ``say(key, field, params, language)``; ``Words`` keeps the three together
(a domain error carries one) and says them in any language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as default
from datetime import datetime
from typing import Literal

from babel.lists import format_list

from ledger.words import i18n
from ledger.words.i18n import N_


class Term(str):
    """A word or phrase of the catalogs (in English), said in the reader's language."""

    __slots__ = ()


@dataclass(frozen=True)
class Terms:
    """Words of the catalogs as a list: "a, b and c" (``standard``) or "a, b or c" (``or``)."""

    items: tuple[str, ...]
    style: Literal["standard", "or"] = "standard"


@dataclass(frozen=True)
class Words:
    """A refusal or a validation problem, to be said in any language: its key (a slug or a
    problem type), the field it concerns (its path in the command) and its parameters."""

    key: str
    field: str | None = None
    params: Mapping[str, object] = default(default_factory=dict, hash=False)

    def say(self, language: str = i18n.DEFAULT) -> str:
        return say(self.key, self.field, self.params, language)


# -- the words a sentence is made of ---------------------------------------------------------

NAMES = {
    # the customer id types (R4), inside a sentence
    "domain": N_("domain name"),
    "tenant_id": N_("tenant ID"),
    "tpid": N_("TPID"),
    "azure_subscription_id": N_("Azure subscription ID"),
    "msx_opportunity_id": N_("MSX opportunity ID"),
    # the roles (R1)
    "incentives_admin": N_("Incentives admin"),
    "incentives_user": N_("Incentives user"),
    "referral_admin": N_("Referral admin"),
    "reviewer": N_("Reviewer"),
    "seller": N_("Seller"),
    "auditor": N_("Auditor"),
    # the proof items (R30)
    "invoice": N_("Invoice"),
    "poe_document": N_("Proof of execution document"),
    "customer_survey": N_("Customer survey"),
    "partner_survey": N_("Partner survey"),
    # the customer's action on the consent page (the refusals of a claim name it)
    "answer_consent": N_("Answer the consent request"),
    # the deadlines (R50)
    "consent": N_("consent"),
    "submission": N_("submission"),
    "post_submission": N_("resubmission"),
    "dispute": N_("dispute"),
}
"""Codes the ledger keeps (id types, roles, proof items, deadlines) by the name a person reads."""


def named(code: str) -> Term:
    """The name of a code of ``NAMES`` (the code itself when it has none)."""
    return Term(NAMES.get(code, code))


def names(
    codes: tuple[str, ...] | list[str], style: Literal["standard", "or"] = "standard"
) -> Terms:
    return Terms(tuple(NAMES.get(c, c) for c in codes), style)


FIELDS = {
    "origin": N_("whether the customer is added or claimed"),
    "friendly_name": N_("the friendly name"),
    "location_id": N_("the location ID"),
    "customer_id": N_("the customer ID"),
    "customer_id.type": N_("the customer ID type"),
    "customer_id.value": N_("the customer ID"),
    "engagement_ids": N_("the engagements"),
    "engagement_ids.*": N_("each engagement's ID"),
    "hours": N_("the hours"),
    "contacts": N_("the contacts"),
    "contacts.customer": N_("the customer contact"),
    "contacts.customer.name": N_("the customer contact's name"),
    "contacts.customer.email": N_("the customer contact's e-mail address"),
    "contacts.customer.language": N_("the language of the customer contact's e-mails"),
    "contacts.partner": N_("the partner contact"),
    "contacts.partner.name": N_("the partner contact's name"),
    "contacts.partner.email": N_("the partner contact's e-mail address"),
    "contacts.partner.language": N_("the language of the partner contact's e-mails"),
    "tenant_mismatch_reason": N_("the reason for the e-mail domain"),
    "deal_size_usd": N_("the estimated deal size"),
    "disclaimer_accepted": N_("the disclaimer"),
    "proof": N_("the proof of execution"),
    "proof.*": N_("each proof document"),
    "proof.*.kind": N_("the kind of each proof document"),
    "proof.*.reference": N_("the reference of each proof document"),
    "proof.*.document_id": N_("the uploaded document of each proof item"),
    "proof.*.file": N_("the file of each proof document"),
    "file": N_("the file"),
    "kind": N_("the kind of proof"),
    "reason": N_("the reason"),
    "action": N_("the reviewer's action"),
    "decision": N_("the answer"),
    "email": N_("the e-mail address"),
    "tab": N_("the tab"),
    "url": N_("the address"),
    "events": N_("the event types"),
}
"""Each field of the commands (by its path; ``*`` for a list's items) as the page names it."""

UNKNOWN_FIELD = N_("this value")


# -- the sentences ---------------------------------------------------------------------------

VALIDATION = {
    # what pydantic finds, whatever the field (its label is %(field)s)
    ("missing", None): N_("Enter %(field)s."),
    ("string_too_short", None): N_("Enter %(field)s."),
    ("string_type", None): N_("Enter %(field)s as text."),
    ("string_too_long", None): N_("%(Field)s can have at most %(max_length)s characters."),
    ("string_one_line", None): N_("Write %(field)s on one line, without line breaks."),
    ("string_printable", None): N_("%(Field)s can only be plain text, without control characters."),
    ("string_pattern_mismatch", None): N_("%(Field)s has characters that are not allowed."),
    ("control_characters", None): N_("%(Field)s cannot hold control characters such as NUL."),
    ("too_short", None): N_("Give at least %(min_length)s of %(field)s."),
    ("too_long", None): N_("Give at most %(max_length)s of %(field)s."),
    ("list_type", None): N_("Give %(field)s as a list."),
    ("model_type", None): N_("Give %(field)s as an object with its own fields."),
    ("model_attributes_type", None): N_("Give %(field)s as an object with its own fields."),
    ("dict_type", None): N_("Give %(field)s as an object with its own fields."),
    ("literal_error", None): N_("Choose one of the options for %(field)s."),
    ("enum", None): N_("Choose one of the options for %(field)s."),
    ("value_error", None): N_("Check %(field)s."),
    ("int_parsing", None): N_("Enter %(field)s as a whole number."),
    ("int_type", None): N_("Enter %(field)s as a whole number."),
    ("int_from_float", None): N_("Enter %(field)s as a whole number."),
    ("decimal_parsing", None): N_("Enter %(field)s as a number, for example 25000.00."),
    ("decimal_type", None): N_("Enter %(field)s as a number, for example 25000.00."),
    ("greater_than", None): N_("%(Field)s must be more than %(gt)s."),
    ("greater_than_equal", None): N_("%(Field)s must be at least %(ge)s."),
    ("less_than_equal", None): N_("%(Field)s can be at most %(le)s."),
    ("decimal_max_places", None): N_("%(Field)s can have at most %(decimal_places)s decimals."),
    ("decimal_max_digits", None): N_("%(Field)s is too large."),
    ("decimal_whole_digits", None): N_("%(Field)s is too large."),
    ("bool_parsing", None): N_("Give %(field)s as true or false."),
    ("bool_type", None): N_("Give %(field)s as true or false."),
    ("uuid_parsing", None): N_(
        "Give %(field)s as an ID such as 0f8fad5b-d9cb-469f-a165-70867728950e."
    ),
    ("extra_forbidden", None): N_("Leave out “%(name)s”: this request does not take it."),
    ("json_invalid", None): N_("The body is not valid JSON: check its syntax."),
    ("body_not_text", None): N_("The body could not be read as text: send it as UTF-8 JSON."),
    # a moment to read as of (an ISO-8601 date-time)
    ("as_of_format", None): N_(
        "%(value)s is not an ISO-8601 date-time: give one such as %(example)s."
    ),
    ("as_of_time_zone", None): N_(
        "%(value)s has no time zone: end it with Z or an offset such as +01:00."
    ),
    ("as_of_range", None): N_("%(value)s is out of the range of dates."),
    # the amounts and hours of the page, read in its language
    ("amount_format", None): N_("Enter %(field)s as an amount, for example %(example)s."),
    ("whole_number", None): N_("Enter %(field)s as a whole number, for example %(example)s."),
    # what pydantic finds in a field that says it better
    ("too_short", "engagement_ids"): N_("Choose at least one engagement."),
    ("missing", "engagement_ids"): N_("Choose at least one engagement."),
    ("too_long", "engagement_ids"): N_("Choose at most %(max_length)s engagements."),
    ("literal_error", "origin"): N_(
        "Say whether the customer is added (new to you) or claimed (known to you)."
    ),
    ("enum", "customer_id.type"): N_(
        "Choose the customer ID type: domain name, tenant ID, TPID, Azure subscription ID "
        "or MSX opportunity ID."
    ),
    ("value_error", "contacts.customer.email"): N_(
        "Enter the customer contact's e-mail address in the form name@example.com."
    ),
    ("value_error", "contacts.partner.email"): N_(
        "Enter the partner contact's e-mail address in the form name@example.com."
    ),
    ("value_error", "email"): N_("Enter the e-mail address in the form name@example.com."),
    ("literal_error", "contacts.customer.language"): N_(
        "Choose the language of the customer contact's e-mails: English or Portuguese (Brazil)."
    ),
    ("literal_error", "contacts.partner.language"): N_(
        "Choose the language of the partner contact's e-mails: English or Portuguese (Brazil)."
    ),
    ("int_parsing", "hours"): N_("Enter the hours as a whole number, for example 40."),
    ("int_type", "hours"): N_("Enter the hours as a whole number, for example 40."),
    ("int_from_float", "hours"): N_("Enter the hours as a whole number, for example 40."),
    ("decimal_parsing", "deal_size_usd"): N_(
        "Enter the estimated deal size in US dollars, for example 25000.00."
    ),
    ("decimal_type", "deal_size_usd"): N_(
        "Enter the estimated deal size in US dollars, for example 25000.00."
    ),
    ("greater_than", "deal_size_usd"): N_("The estimated deal size must be more than zero."),
    ("decimal_max_places", "deal_size_usd"): N_(
        "Give the estimated deal size with at most two decimals (cents)."
    ),
    ("bool_parsing", "disclaimer_accepted"): N_("Tick the box to accept the disclaimer."),
    ("bool_type", "disclaimer_accepted"): N_("Tick the box to accept the disclaimer."),
    ("enum", "proof.*.kind"): N_(
        "Choose the kind of each proof document: invoice, proof of execution document, "
        "customer survey or partner survey."
    ),
    ("enum", "kind"): N_(
        "Choose the kind of proof: invoice, proof of execution document, customer survey or "
        "partner survey."
    ),
    ("literal_error", "action"): N_(
        "Choose the reviewer's action: start review, request information, approve, reject "
        "or reject final."
    ),
    ("literal_error", "decision"): N_("Answer accept or decline."),
    ("literal_error", "tab"): N_("Choose one of the tabs: Eligible, Ineligible or Completed."),
    # our own checks of a customer id (R4), as ``customer_ids`` names them
    ("customer_id_domain", None): N_(
        "Enter the domain name as a host name, for example contoso.com."
    ),
    ("customer_id_tenant", None): N_(
        "A tenant ID is a GUID, for example 0f8fad5b-d9cb-469f-a165-70867728950e."
    ),
    ("customer_id_subscription", None): N_(
        "An Azure subscription ID is a GUID, for example 0f8fad5b-d9cb-469f-a165-70867728950e."
    ),
    ("customer_id_tpid", None): N_("A TPID contains digits only, for example 1000000."),
    ("customer_id_msx", None): N_(
        "An MSX opportunity ID is 7- followed by 8 to 12 letters or digits, for example "
        "7-TAI100074."
    ),
    ("customer_id_too_long", None): N_(
        "The customer ID can have at most %(max_length)s characters."
    ),
}

REFUSALS = {
    # creating claims (R2-R19)
    ("invalid-input", None): N_("Check what you entered."),
    ("invalid-customer-id", None): N_("Check the customer ID."),
    ("invalid-customer-id", "customer_id.type"): N_(
        "Choose the customer ID type: domain name, tenant ID, TPID, Azure subscription ID "
        "or MSX opportunity ID."
    ),
    ("domain-not-resolved", None): N_(
        "The domain %(domain)s is not a verified domain of any tenant we know: give the "
        "customer's tenant ID or TPID instead."
    ),
    ("location-not-found", None): N_(
        "Location %(location)s is not one of your organisation's locations: choose one from "
        "the list."
    ),
    ("location-not-enrolled", None): N_(
        "Location %(location)s is not enrolled in the incentives programme: choose an "
        "enrolled location."
    ),
    ("location-not-eligible", None): N_(
        "Location %(location)s is not eligible for %(engagement)s: choose another location."
    ),
    ("location-not-allowed", None): N_(
        "You may not act for location %(location)s: ask an Incentives admin of your organisation."
    ),
    ("unknown-engagement", None): N_(
        "There is no engagement %(engagement)s: choose the engagements from the list."
    ),
    ("engagement-not-found", None): N_(
        "There is no engagement %(engagement)s: go back to the engagements and choose one."
    ),
    ("variable-payout-single-engagement", None): N_(
        "A variable-payout engagement is claimed on its own: choose it without other engagements."
    ),
    ("hours-required", None): N_(
        "Enter the hours needed to deliver this variable-payout engagement: a whole number "
        "from 1 to %(max_hours)s."
    ),
    ("opportunity-not-rated", None): N_(
        "The MSX opportunity %(opportunity)s has no amount band in the programme's catalog, "
        "so no payout can be proposed: choose another opportunity."
    ),
    ("tenant-domain-mismatch-reason-required", None): N_(
        "The customer contact's e-mail domain %(domain)s is not a verified domain of this "
        "tenant: give the reason for the e-mail domain."
    ),
    ("customer-already-known", None): N_(
        "This customer is already known to you: claim it from the Eligible tab instead."
    ),
    ("customer-not-known", None): N_("No known customer has this ID: add the customer instead."),
    ("claim-already-exists", None): N_(
        "You already have a live claim for this customer ID and engagement %(engagement)s "
        "(claim %(claim)s): open it instead of making another."
    ),
    ("claim-limit-reached", "engagement_ids"): N_(
        "This customer ID already has %(count)s live or approved claims for %(engagement)s, "
        "the most it may have: choose another engagement."
    ),
    ("not-eligible", None): N_(
        "Not every engagement chosen can be claimed for this customer: choose only eligible "
        "engagements. %(reasons)s"
    ),
    # why a customer is not eligible for an engagement (R5, R9, R10), with hints (R9)
    ("engagement-reason", None): N_("%(engagement)s: %(reason)s."),
    ("engagement-reason-hint", None): N_("%(engagement)s: %(reason)s (%(hint)s)."),
    ("hint-accepts-only", None): N_("This engagement accepts only the customer's %(id_types)s"),
    ("hint-not-listed", None): N_(
        "%(Id_type)s %(value)s is not on this engagement's list of eligible customers"
    ),
    ("hint-other-id-qualifies", None): N_(
        "%(Id_type)s %(value)s is not on this engagement's list of eligible customers; the "
        "customer's %(alternatives)s would qualify"
    ),
    # the claim's life (R20-R35)
    ("invalid-state-transition", None): N_(
        "“%(action)s” cannot be done while the claim is “%(state)s”. %(next)s"
    ),
    ("allowed-actions", None): N_("What can be done now: %(actions)s."),
    ("no-actions", None): N_("The claim is final: nothing more can be done."),
    ("deadline-passed", None): N_(
        "The %(deadline)s deadline passed on %(at)s: the claim is expiring."
    ),
    ("disclaimer-not-accepted", None): N_(
        "Tick the box to accept the disclaimer: the consent e-mail is sent only then."
    ),
    ("contact-erased", None): N_(
        "A contact's name and e-mail address were erased: enter a new contact before the "
        "consent e-mail is sent."
    ),
    ("contact-erased", "contacts.customer.email"): N_(
        "The customer contact's name and e-mail address were erased: enter a new customer "
        "contact before the consent e-mail is sent."
    ),
    ("contact-erased", "contacts.partner.email"): N_(
        "The partner contact's name and e-mail address were erased: enter a new partner "
        "contact before the consent e-mail is sent."
    ),
    ("consent-already-answered", None): N_(
        "This consent request is closed: the claim is “%(state)s”."
    ),
    ("consent-link-superseded", None): N_(
        "This link was replaced by a newer consent e-mail: use the most recent one."
    ),
    ("consent-link-expired", None): N_("This consent link expired with the consent deadline."),
    ("consent-link-invalid", None): N_(
        "This consent link is not valid: open the link of the consent e-mail again, exactly "
        "as it was sent."
    ),
    ("proof-missing", None): N_("Add every proof the engagement requires: %(missing)s is missing."),
    ("reason-required", None): N_("Enter the reason for “%(action)s”."),
    # proof documents uploaded to a claim (docs/documents.md)
    ("document-kind-not-required", None): N_(
        "Choose which proof this document is: this claim requires %(kinds)s."
    ),
    ("document-empty", None): N_("The file is empty: choose the document itself."),
    ("document-too-large", None): N_(
        "The file is larger than %(limit)s: upload a smaller document."
    ),
    ("document-type-not-accepted", None): N_(
        "This file is not a PDF, PNG, JPEG, Word (DOCX), Excel (XLSX) or CSV document: "
        "upload the proof in one of those formats."
    ),
    ("document-not-found", None): N_(
        "There is no document %(document)s on this claim, or it is not yours to see."
    ),
    ("document-changed", None): N_(
        "The stored file no longer matches what was uploaded, so it is not served: the "
        "programme team has been told."
    ),
    ("proof-document-unknown", None): N_(
        "This document is not one uploaded to this claim as “%(kind)s”: upload it again."
    ),
    ("proof-reference-missing", None): N_(
        "Upload the document or enter where it is (a file name, link or id)."
    ),
    ("stale-version", None): N_(
        "The claim changed after you opened it (it is at version %(current)s, not "
        "%(expected)s): reload it and try again."
    ),
    ("concurrent-update", None): N_(
        "The claim was changed by others too often while this request ran: try again."
    ),
    # who may do what (R1)
    ("role-required", None): N_("This needs the role of %(role)s."),
    ("unknown-partner", None): N_(
        "Your organisation (%(partner)s) is not in the programme: ask the programme team."
    ),
    ("claim-not-found", None): N_("There is no claim %(claim)s, or it is not yours to see."),
    ("claim-not-yet", None): N_("Claim %(claim)s did not exist yet at %(at)s."),
    ("referral-not-found", None): N_(
        "There is no referral %(referral)s, or it is not yours to see."
    ),
    ("partner-required", None): N_("Name the partner whose Customers page to read."),
    ("contact-not-found", None): N_(
        "No contact with this e-mail address has personal data here: it was never written, "
        "or it was erased already."
    ),
    # the log's Merkle tree: inclusion and consistency proofs
    ("proof-event-required", None): N_(
        "Name one event: its ID, or the ID of its claim and its version."
    ),
    ("event-not-found", None): N_(
        "There is no event %(event)s in the log, or it is not yours to see."
    ),
    ("tree-size-beyond", None): N_(
        "The log's tree holds %(size)s events: ask for a tree size from 1 to %(size)s."
    ),
    ("event-after-tree-size", None): N_(
        "The event is number %(leaf)s in the log (counting from 0), so the tree of %(size)s events "
        "does not hold it: ask for a larger tree size."
    ),
    ("consistency-sizes", None): N_(
        "Ask for sizes with 1 ≤ from ≤ to ≤ %(size)s, the events the log's tree holds."
    ),
    # webhooks (a partner's incentives admin subscribes an address to its claims' events)
    ("webhook-url-invalid", None): N_(
        "Enter the address as a whole URL, for example https://hooks.example.com/ledger."
    ),
    ("webhook-url-credentials", None): N_(
        "Leave the user name and password out of the address: each delivery is signed instead."
    ),
    ("webhook-url-not-https", None): N_(
        "The address must start with https://, so that the events travel encrypted."
    ),
    ("webhook-url-unresolved", None): N_(
        "No server named %(host)s can be found: check the address."
    ),
    ("webhook-url-private", None): N_(
        "%(host)s is on this machine or on a private network: give an address the internet "
        "can reach."
    ),
    ("webhook-events-missing", None): N_("Choose at least one type of event, or every event."),
    ("webhook-event-unknown", None): N_(
        "There is no type of event called %(type)s: choose one from the list."
    ),
    ("webhook-too-many", None): N_(
        "Your organisation has %(max)s webhooks already: delete one before adding another."
    ),
    ("webhook-not-found", None): N_("There is no such webhook, or it is not yours to see."),
    ("webhook-delivery-not-found", None): N_("This webhook has no such delivery."),
    # reading lists and pages
    ("invalid-sort", None): N_("Sort by one of: %(sorts)s."),
    ("invalid-state", None): N_("There is no state %(state)s: choose one from the list."),
    ("invalid-cursor", None): N_(
        "This page link is not one we gave: start again from the first page."
    ),
    ("invalid-cursor", "after"): N_(
        "This feed position is not one we gave you: ask from the start (without after) or "
        "from the next value of your last answer."
    ),
    ("invalid-position", None): N_(
        "No write reached log position %(position)s: give a position a write answered with."
    ),
    ("invalid-version", None): N_(
        "The form does not say which version of the claim it was made for: reload the page."
    ),
    # the API's headers and tokens
    ("invalid-if-match", None): N_('If-Match takes the claim\'s ETag, for example "3".'),
    ("invalid-idempotency-key", None): N_(
        "An Idempotency-Key has 1 to %(max_length)s printable characters."
    ),
    ("idempotency-key-reused", None): N_(
        "This Idempotency-Key was used with another request: use a new key for this one."
    ),
    ("naive-time", None): N_("Give times with a time zone, for example 2026-01-31T12:00:00Z."),
    ("token-missing", None): N_("Sign in first: send an Authorization: Bearer token."),
    ("token-expired", None): N_("The token has expired: get a new one and sign in again."),
    ("token-invalid", None): N_(
        "The token is not valid: paste the whole token, exactly as it was printed."
    ),
    ("token-not-access", None): N_(
        "This is not a sign-in token: use the one the command ledger token prints."
    ),
    ("token-unknown-key", None): N_(
        "The token was signed with a key the identity provider does not publish: sign in "
        "again to get a new token."
    ),
    ("token-wrong-issuer", None): N_(
        "The token comes from an identity provider this ledger does not trust: sign in "
        "through your organisation's sign-in."
    ),
    ("token-wrong-audience", None): N_(
        "The token was issued for another application: get a token for this ledger from your "
        "organisation's sign-in."
    ),
    ("token-not-yet-valid", None): N_(
        "The token is not valid yet: check that this computer's clock is right, then sign in again."
    ),
    ("token-no-user", None): N_(
        "The token does not say who you are: ask your identity provider's administrator to "
        "include your user name in it."
    ),
    ("token-no-role", None): N_(
        "Your account has none of the ledger's roles (%(roles)s): ask your identity "
        "provider's administrator to give you one."
    ),
    ("token-no-partner", None): N_(
        "Your account has a partner role but no partner organisation: ask your identity "
        "provider's administrator to set your partner ID."
    ),
    ("identity-provider-unavailable", None): N_(
        "The identity provider did not answer, so your sign-in cannot be checked: try again "
        "in a minute."
    ),
    ("sign-in-flow-invalid", None): N_(
        "This sign-in did not come back as it left, or took too long: sign in again."
    ),
    ("sign-in-provider-refused", None): N_(
        "The identity provider did not complete your sign-in: sign in again, and if it fails "
        "again ask its administrator."
    ),
    ("not-found", None): N_("There is nothing at this address."),
    ("method-not-allowed", None): N_("This address does not take this method."),
    ("internal-error", None): N_(
        "Something went wrong on our side; it is logged. Try again later."
    ),
    ("database-unavailable", None): N_(
        "The service is briefly unavailable: its database cannot be reached. Try again in a "
        "moment; a command sent again with the same Idempotency-Key is not made twice."
    ),
    ("database-busy", None): N_(
        "The database stopped this request to let another one finish first; nothing was "
        "changed. Send it again; a command sent again with the same Idempotency-Key is not "
        "made twice."
    ),
}

REASONS = {
    "criteria-not-met": N_("The customer does not meet the engagement's criteria"),
    "claim-limit-reached": N_("The customer has reached its limit of claims"),
    "id-type-not-allowed": N_("This engagement does not take this type of customer ID"),
    "domain-not-resolved": N_("The domain is not a verified domain of a tenant we know"),
}
"""Why a customer is not eligible for an engagement (the reasons of ``assess``), in words."""

MESSAGES: dict[tuple[str, str | None], str] = {**VALIDATION, **REFUSALS}
"""Every sentence, by (refusal slug or problem type, field path or None)."""

FALLBACK = N_("This cannot be done.")


# -- saying them -----------------------------------------------------------------------------

_INDEX = re.compile(r"(?<=\.)[0-9]+(?=\.|$)")


def field_pattern(path: str | None) -> str | None:
    """A field's path as the tables key it: a list's item number as ``*`` (``proof.*.kind``)."""
    return None if path is None else _INDEX.sub("*", path)


def source(key: str, path: str | None = None) -> str | None:
    """The English sentence of a refusal or problem on a field; None when the table has none."""
    return MESSAGES.get((key, field_pattern(path))) or MESSAGES.get((key, None))


def reason(slug: str) -> Term:
    """Why a customer is not eligible, in words (a word of the catalogs, said as a ``Term``)."""
    return Term(REASONS.get(slug, FALLBACK))


def label(path: str | None) -> str | None:
    """The label of a field, as a sentence names it (English); None for a field we don't know."""
    return FIELDS.get(field_pattern(path) or "")


def say(
    key: str,
    field: str | None = None,
    params: Mapping[str, object] | None = None,
    language: str = i18n.DEFAULT,
) -> str:
    """The sentence for refusal (or problem) ``key`` on ``field``, in ``language``."""
    gettext = i18n.translations(language).gettext
    text = gettext(source(key, field) or FALLBACK)
    values = {k: _said(v, language) for k, v in (params or {}).items()}
    values["field"] = gettext(label(field) or UNKNOWN_FIELD)
    values.update({k[:1].upper() + k[1:]: _capital(v) for k, v in list(values.items())})
    try:
        return text % values
    except (KeyError, ValueError, TypeError):  # a translation that asks what was not given
        return gettext(FALLBACK)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _said(value: object, language: str) -> str:
    """A parameter as the sentence shows it in ``language``."""
    gettext = i18n.translations(language).gettext
    if isinstance(value, Words):
        return value.say(language)
    if isinstance(value, Term):
        return gettext(value)
    if isinstance(value, Terms):
        locale = i18n.Formats(language).locale
        return format_list([gettext(i) for i in value.items], style=value.style, locale=locale)
    if isinstance(value, tuple) and all(isinstance(v, Words) for v in value):
        return " ".join(v.say(language) for v in value)
    if isinstance(value, datetime):
        return i18n.Formats(language).datetime(value)
    return str(value)
