"""Run the project's Alembic migrations against the definitions database."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from automation.store.db import engine as default_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def upgrade(engine: Engine | None = None, revision: str = "head") -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with (engine or default_engine()).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
