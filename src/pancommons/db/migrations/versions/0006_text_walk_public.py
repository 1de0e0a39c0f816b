"""a one-word text query walks the public datasets by text length; PostgreSQL indexes repeated tokens

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("datasets", sa.Column("text_length", sa.Integer(), nullable=True))
    op.execute("UPDATE datasets SET text_length = "
               "(SELECT length FROM dataset_text_stats WHERE dataset_text_stats.dataset_id = datasets.id)")
    op.create_index("ix_datasets_public_text_length", "datasets", ["text_length", "id"],
                    sqlite_where=sa.text("is_public = 1"), postgresql_where=sa.text("is_public"))
    # SQLite's twin is the FTS5 table of 0005.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_dataset_text_stats_repeats_tsv ON dataset_text_stats "
                   "USING gin (to_tsvector('simple', repeats))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_dataset_text_stats_repeats_tsv")
    op.drop_index("ix_datasets_public_text_length", table_name="datasets")
    op.drop_column("datasets", "text_length")  # SQLite ≥ 3.35; a batch copy would lose the table's triggers
