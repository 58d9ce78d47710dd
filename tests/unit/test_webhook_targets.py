"""Where a webhook may go: https only, never to this machine or a private network, checked
when the partner subscribes and again at every delivery (unless the insecure setting)."""

from __future__ import annotations

import pytest

from ledger.domain.errors import InvalidInputError
from ledger.policies.webhook_targets import check_target, pinned, resolve

PUBLIC = "93.184.215.14"
V6 = "2606:2800:21f:cb07::1"


def public(host: str, port: int) -> list[str]:
    return [PUBLIC]


@pytest.mark.parametrize(
    ("url", "slug"),
    [
        ("https://127.0.0.1/hooks", "webhook-url-private"),
        ("https://[::1]/hooks", "webhook-url-private"),
        ("https://10.0.0.1/hooks", "webhook-url-private"),
        ("https://172.16.5.4/hooks", "webhook-url-private"),
        ("https://192.168.1.1/hooks", "webhook-url-private"),
        ("https://169.254.169.254/latest/meta-data", "webhook-url-private"),
        ("https://[fe80::1]/hooks", "webhook-url-private"),
        ("https://[fc00::1]/hooks", "webhook-url-private"),
        ("https://0.0.0.0/hooks", "webhook-url-private"),
        ("https://224.0.0.1/hooks", "webhook-url-private"),
        ("https://240.0.0.1/hooks", "webhook-url-private"),
        ("https://[::ffff:127.0.0.1]/hooks", "webhook-url-private"),
        ("https://localhost/hooks", "webhook-url-private"),  # a name that resolves to loopback
        ("http://hooks.example.com/ledger", "webhook-url-not-https"),
        ("ftp://hooks.example.com/ledger", "webhook-url-invalid"),
        ("hooks.example.com", "webhook-url-invalid"),
        ("https://user:pw@hooks.example.com/", "webhook-url-credentials"),
    ],
)
def test_a_target_the_ledger_may_not_call_is_refused_in_words(url: str, slug: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        check_target(url, allow_insecure=False)
    assert refused.value.slug == slug and refused.value.field == "url"
    for language in ("en", "pt-BR"):
        said = refused.value.say(language)
        assert slug not in said and "Error" not in said and said.endswith(".")


def test_a_name_is_checked_by_what_it_resolves_to_now() -> None:
    check_target("https://hooks.example.com/ledger", False, public)
    with pytest.raises(InvalidInputError, match="private network"):
        check_target("https://hooks.example.com/ledger", False, lambda h, p: [PUBLIC, "10.1.2.3"])


def test_a_name_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(InvalidInputError) as refused:
        check_target("https://no-such-host.invalid/hooks", False)
    assert refused.value.slug == "webhook-url-unresolved"


def test_the_insecure_setting_allows_http_and_loopback() -> None:
    check_target("http://127.0.0.1:8080/hooks", allow_insecure=True)
    check_target("http://localhost:8080/hooks", allow_insecure=True)
    assert "127.0.0.1" in resolve("localhost", 80) or "::1" in resolve("localhost", 80)


@pytest.mark.parametrize("url", ["https://[::1/x", "https://h:port/x", "https://", "https://a b/"])
def test_a_malformed_address_is_refused_never_an_error(url: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        check_target(url, allow_insecure=False, resolver=public)
    assert refused.value.slug in ("webhook-url-invalid", "webhook-url-unresolved")


@pytest.mark.parametrize(
    ("url", "address", "sent_to", "host"),
    [
        ("https://a.example/l?x=1", PUBLIC, f"https://{PUBLIC}/l?x=1", "a.example"),
        ("https://a.example:8443/h", V6, f"https://[{V6}]:8443/h", "a.example:8443"),
        ("https://bücher.example/h", PUBLIC, f"https://{PUBLIC}/h", "xn--bcher-kva.example"),
    ],
)  # fmt: skip
def test_a_delivery_is_sent_to_the_checked_address_under_the_targets_name(
    url: str, address: str, sent_to: str, host: str
) -> None:
    to = pinned(url, address)
    assert str(to.url) == sent_to
    assert to.headers == {"Host": host}
    assert to.extensions == {"sni_hostname": host.split(":")[0]}


def test_an_address_of_one_interface_is_left_to_the_resolver() -> None:
    """A link-local IPv6 address with its zone (only with the insecure setting): as is."""
    to = pinned("http://hooks.test/h", "fe80::1%eth0")
    assert (str(to.url), to.headers, to.extensions) == ("http://hooks.test/h", {}, {})


def test_addresses_keep_the_order_the_system_prefers(monkeypatch: pytest.MonkeyPatch) -> None:
    """getaddrinfo's order (RFC 6724: IPv6 first only where it is routed), each once."""
    found = [(0, 0, 0, "", (address, 443)) for address in (PUBLIC, V6, PUBLIC)]
    monkeypatch.setattr("socket.getaddrinfo", lambda *_, **__: found)
    assert resolve("hooks.example.com", 443) == [PUBLIC, V6]
