"""Sending: recipients' policy inputs, the send service, audience expansion and the worker."""
