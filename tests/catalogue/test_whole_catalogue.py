"""The whole-catalogue summary (count and facets without a filter) stays exact: after writes,
and when an embargo passes with no write at all; the text statistics rows follow the text rows."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select, update

from pancommons.catalogue import policy
from pancommons.catalogue.facets import facets
from pancommons.catalogue.search import Catalogue, Reused, _bm25
from pancommons.db.engine import make_engine
from pancommons.db.tables import (
    CatalogueChanges,
    Dataset,
    DatasetText,
    DatasetTextStats,
    DocumentText,
    DocumentTextStats,
    Instrument,
)
from pancommons.db.text_search import repeated_tokens
from pancommons.ingest.panosc_import import import_panosc
from pancommons.query.filter import parse_filter, parse_where_argument
from pancommons.query.text import query_terms
from tests.api.conftest import write_dump

STAFF = policy.Caller("curator", roles=frozenset({policy.Role.DATA_MANAGER}))


def _dataset(pid: str, title: str, year: int, public: bool = True, **extra) -> dict:
    return {"pid": pid, "title": title, "isPublic": public, "creationDate": f"{year}-03-01T00:00:00Z", **extra}


@pytest.fixture
def catalogue(engine, settings, tmp_path):
    dump = write_dump(
        tmp_path / "dump.json",
        Instrument=[{"pid": "i/1", "name": "D22", "facility": "ILL"}],
        Dataset=[
            _dataset("d/1", "lysozyme crystal crystal", 2020, instrumentId="i/1"),
            _dataset("d/2", "ferritin solution", 2021, instrumentId="i/1"),
            _dataset("d/3", "lysozyme powder", 2022, public=False),
        ],
        Technique=[{"pid": "t/saxs", "name": "small angle x-ray scattering"}],
        DatasetTechnique=[{"id": 1, "datasetId": "d/1", "techniqueId": "t/saxs"}],
    )
    assert not import_panosc(dump, engine).problems
    reader = make_engine(settings.resolved_database_url, reader=True)
    yield Catalogue(reader, None)
    reader.dispose()


_ASKED = itertools.count()


def _live(catalogue: Catalogue, caller=policy.ANONYMOUS) -> tuple[int, dict]:
    """The same figures counted afresh: a filter that holds for every dataset is never summarised
    (and one never asked before is not a filtered panel reused for a few seconds)."""
    everything = {"creationDate": {"lte": f"2999-01-01T00:00:00.{next(_ASKED):06d}Z"}}
    return (catalogue.count("Dataset", parse_where_argument("Dataset", everything), caller),
            facets(catalogue, parse_filter("Dataset", {"where": everything}), caller))


def _summarised(catalogue: Catalogue, caller=policy.ANONYMOUS) -> tuple[int, dict]:
    return catalogue.count("Dataset", None, caller), facets(catalogue, parse_filter("Dataset", {}), caller)


def test_the_summary_is_exact_and_follows_an_import(catalogue, engine, tmp_path):
    assert _summarised(catalogue) == _live(catalogue)
    assert _summarised(catalogue)[0] == 2 and _summarised(catalogue, STAFF)[0] == 3
    more = write_dump(tmp_path / "more.json", Dataset=[_dataset("d/4", "myoglobin", 2023), _dataset("d/5", "hidden", 2023, public=False)])
    assert not import_panosc(more, engine).problems
    count, panel = _summarised(catalogue)
    assert count == 3 and panel["total"] == 3 and {"value": 2023, "count": 1} in panel["year"]
    assert (count, panel) == _live(catalogue)
    assert _summarised(catalogue, STAFF) == _live(catalogue, STAFF)


def test_a_write_that_hides_a_dataset_takes_it_out_of_the_summary(catalogue, engine):
    assert _summarised(catalogue)[0] == 2
    with engine.begin() as connection:
        connection.execute(update(Dataset).where(Dataset.pid == "d/2").values(
            is_public=False, embargo_until=datetime.now(UTC) + timedelta(days=30)))
    count, panel = _summarised(catalogue)
    assert count == 1 and panel["year"] == [{"value": 2020, "count": 1}]
    assert (count, panel) == _live(catalogue)


def test_an_embargo_passing_counts_at_once_without_any_write(catalogue, engine, monkeypatch):
    opens = datetime.now(UTC) + timedelta(seconds=1.5)
    with engine.begin() as connection:
        connection.execute(update(Dataset).where(Dataset.pid == "d/3").values(embargo_until=opens))
    assert _summarised(catalogue)[0] == 2
    recounts = []
    summarise = catalogue._tally
    monkeypatch.setattr(catalogue, "_tally", lambda condition: recounts.append(condition) or summarise(condition))
    with engine.connect() as connection:
        version = connection.execute(select(CatalogueChanges.version)).scalar_one()
    while datetime.now(UTC) <= opens:
        time.sleep(0.1)
    count, panel = _summarised(catalogue)
    assert count == 3 and {"value": 2022, "count": 1} in panel["year"]
    assert (count, panel) == _live(catalogue)
    with engine.connect() as connection:  # no write happened: the summary was not recounted, the rule applied
        assert connection.execute(select(CatalogueChanges.version)).scalar_one() == version
    assert recounts == []  # the opened dataset was counted live, beside the summary kept from before


def test_an_instrument_scientist_counts_a_passed_embargo_on_a_dataset_of_no_instrument(catalogue, engine):
    # d/3 has no instrument: "not one of the scientist's" must hold for it, not be NULL
    with engine.begin() as connection:
        connection.execute(update(Dataset).where(Dataset.pid == "d/3").values(embargo_until=datetime(2020, 1, 1, tzinfo=UTC)))
        instrument = connection.execute(select(Instrument.id).where(Instrument.pid == "i/1")).scalar_one()
    scientist = policy.Caller("scientist", instruments=frozenset({instrument}))
    assert _summarised(catalogue, scientist)[0] == 3
    assert _summarised(catalogue, scientist) == _live(catalogue, scientist)


def test_writes_move_the_change_version_on(engine, catalogue):
    def version():
        with engine.connect() as connection:
            return connection.execute(select(CatalogueChanges.version)).scalar_one()

    before = version()
    with engine.begin() as connection:
        connection.execute(update(Dataset).where(Dataset.pid == "d/1").values(title="renamed"))
    after_update = version()
    with engine.begin() as connection:
        connection.execute(delete(Dataset).where(Dataset.pid == "d/2"))
    assert before < after_update < version()


def test_reused_serves_the_last_value_while_one_thread_recomputes():
    reused = Reused()
    assert reused.get("k", 1, lambda stamp: stamp == 1, lambda: "first") == "first"
    release, calls = threading.Event(), []

    def slow():
        calls.append(1)
        release.wait(10)
        return "second"

    # stale: served at once, recomputed once however many ask meanwhile
    assert [reused.get("k", 2, lambda stamp: stamp == 2, slow) for _ in range(5)] == ["first"] * 5
    release.set()
    for _ in range(100):
        if reused.get("k", 2, lambda stamp: stamp == 2, slow) == "second":
            break
        time.sleep(0.05)
    assert reused.get("k", 2, lambda stamp: stamp == 2, slow) == "second"
    assert calls == [1]


def test_reused_fails_a_first_computation_with_its_error_once():
    reused, calls = Reused(), []

    def broken():
        calls.append(1)
        raise TimeoutError("the database gave up")

    with pytest.raises(TimeoutError, match="gave up"):
        reused.get("k", 1, lambda stamp: stamp == 1, broken)
    assert calls == [1]  # not run a second time to raise the same error
    assert reused.get("k", 1, lambda stamp: stamp == 1, lambda: "now") == "now"


def test_text_statistics_rows_follow_the_text_rows(engine, catalogue, tmp_path):
    with engine.connect() as connection:
        for text, stats, key in ((DatasetText, DatasetTextStats, "dataset_id"), (DocumentText, DocumentTextStats, "document_id")):
            bodies = {row[0]: (row[1], row[2]) for row in connection.execute(select(getattr(text, key), text.body, text.length))}
            kept = {row[0]: (row[1], row[2]) for row in connection.execute(select(getattr(stats, key), stats.length, stats.repeats))}
            assert kept == {key_: (length, repeated_tokens(body)) for key_, (body, length) in bodies.items()}
        # and the datasets' own copy of the length, which their public length index orders
        lengths = dict(connection.execute(select(DatasetText.dataset_id, DatasetText.length)).all())
        assert dict(connection.execute(select(Dataset.id, Dataset.text_length)).all()) == lengths
    more = write_dump(tmp_path / "longer.json", Dataset=[_dataset("d/2", "ferritin solution at 4 kelvin", 2021, instrumentId="i/1")])
    assert not import_panosc(more, engine).problems  # a title rewritten: the text, and its length, anew
    with engine.connect() as connection:
        length = connection.execute(select(DatasetText.length).join(Dataset, Dataset.id == DatasetText.dataset_id)
                                    .where(Dataset.pid == "d/2")).scalar_one()
        assert connection.execute(select(Dataset.text_length).where(Dataset.pid == "d/2")).scalar_one() == length > 4
    with engine.begin() as connection:
        connection.execute(delete(Dataset).where(Dataset.pid == "d/1"))
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(DatasetTextStats)).scalar_one() == 2


def test_repeated_tokens():
    assert repeated_tokens(" a  b  a  c  a  b ") == " a  a  b "
    assert repeated_tokens("") == ""


def test_scores_are_bm25_over_the_words_of_the_body(engine, catalogue):
    terms = query_terms("lysozyme crystal")
    found = catalogue.find(parse_filter("Dataset", {"query": "lysozyme crystal"}), STAFF)
    assert [record["pid"] for record in found] == ["d/1", "d/3"]
    with engine.connect() as connection:
        statistics = catalogue.statistics(connection, "Dataset", terms, STAFF, catalogue.compiler(STAFF))
        bodies = dict(connection.execute(select(Dataset.pid, DatasetText.body).join(DatasetText, DatasetText.dataset_id == Dataset.id)).all())
    for record in found:
        assert record["score"] == pytest.approx(_bm25(bodies[record["pid"]].split(), terms, statistics), rel=1e-9)
