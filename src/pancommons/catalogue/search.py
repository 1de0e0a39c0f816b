"""The search service: lists, single records, counts and files, for a caller.

The API and the portal call these; each call builds the SQL from the
checked filter tree (db/compile.py), applies the caller's visibility
(catalogue/policy.py) at every depth, and returns records in the PaNOSC
shape (camelCase dicts), included relations nested inside.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from pancommons import units
from pancommons.catalogue import policy
from pancommons.catalogue.render import REQUIRED, render
from pancommons.catalogue.tally import Tally, tally
from pancommons.db import tables as t
from pancommons.db.compile import HC, TABLES, Compiler
from pancommons.db.text_search import (
    K1,
    STATS_TABLES,
    TEXT_TABLES,
    B,
    matching_ids,
    scored,
    top_candidates,
)
from pancommons.query.filter import Filter, Include, Node
from pancommons.query.schema import ENTITIES
from pancommons.query.text import CorpusStatistics, query_terms, tokens

INCLUDE_CAP = 1000  # included rows per parent when the scope sets no limit: a facility has instruments with 10⁵ datasets
STATISTICS_TTL = 30.0  # seconds a node's corpus statistics (and a filtered facet panel) are reused; ingest shifts them slowly
SUMMARY_WAIT = 0.2  # seconds a request waits for the recount of a written catalogue before it is served the last one

log = logging.getLogger(__name__)


class Reused:
    """Values computed once and reused while fresh.  A stale value is served while one thread
    recomputes it (single flight), so after the first computation no request waits for one —
    beyond ``wait`` seconds, which lets a small catalogue answer exactly at once after a write."""

    def __init__(self, limit: int = 10_000):
        self._lock = threading.Lock()
        self._values: dict[Any, tuple[Any, Any]] = {}  # key → (stamp, value)
        self._running: dict[Any, threading.Thread] = {}
        self._failures: dict[Any, Exception] = {}  # the last error of a key never computed yet
        self._limit = limit

    def get(self, key, stamp, fresh: Callable[[Any], bool], compute: Callable[[], Any], wait: float = 0.0):
        """The value of ``key``, recomputed (as of ``stamp``) unless ``fresh(stamp it was computed as of)``."""
        with self._lock:
            held = self._values.get(key)
            if held is not None and fresh(held[0]):
                return held[1]
            running = self._running.get(key)
            if running is None:
                running = self._running[key] = threading.Thread(
                    target=self._refresh, args=(key, stamp, compute), daemon=True, name=f"recount {key!r:.60}")
                running.start()
        running.join(None if held is None else wait)
        with self._lock:
            held = self._values.get(key, held)
            failure = self._failures.get(key)
        if held is None:  # the first computation failed (and was logged): fail this request with its error
            raise failure
        return held[1]

    def _refresh(self, key, stamp, compute) -> None:
        try:
            value = compute()
            with self._lock:
                if len(self._values) >= self._limit:
                    self._values.clear()
                self._values[key] = (stamp, value)
                self._failures.pop(key, None)
        except Exception as error:
            log.exception("recomputing %r failed; the last value is served", key)
            with self._lock:
                if len(self._failures) >= self._limit:
                    self._failures.clear()
                self._failures[key] = error  # for the requests that waited on a first computation
        finally:
            with self._lock:
                self._running.pop(key, None)


class Catalogue:
    """Read access to one catalogue database."""

    def __init__(self, engine: Engine, techniques=None):
        self.engine = engine
        self.dialect = engine.dialect.name
        self.techniques = techniques
        self._reused = Reused()

    def compiler(self, caller: policy.Caller, now: datetime | None = None) -> Compiler:
        now = now or datetime.now(UTC)
        return Compiler(self.dialect, policy.visibility_for(caller, now), self.techniques, now)

    # --- lists ---------------------------------------------------------------------------

    def find(
        self, query: Filter, caller: policy.Caller = policy.ANONYMOUS, corpus: CorpusStatistics | None = None
    ) -> list[dict]:
        """A page of records; with a text query, scored on ``corpus`` when given (a federation's), else on this node's."""
        compiler = self.compiler(caller)
        root = TABLES[query.entity]
        condition = compiler.selection(query.entity, root, query.where, query.includes)
        with self.engine.connect() as connection:
            terms = query_terms(query.query) if query.query else []
            if terms and query.entity == "Instrument":
                rows, scores = self._instruments_by_text(connection, compiler, condition, query, terms, corpus)
            elif terms:
                stats = corpus or self.statistics(connection, query.entity, terms, caller, compiler)
                within = None
                if query.entity == "Dataset" and len(terms) == 1 and query.where is None and not query.includes:
                    # Visibility is the only condition: the best are among a few records (text_search.top_candidates).
                    within = top_candidates(connection, self.dialect, terms[0], stats, compiler.visibility,
                                            query.skip + query.limit)
                ranked = scored(self.dialect, query.entity, terms, stats, within)
                statement = (
                    select(root, ranked.c.score)
                    .join(ranked, ranked.c.id == root.c.id)
                    .where(condition)
                    .order_by(ranked.c.score.desc(), *compiler.order(query.entity, root, query.order))
                    .limit(query.limit)
                    .offset(query.skip)
                )
                found = connection.execute(statement).mappings().all()
                rows, scores = found, {row["id"]: float(row["score"]) for row in found}
            elif query.query:  # a query with no words (punctuation only) matches nothing
                return []
            else:
                statement = (
                    select(root).where(condition).order_by(*compiler.order(query.entity, root, query.order))
                    .limit(query.limit).offset(query.skip)
                )
                rows, scores = connection.execute(statement).mappings().all(), {}
            return self._records(connection, compiler, query.entity, rows, query.includes, query.fields, scores)

    def get(self, entity: str, pid: str, includes: tuple[Include, ...], caller: policy.Caller = policy.ANONYMOUS) -> dict | None:
        compiler = self.compiler(caller)
        root = TABLES[entity]
        condition = compiler.selection(entity, root, None, includes)
        with self.engine.connect() as connection:
            row = connection.execute(select(root).where(root.c.pid == pid, condition)).mappings().first()
            if row is None:
                return None
            return self._records(connection, compiler, entity, [row], includes, None, {})[0]

    def count(self, entity: str, where: Node | None, caller: policy.Caller = policy.ANONYMOUS, text_query: str | None = None) -> int:
        if entity == "Dataset" and where is None and text_query is None:
            return self.whole_catalogue(caller).total
        compiler = self.compiler(caller)
        root = TABLES[entity]
        condition = compiler.selection(entity, root, where, ())
        statement = select(func.count()).select_from(root).where(condition)
        if text_query is not None:
            terms = query_terms(text_query)
            if not terms:
                return 0
            if entity == "Instrument":
                with self.engine.connect() as connection:
                    unpaged = Filter(entity, where, limit=10**9, query=text_query)
                    return len(self._instruments_by_text(connection, compiler, condition, unpaged, terms)[0])
            statement = statement.where(root.c.id.in_(matching_ids(self.dialect, entity, terms)))
        with self.engine.connect() as connection:
            return int(connection.execute(statement).scalar_one())

    # --- a dataset's files -------------------------------------------------------------------

    def dataset_id(self, connection, compiler: Compiler, pid: str) -> int | None:
        root = TABLES["Dataset"]
        return connection.execute(select(root.c.id).where(root.c.pid == pid, compiler.visible("Dataset", root))).scalar()

    def files(self, pid: str, query: Filter, caller: policy.Caller = policy.ANONYMOUS) -> list[dict] | None:
        """The files of a visible dataset (None when there is no such dataset for this caller)."""
        compiler = self.compiler(caller)
        files = TABLES["File"]
        with self.engine.connect() as connection:
            dataset_id = self.dataset_id(connection, compiler, pid)
            if dataset_id is None:
                return None
            statement = (
                _files_of(select(files), dataset_id, compiler.selection("File", files, query.where, query.includes))
                .order_by(*compiler.order("File", files, query.order))
                .limit(query.limit)
                .offset(query.skip)
            )
            rows = connection.execute(statement).mappings().all()
            return self._records(connection, compiler, "File", rows, query.includes, query.fields, {})

    def files_count(self, pid: str, where: Node | None, caller: policy.Caller = policy.ANONYMOUS) -> int | None:
        compiler = self.compiler(caller)
        files = TABLES["File"]
        with self.engine.connect() as connection:
            dataset_id = self.dataset_id(connection, compiler, pid)
            if dataset_id is None:
                return None
            statement = _files_of(select(func.count()).select_from(files), dataset_id, compiler.selection("File", files, where, ()))
            return int(connection.execute(statement).scalar_one())

    # --- text statistics -------------------------------------------------------------------

    def corpus(self, entity: str, text_query: str, caller: policy.Caller = policy.ANONYMOUS) -> CorpusStatistics:
        """This node's statistics for a query's terms, for a federation to sum (see query/text.py)."""
        terms = query_terms(text_query or "")  # a blank query has no terms: empty statistics
        with self.engine.connect() as connection:
            if entity == "Instrument":
                return _instrument_statistics(self._instrument_words(connection), terms)
            return self.statistics(connection, entity, terms, caller, self.compiler(caller))

    def statistics(self, connection, entity: str, terms: list[str], caller: policy.Caller, compiler: Compiler) -> CorpusStatistics:
        """Corpus statistics over what this caller may see: embargoed records shift no public score.

        Reused for ``STATISTICS_TTL`` and recomputed in the background after it (counting a
        million records takes a while), so only the first query of a term waits for its count.
        """
        stats_table = STATS_TABLES[entity]
        key = stats_table.c[TEXT_TABLES[entity][1]]
        root = TABLES[entity]
        visible = compiler.visible(entity, root)
        base = self.reused((entity, caller.cache_key, None), lambda: self._scalars(
            select(func.count(), func.avg(stats_table.c.length)).select_from(stats_table)
            .join(root, root.c.id == key).where(visible)
        ))
        frequencies = {}
        for term in terms:
            frequencies[term] = self.reused((entity, caller.cache_key, term), lambda term=term: self._scalars(
                select(func.count()).select_from(root).where(visible, root.c.id.in_(matching_ids(self.dialect, entity, [term])))
            )[0])
        records, average = base
        return CorpusStatistics(int(records or 0), float(average or 0.0), frequencies)

    def _scalars(self, statement) -> tuple:
        # Its own connection: it may run on a thread of its own (Reused), beside the request's.
        with self.engine.connect() as connection:
            return tuple(connection.execute(statement).one())

    def reused(self, key: tuple, compute):
        """``compute()``, reused for ``STATISTICS_TTL`` seconds, then served while recomputed."""
        return self._reused.get(key, time.monotonic(), lambda computed: time.monotonic() - computed < STATISTICS_TTL, compute)

    # --- the whole catalogue -------------------------------------------------------------------

    def whole_catalogue(self, caller: policy.Caller = policy.ANONYMOUS) -> Tally:
        """Every dataset the caller may see, counted by facet: the count and the facets of the
        catalogue without a filter, a portal's first page.

        The datasets the flags show are counted once and again only after the catalogue is
        written (the database's triggers move ``catalogue_changes.version`` on); a request after
        a write gets the recount when it takes under ``SUMMARY_WAIT``, else the last summary while
        one thread recounts.  The datasets whose embargo passed since their flag was set (few:
        release_embargoed runs at every ingest and start) are counted on every request, from an
        index, so the time-dependent rule is exact at every moment.
        """
        compiler = self.compiler(caller)
        datasets = TABLES["Dataset"]
        visibility = compiler.visibility
        with self.engine.connect() as connection:
            version = connection.execute(select(t.CatalogueChanges.version)).scalar()

            def summary(key: str, condition):
                return self._reused.get(
                    ("whole catalogue", key), version, lambda counted: counted == version,
                    lambda: self._tally(condition), wait=SUMMARY_WAIT,
                )

            found = summary("staff" if caller.staff else "public", visibility.datasets_by_flag(datasets))
            granted = visibility.datasets_granted_beyond_flag(datasets)
            if granted is not None:  # a member's or instrument scientist's own, counted for them (and their like)
                found = found + summary(caller.cache_key, granted)
            opened = visibility.datasets_opened_since(datasets)
            if opened is not None:
                # Their ids first, from the (is_public, embargo_until) index: asked to group them by facility
                # at once, PostgreSQL expects every non-public dataset and scans an index of all of them
                # (120 ms at 10⁶ datasets, for the usual none).
                ids = connection.execute(select(datasets.c.id).where(opened)).scalars().all()
                if ids:
                    found = found + tally(connection, self.dialect, datasets.c.id.in_(ids) if len(ids) <= 1000 else opened)
            return found

    def _tally(self, condition) -> Tally:
        with self.engine.connect() as connection:
            return tally(connection, self.dialect, condition)

    def _instruments_by_text(self, connection, compiler, condition, query: Filter, terms: list[str], corpus=None):
        """Instruments are few: score them in Python with the same BM25 over name and facility."""
        root = TABLES["Instrument"]
        candidates = connection.execute(select(root).where(condition)).mappings().all()
        words_of = self._instrument_words(connection)
        stats = corpus or _instrument_statistics(words_of, terms)
        scores = {row["id"]: _bm25(words_of[row["id"]], terms, stats) for row in candidates}
        ranked = sorted(
            (row for row in candidates if scores[row["id"]] > 0),
            key=lambda row: (-scores[row["id"]], row["name"].lower(), row["pid"]),
        )
        return ranked[query.skip : query.skip + query.limit], scores

    @staticmethod
    def _instrument_words(connection) -> dict[int, list[str]]:
        root = TABLES["Instrument"]
        return {
            row_id: tokens(f"{name} {facility or ''}")
            for row_id, name, facility in connection.execute(select(root.c.id, root.c.name, root.c.facility))
        }

    # --- records ---------------------------------------------------------------------------

    def _records(self, connection, compiler: Compiler, entity: str, rows, includes, fields, scores) -> list[dict]:
        records = [render(entity, row, compiler.now, scores.get(row["id"])) for row in rows]
        if fields is not None:
            keep = set(fields) | set(REQUIRED[entity])  # what the API promises in every record stays
            records = [{name: value for name, value in record.items() if name in keep} for record in records]
        ids = [row["id"] for row in rows]
        for include in includes:
            children = self._included(connection, compiler, entity, include, ids)
            many = _is_many(entity, include.relation)
            for record, row_id in zip(records, ids):
                found = children.get(row_id, [])
                if not many:
                    record[include.relation] = found[0] if found else None
                elif include.relation in record:
                    # Several includes of one relation: each filtered the parents; show every matching row once.
                    seen = {_identity(item) for item in record[include.relation]}
                    record[include.relation] += [item for item in found if _identity(item) not in seen]
                else:
                    record[include.relation] = found
        return records

    def _included(self, connection, compiler: Compiler, entity: str, include: Include, parent_ids) -> dict[int, list[dict]]:
        """The included rows of each parent, ``skip``/``limit`` applied per parent in SQL."""
        grouped: dict[int, list] = defaultdict(list)
        for start in range(0, len(parent_ids), 500):
            statement = compiler.related_rows(entity, include, parent_ids[start : start + 500], INCLUDE_CAP)
            for row in connection.execute(statement).mappings().all():
                grouped[row["_parent"]].append(row)
        unique_rows = list({row["id"]: row for group in grouped.values() for row in group}.values())
        records = self._records(connection, compiler, include.entity, unique_rows, include.includes, include.fields, {})
        rendered = {row["id"]: record for row, record in zip(unique_rows, records)}
        if include.entity == "Parameter" and include.units:
            for row in unique_rows:
                _in_unit(rendered[row["id"]], row, include.units)
        return {parent: [dict(rendered[row["id"]]) for row in group] for parent, group in grouped.items()}


def _files_of(statement, dataset_id: int, condition):
    """``statement`` over the files of one dataset that satisfy ``condition``."""
    files = TABLES["File"]
    return statement.join(t.DatasetFile, t.DatasetFile.file_id == files.c.id).where(
        t.DatasetFile.dataset_id == dataset_id, condition
    )


def _identity(record: dict):
    return record.get("pid", record.get("id"))


def _is_many(entity: str, relation: str) -> bool:
    return ENTITIES[entity].relations[relation].many


def _instrument_statistics(words_of: dict[int, list[str]], terms: list[str]) -> CorpusStatistics:
    every = list(words_of.values())
    frequencies = {term: sum(1 for words in every if term in words) for term in terms}
    return CorpusStatistics(len(every), sum(map(len, every)) / max(len(every), 1), frequencies)


def _bm25(words: list[str], terms: list[str], stats: CorpusStatistics) -> float:
    norm = K1 * (1 - B + B * len(words) / max(stats.average_length, 1.0))
    total = ideal = 0.0
    for term in terms:
        idf = stats.idf(term)
        ideal += idf * (K1 + 1)
        frequency = words.count(term)
        total += idf * frequency * (K1 + 1) / (frequency + norm)
    return total / ideal if ideal else 0.0


def _in_unit(record: dict, row, asked: tuple[str, ...]) -> None:
    """Show a matching parameter in the unit the query asked for its kind (as written when it already is).

    A wavelength asked in nm shows a recorded photon energy in nm only when
    the query asked for no energy unit of its own.
    """
    if "value" not in record or row["si_value"] is None or row["unit"] in asked:
        return
    kinds = {}
    for unit in asked:
        try:
            kinds.setdefault(units.si_conversion(unit)[2], unit)
        except (units.UnknownUnit, units.IncompatibleUnit):
            continue
    si_value = row["si_value"]
    unit = kinds.get(row["si_unit"])
    if unit is None:
        twin = {"m": "J", "J": "m"}.get(row["si_unit"])
        unit = kinds.get(twin) if twin else None
        if unit is None or not si_value:
            return
        si_value = HC / si_value  # the photon twin: E = hc/λ
    record["value"] = units.from_si(si_value, unit)
    record["unit"] = unit
