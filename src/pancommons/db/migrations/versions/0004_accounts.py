"""accounts, roles, portal sessions, API tokens, the audit log; embargo dates people decided

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from pancommons.db.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # What a proposal member sees of the whole catalogue is summarised too (Catalogue.whole_catalogue):
    # linking datasets to a proposal must move the change counter on, as writing a dataset does.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TRIGGER document_datasets_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                   "ON document_datasets FOR EACH STATEMENT EXECUTE FUNCTION catalogue_changed()")
    else:
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER document_datasets_changed_{event.lower()} AFTER {event} ON document_datasets "
                       "BEGIN UPDATE catalogue_changes SET version = version + 1 WHERE id = 1; END")
    # Plain ALTER TABLE ADD COLUMN (SQLite has it): a batch "move and copy" would drop the tables'
    # triggers and expression indexes, and copy a million rows.
    op.add_column("documents", sa.Column("release_decided", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("datasets", sa.Column("embargo_decided", sa.Boolean(), nullable=False, server_default=sa.false()))

    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("display_name", sa.String(500), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("orcid", sa.String(19), nullable=True),
        sa.Column("facility_user_id", sa.String(255), nullable=True),
        sa.Column("issuer", sa.String(1024), nullable=True),
        sa.Column("subject", sa.String(255), nullable=True),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_login_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("username", name="uq_accounts_username"),
        sa.UniqueConstraint("issuer", "subject", name="uq_accounts_issuer_subject"),
    )
    op.create_table(
        "account_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("instrument_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_account_roles_account_id_accounts", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["instrument_id"], ["instruments.id"], name="fk_account_roles_instrument_id_instruments", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_account_roles"),
        sa.UniqueConstraint("account_id", "role", "instrument_id", name="uq_account_roles_account_id_role_instrument_id"),
    )
    op.create_index("ix_account_roles_account_id", "account_roles", ["account_id"])
    op.create_table(
        "portal_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_portal_sessions_account_id_accounts", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_portal_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_portal_sessions_token_hash"),
    )
    op.create_index("ix_portal_sessions_account_id", "portal_sessions", ["account_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("hint", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_api_tokens_account_id_accounts", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )
    op.create_index("ix_api_tokens_account_id", "api_tokens", ["account_id"])
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(1024), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_action", "audit_events", ["action"])


def downgrade() -> None:
    for table in ("audit_events", "api_tokens", "portal_sessions", "account_roles", "accounts"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS document_datasets_changed ON document_datasets")
    else:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS document_datasets_changed_{event}")
    op.drop_column("datasets", "embargo_decided")  # SQLite ≥ 3.35 drops columns in place
    op.drop_column("documents", "release_decided")
