"""The rules of CONTRACT.md "How a delivery is decided", in its order, over plain data.

Pure: everything, the clock included, comes in as arguments, so every rule and every pair of
rules can be tested exhaustively and `explainDelivery` gives exactly what a send would get.

Where the contract is silent, these readings hold:

- Frequency caps apply to MARKETING categories only. Order updates, receipts and password
  resets are what a customer asked for by acting; capping them would lose them. Only
  capped deliveries count toward the caps (`counts_toward_caps`), so a busy day of
  receipts does not silence marketing either.
- A TRANSACTIONAL category respects quiet hours only when it says so, and is never
  digested whatever the customer's frequency says.
- Where the customer has a preference for the category its frequency wins, REALTIME
  included; otherwise the tier policy's marketing frequency applies.
- The fallback channel is decided once, by all six rules, and never falls back further.
- A suppressed address (a hard bounce, or repeated soft bounces: core/services/bounces.py)
  counts as no address: NO_ADDRESS, its detail "suppressed: hard bounce", and the fallback
  applies as for a missing address.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, tzinfo

from tidings.core.enums import (
    CategoryKind,
    DeliveryReason,
    DeliveryStatus,
    Frequency,
    RuleVerdict,
)
from tidings.core.policy.caps import after_sending
from tidings.core.policy.clock import as_utc, next_digest, parse_clock, quiet_hours_end, zone_for
from tidings.core.policy.consent import CONSENT_RULES, outcome
from tidings.core.policy.model import (
    DIGEST,
    FREQUENCY_CAP,
    NO_ADDRESS,
    PASS,
    QUIET_HOURS,
    SKIP,
    STOP,
    CategoryRule,
    Decision,
    Recipient,
    RuleOutcome,
    account_stop,
    suppression_detail,
)
from tidings.core.policy.tiers import TierPolicy

# Deliveries that count toward the caps once decided: going or gone, in the local day they
# go out (see policy/caps.py). DEFERRED ones count when they are released as QUEUED, and are
# decided again then against that day's counts; SUPPRESSED and FAILED ones reached no one.
# BOUNCED and COMPLAINED ones were sent: they count.
CAP_COUNTED_STATUSES: frozenset[DeliveryStatus] = frozenset(
    {
        DeliveryStatus.QUEUED,
        DeliveryStatus.SENT,
        DeliveryStatus.DELIVERED,
        DeliveryStatus.BOUNCED,
        DeliveryStatus.COMPLAINED,
    }
)


def counts_toward_caps(category: CategoryRule) -> bool:
    """Whether a delivery in this category is capped, and so counted in `sent_today`."""
    return category.kind == CategoryKind.MARKETING and not category.required


def channels_for(
    category: CategoryRule, recipient: Recipient, requested: Sequence[str] | None
) -> tuple[str, ...]:
    """The channels to decide, without duplicates, in order: those the sender asked for, else
    the customer's preference for the category, else the category's defaults.

    An empty list counts as not given, and so does a preference naming no channel: the
    defaults are then decided and recorded as OPTED_OUT, rather than nothing being recorded,
    because nothing may be dropped silently.
    """
    if requested:
        return tuple(dict.fromkeys(requested))
    if recipient.preference is not None and recipient.preference.channels:
        return tuple(dict.fromkeys(recipient.preference.channels))
    return tuple(dict.fromkeys(category.default_channels))


def decide(
    category: CategoryRule,
    channel: str,
    recipient: Recipient,
    policy: TierPolicy,
    now: datetime,
    *,
    fallback: bool = True,
    digest_due: bool = False,
) -> Decision:
    """Decide one delivery of `category` to `recipient` on `channel` at `now` (tz-aware).

    `fallback=False` keeps a channel without an address from falling back (the caller is
    deciding the fallback channel on its own; see `decide_channels`). `digest_due=True` is for
    the digest run releasing a delivery held by rule 6: every other rule is checked again,
    so a permission withdrawn in the meantime still stops it.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    stopped = account_stop(recipient, channel)
    if stopped is not None:
        return stopped
    return _decide(
        category,
        channel,
        recipient,
        policy,
        as_utc(now),
        zone_for(recipient.timezone),
        fallback=fallback,
        digest_due=digest_due,
        via="",
    )


def decide_channels(
    category: CategoryRule,
    channels: Sequence[str],
    recipient: Recipient,
    policy: TierPolicy,
    now: datetime,
    *,
    digest_due: bool = False,
) -> tuple[Decision, ...]:
    """One decision per channel (duplicates dropped), as one send to one recipient needs.

    Two things `decide` alone cannot know: each QUEUED capped delivery counts toward the caps
    for the channels after it, and a fallback is not taken when its channel is also asked
    for or was already taken, so one send never reaches a customer twice on one channel.
    """
    wanted = tuple(dict.fromkeys(channels))
    chosen: set[str] = set()
    decisions: list[Decision] = []
    for channel in wanted:
        fallback_to = category.fallback_channel
        allow = fallback_to is None or (fallback_to not in wanted and fallback_to not in chosen)
        decision = decide(
            category, channel, recipient, policy, now, fallback=allow, digest_due=digest_due
        )
        decisions.append(decision)
        chosen.add(decision.channel)
        if decision.status == DeliveryStatus.QUEUED and counts_toward_caps(category):
            recipient = after_sending(recipient, (category.key,))
    return tuple(decisions)


