"""Staff accounts, API keys and access grants (staff → customer)."""

from tortoise import fields
from tortoise.models import Model

from tidings.core.enums import Role
from tidings.core.ids import new_id
from tidings.core.models.customers import Customer


class Staff(Model):
    id = fields.UUIDField(primary_key=True, default=new_id)
    email = fields.CharField(max_length=320, unique=True)
    password_hash = fields.CharField(max_length=255)
    role = fields.CharEnumField(Role, max_length=16)
    active = fields.BooleanField(default=True)
    # Bumped on logout, password or role change: every token issued before is revoked.
    token_version = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_login_at = fields.DatetimeField(null=True)

    class Meta:
        table = "staff"

    def __repr__(self) -> str:
        return f"<Staff {self.id} {self.role}>"


class ApiKey(Model):
    """A key for the company's back end. Only a SHA-256 of the secret is stored."""

    id = fields.UUIDField(primary_key=True, default=new_id)
    name = fields.CharField(max_length=255)
    role = fields.CharEnumField(Role, max_length=16)
    prefix = fields.CharField(max_length=16)
    key_hash = fields.CharField(max_length=64, unique=True)
    created_by_id = fields.UUIDField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    # Narrower than the role when set (core/scopes.py); null: the role's full power.
    scopes = fields.JSONField(null=True)
    # After this the key authenticates as nothing; null: until revoked.
    expires_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_keys"

    def __repr__(self) -> str:
        return f"<ApiKey {self.id} {self.prefix}…>"


class AccessGrant(Model):
    id = fields.UUIDField(primary_key=True, default=new_id)
    staff: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="access_grants", on_delete=fields.CASCADE
    )
    customer: fields.ForeignKeyRelation[Customer] = fields.ForeignKeyField(
        "models.Customer", related_name=False, on_delete=fields.CASCADE
    )
    actions = fields.JSONField(default=list)
    expires_at = fields.DatetimeField(null=True)
    created_by = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "access_grants"


class LoginThrottle(Model):
    """Failed sign-ins per account or client address, shared by every process.

    The key is "account:" and a keyed hash of the email, or "ip:" and the client address.
    A success deletes the account row. See core/services/throttle.py."""

    key = fields.CharField(max_length=128, primary_key=True)
    failures = fields.IntField(default=0)
    last_failure_at = fields.DatetimeField()

    class Meta:
        table = "login_throttles"

    def __repr__(self) -> str:
        return f"<LoginThrottle {self.failures}>"
