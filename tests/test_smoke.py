from tests.conftest import data
from tidings.core.enums import Role


async def test_admin_creates_customer_and_reads_it(api):
    _, token = await api.staff(Role.ADMIN)
    created = data(
        await api.gql(
            'mutation { createCustomer(input: {externalId: "c1", email: "a@example.com"}) '
            "{ customer { id email } errors { code } } }",
            token=token,
        )
    )
    assert created["createCustomer"]["errors"] == []
    assert created["createCustomer"]["customer"]["email"] == "a@example.com"
