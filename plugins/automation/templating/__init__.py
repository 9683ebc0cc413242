"""Sandboxed Jinja rendering of step configs."""

from automation.templating.sandbox import render_value

__all__ = ["render_value"]
