"""The escrow's ledger rebuilt from its events: withdrawable balances and budgets held, per token.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table("balances", sa.Column("token", sa.String(42), primary_key=True),
                    sa.Column("owner", sa.String(42), primary_key=True),
                    sa.Column("amount", sa.String(80), nullable=False))  # fmt: skip
    op.create_table("escrowed", sa.Column("token", sa.String(42), primary_key=True),
                    sa.Column("amount", sa.String(80), nullable=False))  # fmt: skip


def downgrade() -> None:
    op.drop_table("escrowed")
    op.drop_table("balances")
