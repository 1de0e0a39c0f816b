"""search at a million datasets: visibility indexes, narrow text statistics, a change counter

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Tables whose rows the whole-catalogue facets and counts are made of (catalogue/totals.py):
# any write to them moves catalogue_changes.version on, so a cached summary knows it is old.
COUNTED = ("datasets", "dataset_techniques", "dataset_samples", "samples", "instruments", "techniques")

_PG_FUNCTION = """CREATE OR REPLACE FUNCTION catalogue_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN UPDATE catalogue_changes SET version = version + 1 WHERE id = 1; RETURN NULL; END $$"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"

    # Visibility (is_public OR embargo passed) and the facility/date filters of the portal, answered from
    # the index alone; the first also finds the few datasets whose embargo passed since the flag was set.
    op.create_index("ix_datasets_is_public_embargo_until", "datasets", ["is_public", "embargo_until"])
    op.create_index(
        "ix_datasets_facility_creation_date", "datasets", ["facility", "creation_date", "is_public", "embargo_until"]
    )

    # What BM25 reads of a record, without its body: length, and the tokens the body holds more than once.
    for table, key, parent in (
        ("dataset_text_stats", "dataset_id", "datasets"),
        ("document_text_stats", "document_id", "documents"),
    ):
        op.create_table(
            table,
            sa.Column(key, sa.Integer(), nullable=False),
            sa.Column("length", sa.Integer(), nullable=False),
            sa.Column("repeats", sa.Text(), nullable=False),
            sa.ForeignKeyConstraint([key], [f"{parent}.id"], name=op.f(f"fk_{table}_{key}_{parent}"), ondelete="CASCADE"),
            sa.PrimaryKeyConstraint(key, name=op.f(f"pk_{table}")),
        )
    _fill_text_stats()

    op.create_table(
        "catalogue_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_changes")),
    )
    op.execute("INSERT INTO catalogue_changes (id, version) VALUES (1, 0)")
    if postgres:
        op.execute(_PG_FUNCTION)
        for table in COUNTED:
            op.execute(
                f"CREATE TRIGGER {table}_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION catalogue_changed()"
            )
    else:  # SQLite has row triggers only: one tiny update per written row
        for table in COUNTED:
            for event in ("INSERT", "UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_changed_{event.lower()} AFTER {event} ON {table} BEGIN "
                    "UPDATE catalogue_changes SET version = version + 1 WHERE id = 1; END"
                )

    if postgres:
        # The planner guessed the rows of one parameter name in a value range from independent
        # columns (390 ms for the wavelength filter at 10⁶ datasets); finer histograms and
        # name/unit dependencies bring its estimate to the truth.
        op.execute("ALTER TABLE parameters ALTER COLUMN si_value SET STATISTICS 1000")
        op.execute("ALTER TABLE parameters ALTER COLUMN name SET STATISTICS 1000")
        op.execute("CREATE STATISTICS IF NOT EXISTS st_parameters_name_unit (dependencies, mcv) ON name, si_unit FROM parameters")


def _fill_text_stats() -> None:
    from pancommons.db.text_search import repeated_tokens

    bind = op.get_bind()
    for source, table, key in (("dataset_text", "dataset_text_stats", "dataset_id"),
                               ("document_text", "document_text_stats", "document_id")):
        rows = bind.execute(sa.text(f"SELECT {key}, body, length FROM {source}"))
        insert = sa.text(f"INSERT INTO {table} ({key}, length, repeats) VALUES (:id, :length, :repeats)")
        batch = []
        for record_id, body, length in rows:
            batch.append({"id": record_id, "length": length, "repeats": repeated_tokens(body)})
            if len(batch) == 5000:
                bind.execute(insert, batch)
                batch = []
        if batch:
            bind.execute(insert, batch)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP STATISTICS IF EXISTS st_parameters_name_unit")
        op.execute("ALTER TABLE parameters ALTER COLUMN si_value SET STATISTICS -1")
        op.execute("ALTER TABLE parameters ALTER COLUMN name SET STATISTICS -1")
        for table in COUNTED:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_changed ON {table}")
        op.execute("DROP FUNCTION IF EXISTS catalogue_changed()")
    else:
        for table in COUNTED:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_changed_{event}")
    op.drop_table("catalogue_changes")
    op.drop_table("document_text_stats")
    op.drop_table("dataset_text_stats")
    op.drop_index("ix_datasets_facility_creation_date", table_name="datasets")
    op.drop_index("ix_datasets_is_public_embargo_until", table_name="datasets")
