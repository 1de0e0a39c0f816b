"""Full-text matching and BM25 scores in SQL, on SQLite (FTS5) and PostgreSQL (GIN tsvector).

The index answers "which records hold this term"; the score is BM25
computed in SQL from the record's narrow statistics row (its length and the
tokens its body repeats, see ``DatasetTextStats``), with the corpus
statistics the caller hands in — so a federation can hand in global ones
and every node gives the same record the same score.

score = Σ idf(t)·tf·(k1+1) / (tf + k1·(1 − b + b·len/avglen))  /  Σ idf(t)·(k1+1)

The divisor is the score of an ideal record (infinite tf, zero length), so
scores lie in (0, 1) for any record holding a term and do not depend on
which other records a page holds.
"""

from __future__ import annotations

import re

from sqlalchemy import (
    Float,
    FromClause,
    bindparam,
    case,
    cast,
    column,
    func,
    literal,
    or_,
    select,
    table,
    text,
    true,
    union,
    union_all,
)

from pancommons.db import tables as t
from pancommons.query.text import CorpusStatistics

K1 = 1.2
B = 0.75
# When a one-word query takes the shortcut of top_candidates:
SHORTCUT_HOLDERS = 5_000  # below, scoring every record holding the word is quick
MAX_WALK = 20_000  # rows the walk in length order may expect to pass
MAX_REPEATING = 2_000  # records holding the word more than once, all scored; more, and the shortcut saves little

TEXT_TABLES = {"Dataset": (t.DatasetText.__table__, "dataset_id"), "Document": (t.DocumentText.__table__, "document_id")}
STATS_TABLES = {"Dataset": t.DatasetTextStats.__table__, "Document": t.DocumentTextStats.__table__}


def matching_ids(dialect: str, entity: str, terms: list[str]):
    """SELECT the ids of records holding any of ``terms`` (terms are tokens: letters and digits only)."""
    text_table, key = TEXT_TABLES[entity]
    if dialect == "sqlite":
        fts = table(f"{text_table.name}_fts", column("rowid"))
        expression = " OR ".join(f'"{term}"' for term in terms)
        match = text(f"{text_table.name}_fts MATCH :fts_terms")
        # unique: scored() puts one of these per term in a statement
        return select(fts.c.rowid).where(match.bindparams(bindparam("fts_terms", expression, unique=True)))
    expression = " | ".join(f"'{term}'" for term in terms)
    return select(text_table.c[key]).where(
        text("to_tsvector('simple', body) @@ to_tsquery('simple', :ts_terms)").bindparams(
            bindparam("ts_terms", expression, unique=True)
        )
    )


def repeated_tokens(body: str) -> str:
    """Every occurrence of a token after its first, in the body's form (each token wrapped in spaces)."""
    seen: set[str] = set()
    repeats = []
    for word in body.split():
        if word in seen:
            repeats.append(f" {word} ")
        seen.add(word)
    return "".join(repeats)


def scored(dialect: str, entity: str, terms: list[str], stats: CorpusStatistics, within=None) -> FromClause:
    """(id, score) of every record holding a term (of the ids ``within``, when given: records
    that hold the term, as ``top_candidates`` finds them).

    One branch per term: the records the index says hold it, scored from their
    statistics rows (tf = 1 + its repeats); a record holding several terms sums
    its branches.  No body is read: for 10 % of a million datasets that was
    most of the query's time.
    """
    stats_table = STATS_TABLES[entity]
    key = stats_table.c[TEXT_TABLES[entity][1]]
    average = max(stats.average_length, 1.0)
    norm = literal(K1) * (literal(1.0 - B) + literal(B) * cast(stats_table.c.length, Float) / literal(average))
    ideal = sum(stats.idf(term) * (K1 + 1) for term in terms)
    branches = []
    repeats = stats_table.c.repeats
    position = func.instr if dialect == "sqlite" else func.strpos
    for term in terms:
        needle = f" {term} "
        # Most records hold a term once: a search for it is cheaper than the replace() that counts it.
        frequency = case(
            (position(repeats, needle) == 0, literal(1.0)),
            else_=literal(1.0) + cast((func.length(repeats) - func.length(func.replace(repeats, needle, ""))) / len(needle), Float),
        )
        part = literal(stats.idf(term) * (K1 + 1)) * frequency / (frequency + norm)
        holding = within if within is not None else matching_ids(dialect, entity, [term])
        branches.append(select(key.label("id"), part.label("part")).where(key.in_(holding)))
    if len(branches) == 1:
        only = branches[0].subquery()
        scores = select(only.c.id, (only.c.part / literal(ideal)).label("score"))
    else:
        every = union_all(*branches).subquery()
        scores = select(every.c.id, (func.sum(every.c.part) / literal(ideal)).label("score")).group_by(every.c.id)
    if dialect == "postgresql":
        # Matched first, then ranked: left to itself PostgreSQL walks every record in score order
        # and tests each against the text index (0.1 → 0.86 s for 10 % of 10⁵ datasets).
        return scores.cte("scored").prefix_with("MATERIALIZED")
    return scores.subquery("scored")


