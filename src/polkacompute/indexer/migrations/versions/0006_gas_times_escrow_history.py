"""Gas and times per job, each transaction's gas, and the escrow's held budgets block by block (the
dashboard's time series).

Gas comes from receipts, which earlier revisions never read: the index is emptied and rebuilt from
the chain on the next pass.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table("transactions", sa.Column("tx_hash", sa.String(66), primary_key=True),
                    sa.Column("block_number", sa.BigInteger, nullable=False),
                    sa.Column("gas_used", sa.BigInteger, nullable=False),
                    sa.Column("gas_price", sa.String(40), nullable=False))  # fmt: skip
    op.create_index("ix_transactions_block_number", "transactions", ["block_number"])
    op.create_table("escrow_history", sa.Column("block_number", sa.BigInteger, primary_key=True, autoincrement=False),
                    sa.Column("token", sa.String(42), primary_key=True),
                    sa.Column("amount", sa.String(80), nullable=False))  # fmt: skip
    with op.batch_alter_table("jobs") as jobs:
        jobs.add_column(sa.Column("submitted_time", sa.BigInteger, nullable=True))
        jobs.add_column(sa.Column("ended_time", sa.BigInteger, nullable=True))
        jobs.add_column(sa.Column("gas_used", sa.BigInteger, nullable=True))
    op.create_index("jobs_submitted_time", "jobs", ["submitted_time"])
    op.create_index("jobs_ended_time", "jobs", ["ended_time"])
    for table in ("event_jobs", "events", "blocks", "jobs", "assignments", "reputation_history", "providers",
                  "balances", "escrowed"):  # fmt: skip
        op.execute(f"DELETE FROM {table}")  # noqa: S608 (fixed table names)
    op.execute("DELETE FROM meta")


def downgrade() -> None:
    op.drop_index("jobs_ended_time", "jobs")
    op.drop_index("jobs_submitted_time", "jobs")
    with op.batch_alter_table("jobs") as jobs:
        for column in ("gas_used", "ended_time", "submitted_time"):
            jobs.drop_column(column)
    op.drop_table("escrow_history")
    op.drop_table("transactions")
