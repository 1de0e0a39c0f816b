"""a one-word text query ranks without scoring every holder: records by length, repeated tokens indexed (SQLite)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The records holding a token more than once (``repeats`` lists each occurrence after the first):
# SQLite reads them through FTS5 over the stats table, kept in step by triggers like the body's index.
_FTS5 = (
    """CREATE VIRTUAL TABLE dataset_text_stats_fts USING fts5(
        repeats, content='dataset_text_stats', content_rowid='dataset_id',
        tokenize='unicode61 remove_diacritics 2', detail=none)""",
    """CREATE TRIGGER dataset_text_stats_fts_insert AFTER INSERT ON dataset_text_stats BEGIN
        INSERT INTO dataset_text_stats_fts(rowid, repeats) VALUES (new.dataset_id, new.repeats); END""",
    """CREATE TRIGGER dataset_text_stats_fts_delete AFTER DELETE ON dataset_text_stats BEGIN
        INSERT INTO dataset_text_stats_fts(dataset_text_stats_fts, rowid, repeats)
        VALUES ('delete', old.dataset_id, old.repeats); END""",
    """CREATE TRIGGER dataset_text_stats_fts_update AFTER UPDATE ON dataset_text_stats BEGIN
        INSERT INTO dataset_text_stats_fts(dataset_text_stats_fts, rowid, repeats)
        VALUES ('delete', old.dataset_id, old.repeats);
        INSERT INTO dataset_text_stats_fts(rowid, repeats) VALUES (new.dataset_id, new.repeats); END""",
)


def upgrade() -> None:
    # Declared in tables.py, so on both backends; only SQLite's shortcut reads it (db/text_search.py).
    op.create_index("ix_dataset_text_stats_length", "dataset_text_stats", ["length", "dataset_id"])
    if op.get_bind().dialect.name == "sqlite":
        for statement in _FTS5:
            op.execute(statement)
        op.execute("INSERT INTO dataset_text_stats_fts(dataset_text_stats_fts) VALUES ('rebuild')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS dataset_text_stats_fts_{event}")
        op.execute("DROP TABLE IF EXISTS dataset_text_stats_fts")
    op.drop_index("ix_dataset_text_stats_length", table_name="dataset_text_stats")
