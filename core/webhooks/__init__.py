"""Outbound webhooks: the outbox every event source writes to, and the dispatcher that POSTs
each event, signed, to the company's endpoints (docs/webhooks.md)."""
