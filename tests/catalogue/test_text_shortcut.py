"""A one-word text query ranks from the shortest holders and the records repeating the word
(db/text_search.top_candidates) instead of scoring every holder: it must give exactly the page that
scoring every holder gives, whatever the lengths, repeats, ties, visibility, skip and limit, on both
backends."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, update

from pancommons.catalogue import policy
from pancommons.catalogue import search as search_module
from pancommons.catalogue.search import Catalogue
from pancommons.db import text_search
from pancommons.db.engine import make_engine
from pancommons.db.tables import Dataset, Instrument
from pancommons.ingest.panosc_import import import_panosc
from pancommons.query.filter import parse_filter
from tests.api.conftest import write_dump

WORDS = ["operando", "gold", "foil", "lysozyme", "powder", "cell", "h2o", "β"]
# "golden" and "cells" begin like words searched for: a match must be of the whole word
FILLER = ["sample", "scan", "beam", "run", "detector", "series", "batch", "test", "day", "golden", "cells"]
STAFF = policy.Caller("curator", roles=frozenset({policy.Role.DATA_MANAGER}))


@pytest.fixture
def corpus(engine, settings, tmp_path):
    """400 datasets whose titles hold three of the words 0-3 times among 1-12 filler words (so
    lengths tie often and vary), a third of them not public."""
    chance = random.Random(7)
    datasets = []
    for number in range(400):
        words = [chance.choice(FILLER) for _ in range(chance.randint(1, 12))]
        for word in chance.sample(WORDS, 3):
            # operando and foil never twice in a record: their order is by length alone, ties and all
            words += [word] * chance.choice([0, 1] if word in ("operando", "foil") else [0, 1, 1, 1, 2, 3])
        chance.shuffle(words)
        datasets.append({"pid": f"d/{number:03d}", "title": " ".join(words) or "untitled",
                         "isPublic": chance.random() > 0.33, "creationDate": "2021-03-01T00:00:00Z"})
    assert not import_panosc(write_dump(tmp_path / "dump.json", Dataset=datasets), engine).problems
    with engine.begin() as connection:
        # a quarter measured on the instrument SCIENTIST sees whole; some embargoes passed since the flag was set
        instrument = connection.execute(insert(Instrument).values(pid="beamline/id11", name="ID11", facility="ESRF")
                                        .returning(Instrument.id)).scalar_one()
        connection.execute(update(Dataset).where(Dataset.id % 4 == 0).values(instrument_id=instrument))
        connection.execute(update(Dataset).where(Dataset.is_public.is_(False), Dataset.id % 5 == 0)
                           .values(embargo_until=datetime(2020, 1, 1, tzinfo=UTC)))
    reader = make_engine(settings.resolved_database_url, reader=True)
    yield Catalogue(reader, None), instrument
    reader.dispose()


def test_the_shortcut_gives_the_page_scoring_every_holder_gives(corpus, monkeypatch):
    corpus, instrument = corpus
    scientist = policy.Caller("scientist", instruments=frozenset({instrument}))
    monkeypatch.setattr(text_search, "SHORTCUT_HOLDERS", 1)  # take it even in a small corpus
    taken = []
    shortcut = text_search.top_candidates

    def counting(*arguments):
        found = shortcut(*arguments)
        taken.append(found is not None)
        return found

    def page(word: str, skip: int, limit: int, caller, with_shortcut: bool) -> list[tuple[str, float]]:
        monkeypatch.setattr(search_module, "top_candidates", counting if with_shortcut else (lambda *_: None))
        found = corpus.find(parse_filter("Dataset", {"query": word, "skip": skip, "limit": limit}), caller)
        return [(record["pid"], record["score"]) for record in found]

    compared = 0
    for word in WORDS:
        for caller in (policy.ANONYMOUS, STAFF, scientist):
            for skip, limit in [(0, 1), (0, 5), (0, 25), (3, 7), (20, 10), (0, 100)]:
                expected = page(word, skip, limit, caller, with_shortcut=False)
                assert page(word, skip, limit, caller, with_shortcut=True) == expected, (word, skip, limit, caller)
                compared += bool(expected)
    assert compared > 80 and sum(taken) > 80  # the shortcut really answered, for pages that hold records


def test_a_rare_word_or_a_word_many_records_repeat_takes_no_shortcut(corpus, monkeypatch):
    corpus, _ = corpus
    visibility = corpus.compiler(policy.ANONYMOUS).visibility

    def candidates(word="gold"):
        stats = corpus.corpus("Dataset", word, policy.ANONYMOUS)
        return text_search.top_candidates(connection, corpus.dialect, word, stats, visibility, 25)

    with corpus.engine.connect() as connection:
        assert candidates() is None  # fewer than 5,000 records hold it: scoring them all is quick
        monkeypatch.setattr(text_search, "SHORTCUT_HOLDERS", 1)
        assert candidates() is not None
        # PostgreSQL's walk finds a word by string search, the text index's match for ASCII words alone
        assert (candidates("β") is None) == (corpus.dialect == "postgresql")
        monkeypatch.setattr(text_search, "MAX_REPEATING", 3)  # more records than that repeat it
        assert candidates() is None

