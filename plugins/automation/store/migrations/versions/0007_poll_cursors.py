"""Poll triggers: where each workflow's next poll starts (the greatest cursor value seen).

Revision ID: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

S = "automation"


def upgrade() -> None:
    op.create_table(
        "poll_cursors",
        sa.Column("workflow_key", sa.String(63), primary_key=True),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("cursor", JSONB, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("poll_cursors", schema=S)
