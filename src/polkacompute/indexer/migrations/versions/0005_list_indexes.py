"""Indexes for the API's job pages: newest first within a status, a requester or a runtime.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_index("jobs_status_id", "jobs", ["status", "job_id"])
    op.create_index("jobs_requester_id", "jobs", ["requester", "job_id"])
    op.create_index("jobs_runtime_id", "jobs", ["runtime", "job_id"])


def downgrade() -> None:
    for name in ("jobs_runtime_id", "jobs_requester_id", "jobs_status_id"):
        op.drop_index(name, "jobs")
