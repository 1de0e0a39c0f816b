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

from sqlalchemy import (
    Float,
    FromClause,
    bindparam,
    case,
    cast,
    column,
    func,
    literal,
    select,
    table,
    text,
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
    """(id, score) of every record holding a term (of those ``within`` selects, when given: a
    selection of records that hold the term, as ``top_candidates`` makes).

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


def top_candidates(connection, dialect: str, term: str, stats: CorpusStatistics, datasets: FromClause, visible,
                   wanted: int):
    """SELECT of the few datasets among which the ``wanted`` best-scored visible datasets for the
    one-word query ``term`` surely are; None when no such shortcut is worth it (score every holder).

    For one term, BM25 depends on the record's length and on how often it holds the term.  Among
    records holding it once, the score falls as the length grows; so the best are among the
    visible holders no longer than the ``wanted``-th shortest (all of them, ties included), plus
    the records holding the term more than once, which the repeats index names.  Found in length
    order from an index, that is a few hundred rows, where scoring every holder of a broad word
    reads 10⁵ (0.4 s at a million datasets).  A word many records repeat gains nothing: None.
    Nor does a rare word: its few holders are scored at once, while the walk in length order would
    pass about ``wanted`` / (its share of the records) rows before finding enough.
    """
    if dialect != "sqlite":
        # PostgreSQL reads the heap of each holder to learn its id (0.37 s for 10⁵ holders) before
        # the walk can test anything: no gain there (the next step is a narrow table of holders).
        return None
    holders = stats.frequencies.get(term, 0)
    if holders < SHORTCUT_HOLDERS or holders * MAX_WALK < wanted * stats.records:
        return None
    repeating = repeating_ids(term)
    if len(connection.execute(repeating.limit(MAX_REPEATING + 1)).all()) > MAX_REPEATING:
        return None
    records = t.DatasetTextStats.__table__
    # "+ 0": SQLite would otherwise walk the holders (10⁵ of them) by primary key and sort them all,
    # rather than the length index, whose order is the one wanted, testing each against them.
    holding = (records.c.dataset_id + 0).in_(matching_ids(dialect, "Dataset", [term]))
    # Visibility as a test of each row (EXISTS), not a join: a join lets the planner start from the
    # visible datasets (most of them) and sort, where the length index gives the order at once.
    shown = select(datasets.c.id).where(datasets.c.id == records.c.dataset_id, visible).exists()
    kth = select(records.c.length).where(holding, shown).order_by(records.c.length).limit(1).offset(wanted - 1)
    bound = connection.execute(kth).scalar()
    if bound is None:
        return None
    return union(select(records.c.dataset_id).where(records.c.length <= bound, holding), repeating)


def repeating_ids(term: str):
    """SELECT the datasets whose text holds ``term`` more than once (it is in their ``repeats``; SQLite)."""
    fts = table("dataset_text_stats_fts", column("rowid"))
    match = text("dataset_text_stats_fts MATCH :repeated_term")
    return select(fts.c.rowid).where(match.bindparams(bindparam("repeated_term", f'"{term}"', unique=True)))
