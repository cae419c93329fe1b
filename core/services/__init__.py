"""Domain services. The app factory builds one `Services` and hands it to every request."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from tidings.core.address_hash import AddressHasher
from tidings.core.audit.read import AuditLogService
from tidings.core.delivery.feedback import FeedbackRecorder
from tidings.core.delivery.messages import MessageService
from tidings.core.delivery.sandbox import TemplateSandbox
from tidings.core.delivery.sending import SendService
from tidings.core.delivery.tiers import TierPolicies
from tidings.core.enums import EmailConfirmation
from tidings.core.links import DEFAULT_PUBLIC_URL, LinkSigner
from tidings.core.live import InProcessBus, LivePublisher
from tidings.core.services.access import AccessService
from tidings.core.services.api_keys import ApiKeyService
from tidings.core.services.categories import CategoryService
from tidings.core.services.consent import ConsentService
from tidings.core.services.customer_status import CustomerStatus
from tidings.core.services.customers import CustomerService
from tidings.core.services.engagement import EngagementService
from tidings.core.services.erasure import ErasureService
from tidings.core.services.events import DEFAULT_ATTRIBUTION_WINDOW, EventService
from tidings.core.services.export import ExportService
from tidings.core.services.inbox import InboxService
from tidings.core.services.staff import StaffService
from tidings.core.services.stats import StatsService
from tidings.core.services.suppressions import SuppressionService
from tidings.core.services.throttle import SignInThrottle
from tidings.core.services.webhooks import WebhookService
from tidings.core.webhooks import outbox


@dataclass(frozen=True)
class Services:
    customers: CustomerService
    # Disabling and enabling customers' accounts.
    customer_status: CustomerStatus
    consent: ConsentService
    categories: CategoryService
    staff: StaffService
    api_keys: ApiKeyService
    access: AccessService
    sending: SendService
    messages: MessageService
    tiers: TierPolicies
    inbox: InboxService
    live: LivePublisher
    # Signed customer links (preference page, unsubscribe, confirmation).
    links: LinkSigner
    email_confirmation: EmailConfirmation
    # Opens and clicks Tidings sees itself (tracked mail, apps); records nothing when off.
    engagement: EngagementService
    suppressions: SuppressionService
    events: EventService
    webhooks: WebhookService
    stats: StatsService
    # Reading the audit log (recording is core/audit/log.py's).
    audit: AuditLogService
    # Data rights (docs/data-rights.md): the customer's export, and its erasure.
    exports: ExportService
    erasure: ErasureService

    @classmethod
    def build(
        cls,
        channels: frozenset[str],
        tiers: TierPolicies | None = None,
        live: LivePublisher | None = None,
        *,
        served: frozenset[str] | None = None,
        templates: TemplateSandbox | None = None,
        links: LinkSigner | None = None,
        email_confirmation: EmailConfirmation = EmailConfirmation.CATEGORY,
        tracking: bool = True,
        hasher: AddressHasher | None = None,
        attribution_window: timedelta = DEFAULT_ATTRIBUTION_WINDOW,
        webhook_allow_private: bool = False,
        receipt_channels: frozenset[str] = frozenset(),
        stats_min_group: int = 1,
        throttle: SignInThrottle | None = None,
        erasure_grace: timedelta = timedelta(),
    ) -> Services:
        """`channels`: every channel name a registered provider serves, plus the built-ins.
        `live`: where committed changes are announced (default: this process only).
        `served`: the channels some provider serves now (default: all of `channels`), so
        `explainDelivery` can say when a send would fail with NO_PROVIDER.
        `templates`: where templates are checked when saved (default: processes of its own).
        `links`: signs customer links (default: a random key, links to the development URL).
        `email_confirmation`: TIDINGS_EMAIL_CONFIRMATION.
        `tracking`: TIDINGS_TRACKING (off: no opens or clicks recorded, markRead's neither).
        `hasher`: hashes addresses to find suppressed ones (without it, none are).
        `attribution_window`: TIDINGS_ATTRIBUTION_WINDOW.
        `webhook_allow_private`: TIDINGS_WEBHOOK_ALLOW_PRIVATE.
        `receipt_channels`: the channels some provider reports delivery receipts on.
        `stats_min_group`: TIDINGS_STATS_MIN_GROUP.
        `throttle`: counts failed sign-ins (default: the built-in limits, a random key).
        `erasure_grace`: TIDINGS_ERASURE_GRACE_DAYS (a customer's own erasure request waits
        that long)."""
        categories = CategoryService(channels)
        tiers = tiers or TierPolicies()
        live = live or LivePublisher(InProcessBus())
        links = links or LinkSigner(secrets.token_urlsafe(48), DEFAULT_PUBLIC_URL, 7 * 24 * 3600)
        return cls(
            customers=CustomerService(live),
            customer_status=CustomerStatus(live),
            consent=ConsentService(channels, categories, links, email_confirmation),
            categories=categories,
            staff=StaffService(live, throttle=throttle),
            api_keys=ApiKeyService(live),
            access=AccessService(live),
            sending=SendService(
                categories,
                tiers,
                served=channels if served is None else served,
                hasher=hasher,
            ),
            messages=MessageService(categories, live, templates),
            tiers=tiers,
            inbox=InboxService(live, record_opens=tracking),
            live=live,
            links=links,
            email_confirmation=email_confirmation,
            engagement=EngagementService(
                FeedbackRecorder(
                    on_change=live.deliveries_changed, on_recorded=outbox.feedback_recorded
                )
                if tracking
                else None
            ),
            suppressions=SuppressionService(),
            events=EventService(attribution_window),
            webhooks=WebhookService(webhook_allow_private),
            stats=StatsService(receipt_channels.__contains__, stats_min_group),
            audit=AuditLogService(),
            exports=ExportService(links),
            # Without a hasher (tests), consent proof is hashed under a key of its own.
            erasure=ErasureService(
                hasher or AddressHasher(secrets.token_urlsafe(48)), live, erasure_grace
            ),
        )
