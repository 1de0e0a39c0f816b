"""initial catalogue schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 23:07:17.365684
"""

import sqlalchemy as sa
from alembic import op

import pancommons.db.tables

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('affiliations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('affiliation_key', sa.String(length=600), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('city', sa.String(length=255), nullable=True),
    sa.Column('country', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_affiliations')),
    sa.UniqueConstraint('affiliation_key', name=op.f('uq_affiliations_affiliation_key'))
    )
    op.create_table('documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pid', sa.String(length=255), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('proposal_number', sa.String(length=255), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('doi', sa.String(length=255), nullable=True),
    sa.Column('facility', sa.String(length=255), nullable=True),
    sa.Column('start_date', pancommons.db.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_date', pancommons.db.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('release_date', pancommons.db.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('license', sa.String(length=64), nullable=True),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('created_at', pancommons.db.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', pancommons.db.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_documents')),
    sa.UniqueConstraint('pid', name=op.f('uq_documents_pid')),
    sa.UniqueConstraint('proposal_number', name=op.f('uq_documents_proposal_number'))
    )
    op.create_table('files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('data_root', sa.String(length=1024), nullable=False),
    sa.Column('path', sa.String(length=2048), nullable=False),
    sa.Column('name', sa.String(length=512), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('mtime_ns', sa.BigInteger(), nullable=False),
    sa.Column('checksum', sa.String(length=128), nullable=False),
    sa.Column('checksum_algorithm', sa.String(length=32), nullable=False),
    sa.Column('storage_tier', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('arrays', sa.JSON(), nullable=False),
    sa.Column('arrays_total', sa.Integer(), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('last_seen_run', sa.Integer(), nullable=True),
    sa.Column('created_at', pancommons.db.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', pancommons.db.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_files')),
    sa.UniqueConstraint('data_root', 'path', name=op.f('uq_files_data_root_path'))
    )
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_files_checksum'), ['checksum'], unique=False)

    op.create_table('ingest_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('started_at', pancommons.db.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', pancommons.db.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paths', sa.JSON(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ingest_runs'))
    )
    op.create_table('instruments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pid', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('facility', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instruments')),
    sa.UniqueConstraint('facility', 'name', name=op.f('uq_instruments_facility_name')),
    sa.UniqueConstraint('pid', name=op.f('uq_instruments_pid'))
    )
    op.create_table('persons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('full_name', sa.String(length=500), nullable=False),
    sa.Column('first_name', sa.String(length=255), nullable=True),
    sa.Column('last_name', sa.String(length=255), nullable=True),
    sa.Column('orcid', sa.String(length=19), nullable=True),
    sa.Column('researcher_id', sa.String(length=255), nullable=True),
    sa.Column('facility_user_id', sa.String(length=255), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_persons'))
    )
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_persons_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_persons_facility_user_id'), ['facility_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_persons_orcid'), ['orcid'], unique=False)

    op.create_table('samples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pid', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=1024), nullable=False),
    sa.Column('chemical_formula', sa.String(length=1024), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_samples')),
    sa.UniqueConstraint('pid', name=op.f('uq_samples_pid'))
    )
    op.create_table('techniques',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pid', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_techniques')),
    sa.UniqueConstraint('pid', name=op.f('uq_techniques_pid'))
    )
    op.create_table('datasets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('pid', sa.String(length=255), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('is_public', sa.Boolean(), nullable=False),
    sa.Column('creation_date', pancommons.db.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_date', pancommons.db.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('facility', sa.String(length=255), nullable=True),
    sa.Column('instrument_id', sa.Integer(), nullable=True),
    sa.Column('proposal_number', sa.String(length=255), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('license', sa.String(length=64), nullable=True),
    sa.Column('embargo_until', pancommons.db.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('definition', sa.String(length=64), nullable=True),
    sa.Column('probe', sa.String(length=32), nullable=True),
    sa.Column('default_plot', sa.String(length=1024), nullable=True),
    sa.Column('time_source', sa.String(length=64), nullable=True),
    sa.Column('time_raw', sa.String(length=128), nullable=True),
    sa.Column('source_file_id', sa.Integer(), nullable=True),
    sa.Column('entry_path', sa.String(length=1024), nullable=True),
    sa.Column('created_at', pancommons.db.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', pancommons.db.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instrument_id'], ['instruments.id'], name=op.f('fk_datasets_instrument_id_instruments'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_file_id'], ['files.id'], name=op.f('fk_datasets_source_file_id_files'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_datasets')),
    sa.UniqueConstraint('pid', name=op.f('uq_datasets_pid'))
    )
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_datasets_facility'), ['facility'], unique=False)
        batch_op.create_index(batch_op.f('ix_datasets_instrument_id'), ['instrument_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_datasets_proposal_number'), ['proposal_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_datasets_source_file_id'), ['source_file_id'], unique=False)

    op.create_table('person_identifiers',
    sa.Column('key', sa.String(length=600), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_person_identifiers_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_person_identifiers'))
    )
    with op.batch_alter_table('person_identifiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_person_identifiers_person_id'), ['person_id'], unique=False)

    op.create_table('dataset_derivations',
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('source_path', sa.String(length=2048), nullable=False),
    sa.Column('source_entry', sa.String(length=1024), nullable=True),
    sa.Column('source_dataset_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_dataset_derivations_dataset_id_datasets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['source_dataset_id'], ['datasets.id'], name=op.f('fk_dataset_derivations_source_dataset_id_datasets'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('dataset_id', 'source_path', name=op.f('pk_dataset_derivations'))
    )
    with op.batch_alter_table('dataset_derivations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dataset_derivations_source_dataset_id'), ['source_dataset_id'], unique=False)

    op.create_table('dataset_files',
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_dataset_files_dataset_id_datasets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['file_id'], ['files.id'], name=op.f('fk_dataset_files_file_id_files'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dataset_id', 'file_id', name=op.f('pk_dataset_files'))
    )
    with op.batch_alter_table('dataset_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dataset_files_file_id'), ['file_id'], unique=False)

    op.create_table('dataset_samples',
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('sample_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_dataset_samples_dataset_id_datasets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sample_id'], ['samples.id'], name=op.f('fk_dataset_samples_sample_id_samples'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dataset_id', 'sample_id', name=op.f('pk_dataset_samples'))
    )
    with op.batch_alter_table('dataset_samples', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dataset_samples_sample_id'), ['sample_id'], unique=False)

    op.create_table('dataset_techniques',
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.Column('technique_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_dataset_techniques_dataset_id_datasets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['technique_id'], ['techniques.id'], name=op.f('fk_dataset_techniques_technique_id_techniques'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dataset_id', 'technique_id', name=op.f('pk_dataset_techniques'))
    )
    with op.batch_alter_table('dataset_techniques', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dataset_techniques_technique_id'), ['technique_id'], unique=False)

    op.create_table('document_datasets',
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_document_datasets_dataset_id_datasets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_document_datasets_document_id_documents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('document_id', 'dataset_id', name=op.f('pk_document_datasets'))
    )
    with op.batch_alter_table('document_datasets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_datasets_dataset_id'), ['dataset_id'], unique=False)

    op.create_table('members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('dataset_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('affiliation_id', sa.Integer(), nullable=True),
    sa.Column('role', sa.String(length=64), nullable=True),
    sa.ForeignKeyConstraint(['affiliation_id'], ['affiliations.id'], name=op.f('fk_members_affiliation_id_affiliations'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_members_dataset_id_datasets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_members_document_id_documents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['person_id'], ['persons.id'], name=op.f('fk_members_person_id_persons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members'))
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_members_dataset_id'), ['dataset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_members_document_id'), ['document_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_members_person_id'), ['person_id'], unique=False)

    op.create_table('parameters',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_id', sa.Integer(), nullable=True),
    sa.Column('document_id', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('value_number', sa.Float(), nullable=True),
    sa.Column('value_string', sa.Text(), nullable=True),
    sa.Column('unit', sa.String(length=64), nullable=True),
    sa.Column('si_value', sa.Float(), nullable=True),
    sa.Column('si_unit', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=1024), nullable=True),
    sa.ForeignKeyConstraint(['dataset_id'], ['datasets.id'], name=op.f('fk_parameters_dataset_id_datasets'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['document_id'], ['documents.id'], name=op.f('fk_parameters_document_id_documents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parameters'))
    )
    with op.batch_alter_table('parameters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_parameters_dataset_id'), ['dataset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_parameters_document_id'), ['document_id'], unique=False)
        batch_op.create_index('ix_parameters_name_si_value', ['name', 'si_value'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('parameters', schema=None) as batch_op:
        batch_op.drop_index('ix_parameters_name_si_value')
        batch_op.drop_index(batch_op.f('ix_parameters_document_id'))
        batch_op.drop_index(batch_op.f('ix_parameters_dataset_id'))

    op.drop_table('parameters')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_members_person_id'))
        batch_op.drop_index(batch_op.f('ix_members_document_id'))
        batch_op.drop_index(batch_op.f('ix_members_dataset_id'))

    op.drop_table('members')
    with op.batch_alter_table('document_datasets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_document_datasets_dataset_id'))

    op.drop_table('document_datasets')
    with op.batch_alter_table('dataset_techniques', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dataset_techniques_technique_id'))

    op.drop_table('dataset_techniques')
    with op.batch_alter_table('dataset_samples', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dataset_samples_sample_id'))

    op.drop_table('dataset_samples')
    with op.batch_alter_table('dataset_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dataset_files_file_id'))

    op.drop_table('dataset_files')
    with op.batch_alter_table('dataset_derivations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dataset_derivations_source_dataset_id'))

    op.drop_table('dataset_derivations')
    with op.batch_alter_table('person_identifiers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_identifiers_person_id'))

    op.drop_table('person_identifiers')
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_datasets_source_file_id'))
        batch_op.drop_index(batch_op.f('ix_datasets_proposal_number'))
        batch_op.drop_index(batch_op.f('ix_datasets_instrument_id'))
        batch_op.drop_index(batch_op.f('ix_datasets_facility'))

    op.drop_table('datasets')
    op.drop_table('techniques')
    op.drop_table('samples')
    with op.batch_alter_table('persons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_persons_orcid'))
        batch_op.drop_index(batch_op.f('ix_persons_facility_user_id'))
        batch_op.drop_index(batch_op.f('ix_persons_email'))

    op.drop_table('persons')
    op.drop_table('instruments')
    op.drop_table('ingest_runs')
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_files_checksum'))

    op.drop_table('files')
    op.drop_table('documents')
    op.drop_table('affiliations')
