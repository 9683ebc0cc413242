"""Maintenance jobs of the automation DAGs: retention cleanup and periodic reports."""
