"""Providers rebuilt from the registry's events (a database indexed under 0001 rebuilds them from
its stored events on the indexer's next pass: the `ledgers_built` mark is missing).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table("providers", sa.Column("address", sa.String(42), primary_key=True),
                    sa.Column("status", sa.Integer, nullable=False),
                    sa.Column("stake", sa.String(40), nullable=False),
                    sa.Column("locked", sa.String(40), nullable=False),
                    sa.Column("unbonding", sa.String(40), nullable=False),
                    sa.Column("reputation", sa.Integer, nullable=False),
                    sa.Column("capabilities", sa.BigInteger, nullable=False),
                    sa.Column("region", sa.String(8), nullable=False),
                    sa.Column("peer_id", sa.String(256), nullable=False),
                    sa.Column("earned", sa.String(40), nullable=False),
                    sa.Column("slashed", sa.String(40), nullable=False))  # fmt: skip
    op.create_index("ix_providers_reputation", "providers", ["reputation"])


def downgrade() -> None:
    op.drop_table("providers")
