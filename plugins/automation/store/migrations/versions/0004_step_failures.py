"""Why step attempts failed (Airflow keeps no error message on a task instance).

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

S = "automation"


def upgrade() -> None:
    op.create_table(
        "step_failures",
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("task_id", sa.String(250), nullable=False),
        sa.Column("map_index", sa.Integer, nullable=False, server_default="-1"),
        sa.Column("try_number", sa.Integer, nullable=False),
        sa.Column("error_class", sa.String(200), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("will_retry", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("dag_id", "run_id", "task_id", "map_index", "try_number"),
        schema=S,
    )
    op.create_index("ix_step_failures_dag_failed_at", "step_failures", ["dag_id", "failed_at"], schema=S)


def downgrade() -> None:
    op.drop_table("step_failures", schema=S)
