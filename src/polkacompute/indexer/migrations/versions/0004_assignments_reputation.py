"""Assignees per job (to list a provider's jobs) and each provider's reputation history.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table("assignments", sa.Column("job_id", sa.BigInteger, primary_key=True, autoincrement=False),
                    sa.Column("index", sa.Integer, primary_key=True, autoincrement=False),
                    sa.Column("worker", sa.String(42), nullable=False),
                    sa.Column("price", sa.String(40), nullable=False))  # fmt: skip
    op.create_index("ix_assignments_worker", "assignments", ["worker"])
    op.create_table("reputation_history", sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("provider", sa.String(42), nullable=False),
                    sa.Column("block_number", sa.BigInteger, nullable=False),
                    sa.Column("job_id", sa.BigInteger, nullable=False),
                    sa.Column("reputation", sa.Integer, nullable=False),
                    sa.Column("reason", sa.String(32), nullable=False))  # fmt: skip
    op.create_index("ix_reputation_history_provider", "reputation_history", ["provider"])
    # Rebuilt from the stored events on the next pass (jobs and ledgers alike).
    op.execute("DELETE FROM meta WHERE key = 'ledgers_built'")
    op.execute("DELETE FROM jobs")


def downgrade() -> None:
    op.drop_table("reputation_history")
    op.drop_table("assignments")
