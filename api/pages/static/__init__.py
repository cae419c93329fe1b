"""The customer pages' stylesheet, served at /static (package data)."""
