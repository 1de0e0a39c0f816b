"""The catalogue's tables: the PaNOSC entities plus what a facility needs.

PaNOSC names the entities (Dataset, Document, Instrument, Technique, Sample,
Parameter, File, Person, Affiliation, Member); the facility adds the data
root and checksum of every file, raw/processed datasets and their
derivation, proposal numbers, licences and embargo dates.  Columns that
ingestion owns are rewritten when a file changes; everything else (access
decisions, DOIs, links made by people) is left alone, so a dataset keeps its
row — and its id — for life.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql import column as text_column
from sqlalchemy.sql import func

from pancommons.model import StorageTier


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetimes stored in UTC on every backend.

    SQLite has no zone-aware type; storing naive UTC and re-attaching the
    zone on the way out gives the same answers as PostgreSQL's timestamptz.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the catalogue stores zone-aware times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# Titles, names and pids sort byte-wise on both backends ("C" collation on
# PostgreSQL, SQLite's default BINARY): the API orders by them, a federation
# merges the orders of many nodes, and both need one agreed order.
SortableText = Text().with_variant(Text(collation="C"), "postgresql")
SortableString = String(255).with_variant(String(255, collation="C"), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Instrument(Base):
    __tablename__ = "instruments"
    __table_args__ = (UniqueConstraint("facility", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pid: Mapped[str] = mapped_column(SortableString, unique=True)
    name: Mapped[str] = mapped_column(SortableString)
    facility: Mapped[str] = mapped_column(String(255), default="")


class Technique(Base):
    __tablename__ = "techniques"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pid: Mapped[str] = mapped_column(String(255), unique=True)  # the PaNET IRI for techniques ingestion found
    name: Mapped[str] = mapped_column(String(255))
    # The PaNET term this technique is, when known: deep technique filters
    # match it and every term the ontology classifies under the one asked for.
    panet_id: Mapped[str | None] = mapped_column(String(255), index=True)


class Affiliation(Base):
    __tablename__ = "affiliations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    affiliation_key: Mapped[str] = mapped_column(String(600), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    address: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(255))


class Person(Base):
    """Someone named by a proposal or a file.

    The e-mail is personal data: kept for recognising members, never shown.
    """

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The id another catalogue gave this person (import-panosc); the API shows it, else the row id.
    pid: Mapped[str | None] = mapped_column(String(255), unique=True)
    full_name: Mapped[str] = mapped_column(String(500))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    orcid: Mapped[str | None] = mapped_column(String(19), index=True)
    researcher_id: Mapped[str | None] = mapped_column(String(255))
    facility_user_id: Mapped[str | None] = mapped_column(String(255), index=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)


class PersonIdentifier(Base):
    """Every identifier a person is known by, so a file and a proposal naming the same
    person by different ones meet in one row: ``orcid:…``, ``user:<facility>:<id>``,
    ``email-sha256:…`` (a hash: the address itself lives only in persons.email), or,
    for someone named by nothing else, ``name:…``."""

    __tablename__ = "person_identifiers"

    key: Mapped[str] = mapped_column(String(600), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)


class Document(Base):
    """A proposal (from the user office) or a publication."""

    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_title_order", func.lower(text_column("title")), "pid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pid: Mapped[str] = mapped_column(SortableString, unique=True)
    type: Mapped[str] = mapped_column(String(64), default="proposal")
    proposal_number: Mapped[str | None] = mapped_column(String(255), unique=True)
    title: Mapped[str] = mapped_column(SortableText)
    summary: Mapped[str | None] = mapped_column(Text)
    doi: Mapped[str | None] = mapped_column(String(255))
    facility: Mapped[str | None] = mapped_column(String(255))
    start_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    release_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when a person decided the release date (early release, a data manager's date): the
    # policy's date (end + embargo period) and a user-office re-import no longer move it.
    release_decided: Mapped[bool] = mapped_column(Boolean, default=False)
    license: Mapped[str | None] = mapped_column(String(64))
    keywords: Mapped[list] = mapped_column(JSON, default=list)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DataFile(Base):
    """A file on the facility's storage, by its path relative to a data root."""

    __tablename__ = "files"
    __table_args__ = (UniqueConstraint("data_root", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    data_root: Mapped[str] = mapped_column(String(1024))
    path: Mapped[str] = mapped_column(String(2048))
    name: Mapped[str] = mapped_column(String(512))
    size: Mapped[int] = mapped_column(BigInteger)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    checksum: Mapped[str] = mapped_column(String(128), index=True)  # finds a moved file by its bytes
    checksum_algorithm: Mapped[str] = mapped_column(String(32))
    storage_tier: Mapped[str] = mapped_column(String(16), default=StorageTier.DISK.value)
    state: Mapped[str] = mapped_column(String(16), default="present")  # present | missing
    filters: Mapped[list] = mapped_column(JSON, default=list)
    arrays: Mapped[list] = mapped_column(JSON, default=list)  # per HDF5 array: path, shape, dtype, chunks, filters
    arrays_total: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[list] = mapped_column(JSON, default=list)
    last_seen_run: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (
        Index("ix_datasets_title_order", func.lower(text_column("title")), "pid"),
        # Visibility from the index alone, and the datasets whose embargo passed before their flag was set.
        Index("ix_datasets_is_public_embargo_until", "is_public", "embargo_until"),
        # The portal's facility and date filters, visibility included: a filtered count reads no row.
        Index("ix_datasets_facility_creation_date", "facility", "creation_date", "is_public", "embargo_until"),
        # The public datasets by the length of their text: a one-word query walks them from the shortest
        # (db/text_search.py top_candidates) without meeting the embargoed ones.
        Index("ix_datasets_public_text_length", "text_length", "id",
              sqlite_where=text("is_public = 1"), postgresql_where=text("is_public")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pid: Mapped[str] = mapped_column(SortableString, unique=True)
    title: Mapped[str] = mapped_column(SortableText)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    creation_date: Mapped[datetime] = mapped_column(UTCDateTime)  # start of acquisition
    end_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    size: Mapped[int | None] = mapped_column(BigInteger)
    facility: Mapped[str | None] = mapped_column(String(255), index=True)
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("instruments.id", ondelete="SET NULL"), index=True)
    proposal_number: Mapped[str | None] = mapped_column(String(255), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="raw")  # raw | processed
    license: Mapped[str | None] = mapped_column(String(64))
    embargo_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when a person decided this dataset's embargo date; ingestion and its proposal then leave it alone.
    embargo_decided: Mapped[bool] = mapped_column(Boolean, default=False)
    definition: Mapped[str | None] = mapped_column(String(64))
    probe: Mapped[str | None] = mapped_column(String(32))
    default_plot: Mapped[str | None] = mapped_column(String(1024))
    time_source: Mapped[str | None] = mapped_column(String(64))
    time_raw: Mapped[str | None] = mapped_column(String(128))
    # Set for datasets that ingestion made from an NXentry; NULL for imported ones.
    source_file_id: Mapped[int | None] = mapped_column(ForeignKey("files.id", ondelete="SET NULL"), index=True)
    entry_path: Mapped[str | None] = mapped_column(String(1024))
    # Tokens in the dataset's text (DatasetText.length), written with it by catalogue/text_index.py:
    # here, an index can order the public datasets by it.
    text_length: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Sample(Base):
    __tablename__ = "samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pid: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(1024))
    chemical_formula: Mapped[str | None] = mapped_column(String(1024))
    description: Mapped[str | None] = mapped_column(Text)


class Parameter(Base):
    """A named value of a dataset or a document, as written and in SI."""

    __tablename__ = "parameters"
    __table_args__ = (Index("ix_parameters_name_si_value", "name", "si_value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    value_number: Mapped[float | None] = mapped_column(Float)
    value_string: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(String(64))
    si_value: Mapped[float | None] = mapped_column(Float)
    si_unit: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(1024))  # HDF5 path it was read from


class Member(Base):
    """A person's role in a proposal (document) — or, as written in a file, in a dataset."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    affiliation_id: Mapped[int | None] = mapped_column(ForeignKey("affiliations.id", ondelete="SET NULL"))
    role: Mapped[str | None] = mapped_column(String(64))


class DatasetFile(Base):
    __tablename__ = "dataset_files"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), primary_key=True, index=True)


class DatasetTechnique(Base):
    __tablename__ = "dataset_techniques"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    technique_id: Mapped[int] = mapped_column(
        ForeignKey("techniques.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class DatasetSample(Base):
    __tablename__ = "dataset_samples"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), primary_key=True, index=True)


class DocumentDataset(Base):
    __tablename__ = "document_datasets"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True, index=True)


class DatasetDerivation(Base):
    """A processed dataset's source, as the file named it and, once found, as a dataset."""

    __tablename__ = "dataset_derivations"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    source_path: Mapped[str] = mapped_column(String(2048), primary_key=True)  # relative to the data root
    source_entry: Mapped[str | None] = mapped_column(String(1024))
    source_dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="SET NULL"), index=True
    )


class IngestRun(Base):
    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paths: Mapped[list] = mapped_column(JSON, default=list)
    summary: Mapped[dict] = mapped_column(JSON, default=dict)  # counts and the first failures


def _tsvector_index(name: str, column: str = "body") -> Index:
    # PostgreSQL's full-text index over a column of tokens.  The tokens are already
    # normalised, so the 'simple' configuration (lower-casing, no stemming)
    # keeps them as written.  SQLite's FTS5 twin is made by the migration.
    return Index(name, text(f"to_tsvector('simple', {column})"), postgresql_using="gin").ddl_if(dialect="postgresql")


class DatasetText(Base):
    """The words a dataset is found by, as the text index reads them.

    ``body`` holds the tokens of the dataset's title, proposal, samples,
    techniques, instrument, parameters and members (``query.text.tokens``),
    each wrapped in spaces so term frequencies can be counted by string
    search; SQLite indexes it with FTS5, PostgreSQL with a GIN tsvector.
    """

    __tablename__ = "dataset_text"
    __table_args__ = (_tsvector_index("ix_dataset_text_tsv"),)

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    length: Mapped[int] = mapped_column(Integer)  # tokens, for BM25's length normalisation


class DocumentText(Base):
    """The words a document (proposal, publication) is found by; see DatasetText."""

    __tablename__ = "document_text"
    __table_args__ = (_tsvector_index("ix_document_text_tsv"),)

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    body: Mapped[str] = mapped_column(Text)
    length: Mapped[int] = mapped_column(Integer)



class DatasetTextStats(Base):
    """What BM25 reads of a dataset's text, without the body: a broad query scores 10⁵ records,
    and reading their bodies was most of its time.

    ``repeats`` holds, in the body's form (each token wrapped in spaces), every
    occurrence of a token after its first: a record the index says holds a
    term holds it 1 + (occurrences in ``repeats``) times.
    """

    __tablename__ = "dataset_text_stats"
    # Records by length: a one-word query takes the shortest matches first, and the records
    # repeating the word, from the repeats' index (db/text_search.py top_candidates).
    __table_args__ = (
        Index("ix_dataset_text_stats_length", "length", "dataset_id"),
        _tsvector_index("ix_dataset_text_stats_repeats_tsv", "repeats"),
    )

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    length: Mapped[int] = mapped_column(Integer)
    repeats: Mapped[str] = mapped_column(Text)


class DocumentTextStats(Base):
    """A document's DatasetTextStats."""

    __tablename__ = "document_text_stats"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    length: Mapped[int] = mapped_column(Integer)
    repeats: Mapped[str] = mapped_column(Text)


class CatalogueChanges(Base):
    """One row whose version database triggers move on at every write to what the whole-catalogue
    facets and counts are made of (migration 0003): the API's summary of them knows when it is old."""

    __tablename__ = "catalogue_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


# The account tables share this metadata (one schema, one migration history).
from pancommons.db import account_tables as _account_tables  # noqa: E402,F401
