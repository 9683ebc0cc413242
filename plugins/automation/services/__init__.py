"""The operations api, pages and cli share: each one written once, typed, raising the package's
domain errors (`automation.errors`, plus `services.errors.RequestError`) with field paths.

Layering: services import definitions, store, catalogue, runtime and the Airflow adapter; they never
import `automation.api`, `automation.pages` or `automation.cli` (tests/test_layers.py checks it).
What an error means to each caller (HTTP status and body, form field, CLI line and exit code) is
decided in one place: `services.errors.outcome`.
"""
