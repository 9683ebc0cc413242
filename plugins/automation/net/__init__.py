"""Outbound network policy."""
