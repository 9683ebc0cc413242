"""Failure streaks of workflows (alerts sent once, recovery), and the periodic reports.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

S = "automation"


def upgrade() -> None:
    op.create_table(
        "workflow_health",
        sa.Column("workflow_key", sa.String(63), primary_key=True),
        sa.Column("failure_streak", sa.Integer, nullable=False, server_default="0"),
        sa.Column("alerting", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_run_id", sa.String(250)),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )
    op.create_table(
        "reports",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", JSONB, nullable=False),
        sa.Column("emailed_to", JSONB),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("kind", "period_start", name="uq_reports_kind_period"),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("reports", schema=S)
    op.drop_table("workflow_health", schema=S)
