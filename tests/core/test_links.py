"""Signed customer links: each kind reads back as itself only, under its own key, and a
tampered, expired or foreign token is refused with a message that names no one."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid

import jwt
import pytest

from tidings.core.links import InvalidLinkError, LinkKind, LinkSigner, hs256
from tidings.core.tokens import InvalidTokenError, TokenKind, TokenSigner

KEY = "links-test-secret-" + "k" * 32
URL = "https://notify.shop.example"
CUSTOMER = uuid.uuid4()


def signer(ttl: int = 3600, key: str = KEY) -> LinkSigner:
    return LinkSigner(key, URL + "/", ttl)


def test_preference_link_reads_back_with_the_version():
    links = signer()
    claims = links.verify(links.preferences_token(CUSTOMER, 3), LinkKind.PREFERENCES)
    assert (claims.customer_id, claims.version, claims.category) == (CUSTOMER, 3, None)


def test_unsubscribe_link_names_category_and_channel_and_never_expires():
    links = signer(ttl=1)
    token = links.unsubscribe_token(CUSTOMER, "promotions", "email")
    assert "exp" not in jwt.decode(token, options={"verify_signature": False})
    claims = links.verify(token, LinkKind.UNSUBSCRIBE)
    assert (claims.customer_id, claims.category, claims.channel) == (
        CUSTOMER,
        "promotions",
        "email",
    )


def test_confirm_link_names_the_pending_entry():
    links = signer()
    entry = uuid.uuid4()
    claims = links.verify(
        links.confirm_token(CUSTOMER, "promotions", "email", entry), LinkKind.CONFIRM
    )
    assert (claims.entry_id, claims.category, claims.channel) == (entry, "promotions", "email")


def test_urls_start_with_the_public_url():
    links = signer()
    assert links.preferences_url(CUSTOMER, 0).startswith(URL + "/preferences/")
    assert links.unsubscribe_url(CUSTOMER, "p", "email").startswith(URL + "/unsubscribe/")
    assert links.confirm_url(CUSTOMER, "p", "email", uuid.uuid4()).startswith(URL + "/confirm/")


@pytest.mark.parametrize("kind", [LinkKind.UNSUBSCRIBE, LinkKind.CONFIRM])
def test_a_link_of_one_kind_is_not_another(kind):
    links = signer()
    with pytest.raises(InvalidLinkError):
        links.verify(links.preferences_token(CUSTOMER, 0), kind)
    with pytest.raises(InvalidLinkError):
        links.verify(links.unsubscribe_token(CUSTOMER, "p", "email"), LinkKind.PREFERENCES)


def test_expired_links_are_refused():
    links = signer(ttl=-1)
    with pytest.raises(InvalidLinkError, match="invalid or expired"):
        links.verify(links.preferences_token(CUSTOMER, 0), LinkKind.PREFERENCES)
    with pytest.raises(InvalidLinkError):
        links.verify(links.confirm_token(CUSTOMER, "p", "email", uuid.uuid4()), LinkKind.CONFIRM)


def test_tampered_and_foreign_keys_are_refused():
    token = signer().preferences_token(CUSTOMER, 0)
    head, body, sig = token.split(".")
    forged = ".".join([head, body, sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")])
    with pytest.raises(InvalidLinkError):
        signer().verify(forged, LinkKind.PREFERENCES)
    with pytest.raises(InvalidLinkError):
        signer(key="another-secret-" + "z" * 32).verify(token, LinkKind.PREFERENCES)
    with pytest.raises(InvalidLinkError):
        signer().verify("not-a-token", LinkKind.PREFERENCES)


def test_links_and_bearer_tokens_do_not_stand_in_for_each_other():
    """Different keys (the link key is derived from the secret key) and different claims."""
    bearer = TokenSigner(KEY, 3600, 3600)
    customer_token = bearer.issue(TokenKind.CUSTOMER, CUSTOMER, 0)
    with pytest.raises(InvalidLinkError):
        signer().verify(customer_token, LinkKind.PREFERENCES)
    with pytest.raises(InvalidTokenError):
        bearer.verify(signer().preferences_token(CUSTOMER, 0))


def test_a_token_signed_with_the_raw_secret_key_is_refused():
    now = int(time.time())
    claims = {"iss": "tidings-links", "typ": "preferences", "sub": str(CUSTOMER), "iat": now}
    token = jwt.encode({**claims, "ver": 0, "exp": now + 60}, KEY, algorithm="HS256")
    with pytest.raises(InvalidLinkError):
        signer().verify(token, LinkKind.PREFERENCES)


def test_the_signer_repr_holds_no_key():
    assert KEY not in repr(signer()) and "k" * 32 not in repr(signer())


def test_a_digest_unsubscribe_link_names_several_categories_sorted_once():
    links = signer()
    token = links.unsubscribe_token(CUSTOMER, ["promos", "news", "promos"], "email")
    claims = links.verify(token, LinkKind.UNSUBSCRIBE)
    assert (claims.categories, claims.category) == (("news", "promos"), "news")
    single = links.verify(
        links.unsubscribe_token(CUSTOMER, ["promos"], "sms"), LinkKind.UNSUBSCRIBE
    )
    assert single.categories == ("promos",)
    # One category stays a plain string: the links of single sends are as before.
    payload = jwt.decode(
        links.unsubscribe_token(CUSTOMER, ["promos"], "sms"), options={"verify_signature": False}
    )
    assert payload["cat"] == "promos"


def test_a_confirm_link_names_exactly_one_category():
    links = signer()
    now = int(time.time())
    forged = links._encode(
        LinkKind.CONFIRM,
        CUSTOMER,
        {"cat": ["a", "b"], "chn": "email", "ent": str(uuid.uuid4()), "exp": now + 60},
        now,
    )
    with pytest.raises(InvalidLinkError):
        links.verify(forged, LinkKind.CONFIRM)


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "tidings-links", "typ": "preferences", "sub": str(uuid.uuid4()), "iat": 1},
        {"iss": "x", "sub": "déjà vu ✓ « »", "iat": 1_790_000_000, "cat": ["a", "b"], "ver": 3},
        {"typ": "unsubscribe", "cat": "news", "chn": "email", "dlv": None, "exp": 2**40},
    ],
)
def test_links_are_signed_exactly_as_pyjwt_signs_them(claims):
    key = "ab" * 32
    mac = hmac.new(key.encode(), digestmod=hashlib.sha256)
    assert hs256(claims, mac) == jwt.encode(claims, key, algorithm="HS256")
    assert hs256(claims, mac) == hs256(claims, mac)  # the prepared key is copied, not used up
    assert (
        jwt.decode(
            hs256(claims, mac),
            key,
            algorithms=["HS256"],
            options={"verify_exp": False, "verify_iat": False},
        )
        == claims
    )
