"""The workflow templates catalogue (include/templates/workflows/): parameters, rendering into definitions."""
