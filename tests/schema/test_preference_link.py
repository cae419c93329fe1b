"""`Customer.preferenceLink` (issue 11, item 1): a fresh link to the hosted preference page,
for the customer itself and staff who may read its personal data; it dies with
`revokeCustomerTokens`."""

from __future__ import annotations

import pytest

from tests.conftest import Api, data
from tidings.core.enums import Role
from tidings.core.links import InvalidLinkError, LinkKind
from tidings.core.models import Customer
from tidings.schema.ids import to_global_id

LINK = "query($id: ID!) { customer(id: $id) { preferenceLink } }"
REVOKE = "mutation($id: ID) { revokeCustomerTokens(customerId: $id) { errors { code } } }"


async def test_customer_and_admin_get_a_link_that_verifies(api: Api):
    ann = await Customer.create(external_id="ann", email="ann@example.com", attributes={})
    gid = to_global_id("Customer", ann.id)
    _, admin = await api.staff(Role.ADMIN)
    links = api.runtime.services.links
    for token in (admin, api.customer_token(ann.id)):
        link = data(await api.gql(LINK, {"id": gid}, token))["customer"]["preferenceLink"]
        assert link.startswith(links.public_url + "/preferences/")
        claims = links.verify(link.rsplit("/", 1)[1], LinkKind.PREFERENCES)
        assert (claims.customer_id, claims.version) == (ann.id, 0)
        with pytest.raises(InvalidLinkError):  # a preference link is no other kind of link
            links.verify(link.rsplit("/", 1)[1], LinkKind.UNSUBSCRIBE)


@pytest.mark.parametrize("role", [Role.MARKETER, Role.AUDITOR])
async def test_staff_who_may_not_read_personal_data_get_forbidden(api: Api, role: Role):
    ann = await Customer.create(external_id="ann", email="ann@example.com", attributes={})
    _, token = await api.staff(role)
    result = await api.gql(LINK, {"id": to_global_id("Customer", ann.id)}, token)
    assert result["data"]["customer"] == {"preferenceLink": None}
    [error] = result["errors"]
    assert error["path"] == ["customer", "preferenceLink"]
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_revoking_tokens_outdates_the_links_version(api: Api):
    ann = await Customer.create(external_id="ann", email="ann@example.com", attributes={})
    gid = to_global_id("Customer", ann.id)
    _, admin = await api.staff(Role.ADMIN)
    links = api.runtime.services.links
    old = data(await api.gql(LINK, {"id": gid}, admin))["customer"]["preferenceLink"]
    assert data(await api.gql(REVOKE, {"id": gid}, admin))["revokeCustomerTokens"]["errors"] == []
    current = (await Customer.get(id=ann.id)).token_version
    assert links.verify(old.rsplit("/", 1)[1], LinkKind.PREFERENCES).version != current
    new = data(await api.gql(LINK, {"id": gid}, admin))["customer"]["preferenceLink"]
    assert links.verify(new.rsplit("/", 1)[1], LinkKind.PREFERENCES).version == current