def _decide(
    category: CategoryRule,
    channel: str,
    recipient: Recipient,
    policy: TierPolicy,
    now: datetime,
    zone: tzinfo,
    *,
    fallback: bool,
    digest_due: bool,
    via: str,
) -> Decision:
    rules: list[RuleOutcome] = []
    marketing = category.kind == CategoryKind.MARKETING
    preference = recipient.preference

    def say(rule: DeliveryReason, verdict: RuleVerdict, detail: str) -> None:
        rules.append(outcome(rule, verdict, via + detail, channel))

    def stop(
        rule: DeliveryReason,
        detail: str,
        status: DeliveryStatus,
        not_before: datetime | None = None,
    ) -> Decision:
        say(rule, STOP, detail)
        return Decision(channel, status, rule, not_before, tuple(rules))

    # 1. Permission, then 2. the customer's channels for the category.
    for rule, check in CONSENT_RULES:
        verdict, detail = check(category, channel, recipient, now)
        if verdict is STOP:
            return stop(rule, detail, DeliveryStatus.SUPPRESSED)
        say(rule, verdict, detail)

    # 3. An address (a suppressed one is none), else the fallback, decided once by every rule.
    suppressed = suppression_detail(recipient, channel)
    if channel not in recipient.addresses or suppressed is not None:
        missing = suppressed or f"no address for {channel}"
        other = category.fallback_channel
        if other is None or other == channel:
            return stop(NO_ADDRESS, missing, DeliveryStatus.SUPPRESSED)
        if not fallback:
            return stop(
                NO_ADDRESS,
                f"{missing}; fallback {other} is decided on its own",
                DeliveryStatus.SUPPRESSED,
            )
        say(NO_ADDRESS, STOP, f"{missing}; trying fallback {other}")
        taken = _decide(
            category,
            other,
            recipient,
            policy,
            now,
            zone,
            fallback=False,
            digest_due=digest_due,
            via=f"fallback from {channel}: ",
        )
        return replace(taken, rules=(*rules, *taken.rules))
    say(NO_ADDRESS, PASS, f"address on file for {channel}")

    # 4. Daily caps, for marketing only.
    if category.required:
        say(FREQUENCY_CAP, SKIP, "required")
    elif not marketing:
        say(FREQUENCY_CAP, SKIP, "transactional: not capped")
    else:
        in_category = recipient.sent_today_by_category.get(category.key, 0)
        if policy.daily_cap is not None and recipient.sent_today >= policy.daily_cap:
            return stop(
                FREQUENCY_CAP,
                f"daily cap reached: {recipient.sent_today} of {policy.daily_cap} today",
                DeliveryStatus.SUPPRESSED,
            )
        if policy.category_daily_cap is not None and in_category >= policy.category_daily_cap:
            return stop(
                FREQUENCY_CAP,
                f"category cap reached: {in_category} of {policy.category_daily_cap} today",
                DeliveryStatus.SUPPRESSED,
            )
        say(
            FREQUENCY_CAP,
            PASS,
            f"{recipient.sent_today} of {_cap(policy.daily_cap)} today, "
            f"{in_category} of {_cap(policy.category_daily_cap)} in the category",
        )

    # 5. Quiet hours, in the customer's timezone.
    if category.required:
        say(QUIET_HOURS, SKIP, "required")
    elif not category.respect_quiet_hours:
        say(QUIET_HOURS, SKIP, "the category ignores quiet hours")
    elif preference is None or preference.quiet_start is None or preference.quiet_end is None:
        say(QUIET_HOURS, PASS, "no quiet hours set")
    else:
        window = f"{preference.quiet_start}-{preference.quiet_end} {zone}"
        ends = quiet_hours_end(
            parse_clock(preference.quiet_start), parse_clock(preference.quiet_end), zone, now
        )
        if ends is not None:
            local = ends.astimezone(zone).isoformat()
            return stop(
                QUIET_HOURS, f"inside {window}; until {local}", DeliveryStatus.DEFERRED, ends
            )
        say(QUIET_HOURS, PASS, f"outside {window}")

    # 6. Digest: marketing only; the customer's frequency, else the tier's.
    if category.required:
        say(DIGEST, SKIP, "required")
    elif not marketing:
        say(DIGEST, SKIP, "transactional: never digested")
    else:
        if preference is not None:
            frequency, source = preference.frequency, "customer preference"
        else:
            frequency, source = policy.marketing_frequency, f"{recipient.tier.value} tier policy"
        if frequency == Frequency.REALTIME:
            say(DIGEST, PASS, f"REALTIME ({source})")
        elif digest_due:
            say(DIGEST, PASS, f"{frequency.value} ({source}): digest due")
        else:
            at = next_digest(frequency, policy.digest_hour, policy.weekly_digest_weekday, zone, now)
            local = at.astimezone(zone).isoformat()
            return stop(
                DIGEST,
                f"{frequency.value} ({source}); next digest {local}",
                DeliveryStatus.DEFERRED,
                at,
            )

    return Decision(channel, DeliveryStatus.QUEUED, None, None, tuple(rules))


def _cap(cap: int | None) -> str:
    return "no cap" if cap is None else str(cap)
