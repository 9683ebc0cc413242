"""Operator alerts: failure streaks and recoveries (DAG callbacks), missed deadlines (DeadlineAlert)."""