def top_candidates(connection, dialect: str, term: str, stats: CorpusStatistics, visibility, wanted: int):
    """The ids of the few datasets among which the ``wanted`` best-scored datasets the caller sees
    (``visibility``, catalogue/policy.py) for the one-word query ``term`` surely are; None when no
    such shortcut is worth it (score every holder).

    For one term, BM25 depends on the record's length and on how often it holds the term.  Among
    records holding it once, the score falls as the length grows; so the best are among the
    visible holders no longer than the ``wanted``-th shortest (all of them, ties included), plus
    the records holding the term more than once, which the repeats index names.  Found in length
    order from an index, that is a few hundred rows, where scoring every holder of a broad word
    reads 10⁵ (0.4 s on SQLite, 0.5 s on PostgreSQL, at a million datasets).

    The walk is over the public datasets (by their flag, which every caller sees), so embargoed
    ones, which may be the shortest of all, are never passed; their ``wanted``-th is no shorter
    than that of all the caller sees, and what the caller sees beyond the flag (a member's
    proposals, embargoes passed since the flag was set: few) is added whole.  Staff see every
    record: their walk is over all of them.

    A word many records repeat gains nothing: None.  Nor does a rare word: its few holders are
    scored at once, while the walk would pass about ``wanted`` / (its share of the records) rows
    before finding enough.
    """
    holders = stats.frequencies.get(term, 0)
    if holders < SHORTCUT_HOLDERS or holders * MAX_WALK < wanted * stats.records:
        return None
    if dialect == "postgresql" and not _PLAIN_WORD.fullmatch(term):
        return None  # the walk tests a body by string search, which is the text index's match only for such words
    repeating = repeating_ids(dialect, term)
    if len(connection.execute(repeating.limit(MAX_REPEATING + 1)).all()) > MAX_REPEATING:
        return None
    datasets = t.Dataset.__table__
    if visibility.caller.staff:
        records = t.DatasetTextStats.__table__
        key, length, walked = records.c.dataset_id, records.c.length, true()
    else:
        key, length, walked = datasets.c.id, datasets.c.text_length, visibility.datasets_by_flag(datasets)
    kth = select(length).where(walked, _holds(dialect, key, term)).order_by(length).limit(1).offset(wanted - 1)
    bound = connection.execute(kth).scalar()
    if bound is None:
        return None
    parts = [select(key).where(walked, length <= bound, _holds(dialect, key, term)), repeating]
    beyond = [part for part in (visibility.datasets_granted_beyond_flag(datasets), visibility.datasets_opened_since(datasets))
              if part is not None]
    if beyond:
        parts.append(select(datasets.c.id).where(or_(*beyond), _holds(dialect, datasets.c.id, term)))
    # Listed, not handed on as a subquery: PostgreSQL guesses 10⁵ rows for it and scans every record to join them.
    return connection.execute(union(*parts)).scalars().all()


# Lower-case ASCII letters and digits: PostgreSQL's text parser makes exactly this one lexeme of such
# a token, so " word " in a body is the tsvector's match (non-ASCII letters depend on the locale).
_PLAIN_WORD = re.compile(r"[a-z0-9]+")


def _holds(dialect: str, dataset_id, term: str):
    """Whether the dataset ``dataset_id`` names holds ``term``, tested row by row as the walk in
    length order meets it: asking the index for every holder first is what the shortcut avoids."""
    if dialect == "sqlite":
        # "+ 0": SQLite would otherwise walk the holders (10⁵ of them) by primary key and sort them all,
        # rather than the length index, whose order is the one wanted, testing each against them.
        # (SQLite reads the index's holders once, into a table it probes.)
        return (dataset_id + 0).in_(matching_ids(dialect, "Dataset", [term]))
    # PostgreSQL would turn an IN or EXISTS into a join with every holder (a heap read each, 0.37 s for
    # 10⁵); a scalar subquery stays a test of the row.  A string search: to_tsvector of a body takes
    # about 40 µs, 50× longer, and the walk meets thousands of records of the bound's length.
    body = t.DatasetText.__table__
    return select(func.strpos(body.c.body, f" {term} ") > 0).where(body.c.dataset_id == dataset_id).scalar_subquery()


def repeating_ids(dialect: str, term: str):
    """SELECT the datasets whose text holds ``term`` more than once (it is in their ``repeats``)."""
    if dialect == "sqlite":
        fts = table("dataset_text_stats_fts", column("rowid"))
        match = text("dataset_text_stats_fts MATCH :repeated_term")
        return select(fts.c.rowid).where(match.bindparams(bindparam("repeated_term", f'"{term}"', unique=True)))
    records = t.DatasetTextStats.__table__
    match = text("to_tsvector('simple', repeats) @@ to_tsquery('simple', :repeated_term)")
    return select(records.c.dataset_id).where(match.bindparams(bindparam("repeated_term", f"'{term}'", unique=True)))
