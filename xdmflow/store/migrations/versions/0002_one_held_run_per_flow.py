"""one held run per flow: a unique partial index of run_queue over (flow_id) while running/recovering

At most one run of a flow is executed (or recovered) at a time, enforced by the store so that
workers in several processes on one PostgreSQL cannot both claim runs of one flow.

Revision ID: 0002_one_held_run_per_flow
Revises: 0001
Create Date: 2026-12-02 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_one_held_run_per_flow"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HELD = sa.text("status IN ('running', 'recovering')")


def upgrade() -> None:
    op.create_index(
        "uq_run_queue_held_flow",
        "run_queue",
        ["flow_id"],
        unique=True,
        postgresql_where=_HELD,
        sqlite_where=_HELD,
    )


def downgrade() -> None:
    op.drop_index("uq_run_queue_held_flow", table_name="run_queue")
