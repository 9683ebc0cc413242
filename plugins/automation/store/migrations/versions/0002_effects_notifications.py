"""Effect records (idempotent steps), notifications, round-robin positions.

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

S = "automation"


def upgrade() -> None:
    op.create_table(
        "effects",
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("task_id", sa.String(250), nullable=False),
        sa.Column("map_index", sa.Integer, nullable=False, server_default="-1"),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("output", JSONB),
        sa.Column("try_number", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("dag_id", "run_id", "task_id", "map_index"),
        schema=S,
    )
    op.create_index("ix_effects_created_at", "effects", ["created_at"], schema=S)
    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("recipient", sa.String(200)),
        sa.Column("level", sa.String(16), nullable=False, server_default="info"),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("link", sa.Text),
        sa.Column("workflow_key", sa.String(63)),
        sa.Column("dag_id", sa.String(250)),
        sa.Column("run_id", sa.String(250)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        schema=S,
    )
    op.create_index("ix_notifications_recipient", "notifications", ["recipient", "created_at"], schema=S)
    op.create_table(
        "round_robin",
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("position", sa.BigInteger, nullable=False, server_default="0"),
        schema=S,
    )


def downgrade() -> None:
    for table in ("round_robin", "notifications", "effects"):
        op.drop_table(table, schema=S)
