"""Workflows, immutable versions, factory errors and pinned run versions.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S = "automation"


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(63), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("trigger_type", sa.String(32), nullable=False),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        schema=S,
    )
    op.create_index("ix_workflows_status", "workflows", ["status"], schema=S)
    op.create_table(
        "workflow_versions",
        sa.Column("workflow_id", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("definition", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("created_by", sa.String(200)),
        sa.Column("comment", sa.Text),
        sa.PrimaryKeyConstraint("workflow_id", "version"),
        sa.ForeignKeyConstraint(["workflow_id"], [f"{S}.workflows.id"], ondelete="CASCADE"),
        schema=S,
    )
    op.create_table(
        "definition_errors",
        sa.Column("key", sa.String(63), primary_key=True),
        sa.Column("version", sa.Integer),
        sa.Column("errors", JSONB, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_table(
        "run_versions",
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("workflow_key", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("pinned_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("dag_id", "run_id"),
        schema=S,
    )


def downgrade() -> None:
    for table in ("run_versions", "definition_errors", "workflow_versions", "workflows"):
        op.drop_table(table, schema=S)
