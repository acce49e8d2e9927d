"""The first schema: blocks, events (and the jobs each names), jobs, meta.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table("blocks", sa.Column("number", sa.BigInteger, primary_key=True, autoincrement=False),
                    sa.Column("hash", sa.String(66), nullable=False),
                    sa.Column("timestamp", sa.BigInteger, nullable=False))  # fmt: skip
    op.create_table("events", sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                    sa.Column("block_number", sa.BigInteger, nullable=False),
                    sa.Column("log_index", sa.Integer, nullable=False),
                    sa.Column("tx_hash", sa.String(66), nullable=False),
                    sa.Column("contract", sa.String(32), nullable=False),
                    sa.Column("name", sa.String(64), nullable=False),
                    sa.Column("args", sa.JSON, nullable=False))  # fmt: skip
    op.create_table("event_jobs",
                    sa.Column("event_id", sa.Integer, sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
                    sa.Column("job_id", sa.BigInteger, primary_key=True))  # fmt: skip
    op.create_index("ix_event_jobs_job_id", "event_jobs", ["job_id"])
    op.create_index("events_position", "events", ["block_number", "log_index"], unique=True)
    op.create_index("ix_events_block_number", "events", ["block_number"])
    op.create_index("ix_events_name", "events", ["name"])
    op.create_table("jobs", sa.Column("job_id", sa.BigInteger, primary_key=True, autoincrement=False),
                    sa.Column("requester", sa.String(42), nullable=False),
                    sa.Column("status", sa.String(16), nullable=False),
                    sa.Column("runtime", sa.String(66), nullable=False),
                    sa.Column("replicas", sa.Integer, nullable=False),
                    sa.Column("quorum", sa.Integer, nullable=False),
                    sa.Column("assignees", sa.JSON, nullable=False),
                    sa.Column("submitted_block", sa.BigInteger, nullable=False),
                    sa.Column("ended_block", sa.BigInteger, nullable=True),
                    sa.Column("result_digest", sa.LargeBinary(32), nullable=True),
                    sa.Column("paid", sa.JSON, nullable=False),
                    sa.Column("slashed", sa.JSON, nullable=False))  # fmt: skip
    op.create_index("ix_jobs_requester", "jobs", ["requester"])
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_index("ix_jobs_runtime", "jobs", ["runtime"])
    op.create_table("meta", sa.Column("key", sa.String(64), primary_key=True),
                    sa.Column("value", sa.String(256), nullable=False))  # fmt: skip


def downgrade() -> None:
    for table in ("meta", "jobs", "event_jobs", "events", "blocks"):
        op.drop_table(table)
