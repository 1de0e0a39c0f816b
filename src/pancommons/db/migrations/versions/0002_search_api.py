"""search API: text index, PaNET ids, byte-wise sort order, person pids

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PANET_PREFIX = "http://purl.org/pan-science/PaNET/"

# SQLite's full-text index reads the body of the text tables through FTS5
# ("external content"); triggers keep it in step with every write, including
# the deletes a dataset's cascade makes.  detail=none: the API needs to know
# which terms a record holds, never where, and the index is several times smaller.
_FTS5 = (
    """CREATE VIRTUAL TABLE {table}_fts USING fts5(
        body, content='{table}', content_rowid='{key}', tokenize='unicode61 remove_diacritics 2', detail=none)""",
    """CREATE TRIGGER {table}_fts_insert AFTER INSERT ON {table} BEGIN
        INSERT INTO {table}_fts(rowid, body) VALUES (new.{key}, new.body); END""",
    """CREATE TRIGGER {table}_fts_delete AFTER DELETE ON {table} BEGIN
        INSERT INTO {table}_fts({table}_fts, rowid, body) VALUES ('delete', old.{key}, old.body); END""",
    """CREATE TRIGGER {table}_fts_update AFTER UPDATE ON {table} BEGIN
        INSERT INTO {table}_fts({table}_fts, rowid, body) VALUES ('delete', old.{key}, old.body);
        INSERT INTO {table}_fts(rowid, body) VALUES (new.{key}, new.body); END""",
)


def _sortable(column: str, table: str, length: int | None, nullable: bool = False) -> None:
    kind = sa.String(length) if length else sa.Text()
    collated = sa.String(length, collation="C") if length else sa.Text(collation="C")
    op.alter_column(table, column, type_=collated, existing_type=kind, existing_nullable=nullable)


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"

    with op.batch_alter_table("techniques") as batch:
        batch.add_column(sa.Column("panet_id", sa.String(length=255), nullable=True))
        batch.create_index(batch.f("ix_techniques_panet_id"), ["panet_id"], unique=False)
    op.execute(
        sa.text("UPDATE techniques SET panet_id = pid WHERE pid LIKE :prefix").bindparams(prefix=PANET_PREFIX + "%")
    )
    with op.batch_alter_table("persons") as batch:
        batch.add_column(sa.Column("pid", sa.String(length=255), nullable=True))
        batch.create_unique_constraint(batch.f("uq_persons_pid"), ["pid"])

    if postgres:
        for table, column, length in (
            ("datasets", "pid", 255), ("datasets", "title", None),
            ("documents", "pid", 255), ("documents", "title", None),
            ("instruments", "pid", 255), ("instruments", "name", 255),
        ):
            _sortable(column, table, length)
    op.create_index("ix_datasets_title_order", "datasets", [sa.text("lower(title)"), "pid"], unique=False)
    op.create_index("ix_documents_title_order", "documents", [sa.text("lower(title)"), "pid"], unique=False)

    for table, key, parent in (("dataset_text", "dataset_id", "datasets"), ("document_text", "document_id", "documents")):
        op.create_table(
            table,
            sa.Column(key, sa.Integer(), nullable=False),
            sa.Column("body", sa.Text(), nullable=False),
            sa.Column("length", sa.Integer(), nullable=False),
            sa.ForeignKeyConstraint([key], [f"{parent}.id"], name=op.f(f"fk_{table}_{key}_{parent}"), ondelete="CASCADE"),
            sa.PrimaryKeyConstraint(key, name=op.f(f"pk_{table}")),
        )
        if postgres:
            op.execute(f"CREATE INDEX ix_{table}_tsv ON {table} USING gin (to_tsvector('simple', body))")
        else:
            for statement in _FTS5:
                op.execute(statement.format(table=table, key=key))


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in ("document_text", "dataset_text"):
        if not postgres:
            op.execute(f"DROP TABLE IF EXISTS {table}_fts")
        op.drop_table(table)
    op.drop_index("ix_documents_title_order", table_name="documents")
    op.drop_index("ix_datasets_title_order", table_name="datasets")
    with op.batch_alter_table("persons") as batch:
        batch.drop_constraint(batch.f("uq_persons_pid"), type_="unique")
        batch.drop_column("pid")
    with op.batch_alter_table("techniques") as batch:
        batch.drop_index(batch.f("ix_techniques_panet_id"))
        batch.drop_column("panet_id")
