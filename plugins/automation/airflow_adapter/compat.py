"""Fixes for known bugs of the Airflow version this plugin runs in: each one narrow, guarded by the
Airflow version and by a check that the bug is still there, applied only in the api-server (from the
plugin's `fastapi_apps`, before Airflow builds its own routes), and removed once Airflow ships the fix.

Relies on: `airflow.__version__` and, per fix, the internal it corrects (named with the fix).

- apache/airflow#71360 (internal: the core API's pydantic models in
  `airflow.api_fastapi.core_api.datamodels.assets`), fixed upstream by apache/airflow#71379 (after
  3.3.2): `GET /api/v2/assets/events` (the Airflow UI's home page) and
  `GET /api/v2/dags/{dag_id}/dagRuns/{run_id}/upstreamAssetEvents` answer 500 while a run that an
  asset event created is still queued, because the response model `DagRunAssetReference` requires
  `start_date` and a queued run has none. Every event burst hits it: the runs beyond a workflow's
  `max_active_runs` wait queued. The fix is upstream's: `start_date` becomes `datetime | None` in the
  core API's model (the execution API's copy is versioned by Cadwyn and built
  before plugins load; tasks of this product do not read other runs' asset events through it).
"""

from __future__ import annotations

import logging
from datetime import datetime

log = logging.getLogger(__name__)

#: The first Airflow release with apache/airflow#71379 (the fix is skipped from there on).
ASSET_EVENTS_FIXED_IN = (3, 3, 3)
ASSET_EVENTS_ISSUE = "https://github.com/apache/airflow/issues/71360"


def _version() -> tuple[int, ...]:
    from airflow import __version__

    parts: list[int] = []
    for piece in __version__.split("+")[0].split(".")[:3]:
        digits = "".join(c for c in piece if c.isdigit()) or "0"
        parts.append(int(digits))
        if not piece.isdigit():  # 3.3.3rc1, 3.4.0.dev0: a pre-release of that version
            break
    return tuple(parts)


def asset_events_start_date_optional() -> bool:
    """Make `start_date` of the core API's DagRunAssetReference optional (apache/airflow#71360).
    True when applied; False when this Airflow does not need it (a fixed version or model)."""
    if _version() >= ASSET_EVENTS_FIXED_IN:
        return False
    from airflow.api_fastapi.core_api.datamodels import assets

    field = assets.DagRunAssetReference.model_fields.get("start_date")
    if field is None or not field.is_required() or field.annotation is not datetime:
        return False  # not the 3.3.2 model: nothing to fix here
    field.annotation = datetime | None
    # the run model first, then the models that embed it (their schemas hold a copy of it)
    for model in (assets.DagRunAssetReference, assets.AssetEventResponse, assets.AssetEventCollectionResponse):
        model.model_rebuild(force=True)
    log.info("Airflow compatibility: asset events list runs that have not started (%s)", ASSET_EVENTS_ISSUE)
    return True


def apply() -> list[str]:
    """Apply every fix this Airflow needs (idempotent); the names of those applied. A fix that fails is
    logged and skipped: Airflow then behaves as it would without the plugin."""
    applied = []
    for fix in (asset_events_start_date_optional,):
        try:
            if fix():
                applied.append(fix.__name__)
        except Exception:
            log.exception("Airflow compatibility fix %s not applied", fix.__name__)
    return applied
