"""Evaluate workflow conditions (simple all/any/not clauses and JSONLogic)."""

from automation.conditions.evaluate import ConditionData, evaluate

__all__ = ["ConditionData", "evaluate"]
