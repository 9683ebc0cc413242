"""Evaluate workflow conditions (simple all/any/not clauses and JSONLogic)."""

from automation.conditions.evaluate import ConditionData, evaluate
from automation.conditions.lookup import LookupRead, RecordReader, StoreReader

__all__ = ["ConditionData", "LookupRead", "RecordReader", "StoreReader", "evaluate"]
