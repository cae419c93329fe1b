"""Jinja2 templates of the customer pages (package data)."""
