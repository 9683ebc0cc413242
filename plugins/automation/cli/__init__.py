"""The `automation` command line."""
