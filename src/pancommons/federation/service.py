"""The federation's use cases: list, count, get, files, facets — each over every provider at once.

Every call returns a ``Reply``: the merged body and the answers it came
from, so the route can say who answered, who failed and why.

Pagination is global: for a page at ``skip``/``limit`` each provider is asked
for its first ``skip + limit`` records (in steps of its ``page_limit``), the
lists are merged (k-way, see merge.py), and the page is cut from the merge.  Deep pages are
bounded: ``skip + limit`` may not exceed ``MAX_WINDOW``, so one request costs
each provider at most ``MAX_WINDOW / page_limit`` requests and the
federation holds at most ``providers × MAX_WINDOW`` records.

Scores are comparable: before a text query the federation asks each of our
nodes for its corpus statistics for the query's terms (``/corpus``, kept
``CORPUS_TTL`` seconds), sums them and hands the sum to every node with the
query, so a record scores the same on whichever node holds it.  Providers
without that extension score on their own statistics; their records say so
(``scoreScope: "provider"``).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from pancommons.federation import merge
from pancommons.federation.fanout import (
    ANSWERED,
    FAILED,
    MAX_BODY,
    NOT_FOUND,
    SKIPPED,
    TIMED_OUT,
    Answer,
    Fanout,
)
from pancommons.federation.providers import Provider
from pancommons.query.filter import (
    FilterError,
    parse_corpus_argument,
    parse_filter,
    parse_where_argument,
)
from pancommons.query.text import CorpusStatistics, query_terms

MAX_WINDOW = 10_000  # skip + limit of one federated page
CORPUS_TTL = 30.0  # seconds a provider's term statistics are reused
NO_CORPUS_TTL = 600.0  # seconds before asking again a provider that has no /corpus
MAX_CORPORA = 50_000  # term statistics kept
RECORD_BYTES = 256 * 1024  # the largest answer taken is 1 MiB + this per record asked (records carry includes)
MAX_FORWARDED = 48 * 1024  # bytes of a forwarded query string (well under what HTTP servers take in a URL)


@dataclass(slots=True)
class Reply:
    status: int
    body: object
    answers: list[Answer] = field(default_factory=list)

    def report(self) -> dict:
        """Who answered, who did not and why: the X-Federation-Providers header and the status page."""
        report: dict = {"answered": [], "failed": {}, "timedOut": {}, "skipped": {}}
        for answer in self.answers:
            url = answer.provider.url
            if answer.outcome in (ANSWERED, NOT_FOUND):
                report["answered"].append(url)
            elif answer.outcome == FAILED:
                report["failed"][url] = answer.reason
            elif answer.outcome == TIMED_OUT:
                report["timedOut"][url] = answer.reason
            elif answer.outcome == SKIPPED:
                report["skipped"][url] = answer.reason
        return report

    @property
    def complete(self) -> bool:
        return all(answer.outcome in (ANSWERED, NOT_FOUND) for answer in self.answers)


class Federation:
    def __init__(self, providers: list[Provider], fanout: Fanout | None = None):
        if not providers:
            raise ValueError("a federation needs at least one provider")
        urls = [provider.url for provider in providers]
        if len(set(urls)) != len(urls):
            raise ValueError("a provider is named twice")
        self.providers = providers
        self.fanout = fanout or Fanout(providers)
        self.rank = {provider.url: position for position, provider in enumerate(providers)}
        self._corpora: dict[tuple, tuple[float, CorpusStatistics]] = {}  # (provider, collection, terms) →
        self._no_corpus: dict[str, float] = {}  # provider → until when it is taken to have no /corpus

    async def close(self) -> None:
        await self.fanout.close()

    # --- lists -----------------------------------------------------------------------------

    async def find(self, collection: str, entity: str, raw_filter, text: str | None, corpus_text: str | None = None) -> Reply:
        """A merged page. ``corpus_text``: statistics handed in (by a federation in front of this one)."""
        query = parse_filter(entity, raw_filter, query=text)
        handed_in = parse_corpus_argument(corpus_text)
        window = query.skip + query.limit
        if window > MAX_WINDOW:
            raise FilterError("filter.skip", f"a federated page must end within the first {MAX_WINDOW} records "
                                             f"(skip + limit = {window}); narrow the filter instead")
        forwarded, added = merge.forwarded_filter(raw_filter if isinstance(raw_filter, dict) else None, query)
        extra = {"query": text} if text is not None else {}
        _check_forwardable(dict(extra, filter=_compact(dict(forwarded, skip=window, limit=window))), "filter")
        deadlines = {provider.url: self.fanout.deadline(provider) for provider in self.providers}
        corpus, comparable = None, set()
        if query.query and query_terms(query.query):
            # Statistics get half of each provider's time: a provider that hangs must not eat the others'
            # time for the query itself. One that has not answered by then scores on its own statistics.
            now = time.monotonic()
            halves = {url: now + (deadline - now) / 2 for url, deadline in deadlines.items()}
            corpus, comparable = await self._global_corpus(collection, query.query, halves)
            if handed_in is not None:
                corpus = _compact(handed_in.to_json())

        async def read(provider: Provider) -> Answer:
            params = dict(extra)
            if corpus is not None and provider.url in comparable:
                params["corpus"] = corpus
            return await self._read_window(provider, f"/{collection}", forwarded, params, window, deadlines[provider.url])

        answers = list(await asyncio.gather(*(read(provider) for provider in self.providers)))
        if not any(answer.ok for answer in answers):
            return _nobody(answers)
        pages = []
        for answer in answers:
            if answer.ok:
                for record in answer.value:
                    record["provider"] = answer.provider.url
                    if query.query:
                        record["scoreScope"] = "federation" if answer.provider.url in comparable else "provider"
                pages.append(answer.value)
        page = merge.merged_page(query, pages, self.rank)
        for record in page:
            for name in added:
                record.pop(name, None)
        return Reply(200, page, answers)

    async def _read_window(self, provider: Provider, path: str, forwarded: dict, params: dict, window: int,
                           deadline: float) -> Answer:
        """A provider's first ``window`` records, in steps its page limit allows, all before ``deadline``."""
        found: list[dict] = []
        seen: set[str] = set()
        seconds = 0.0
        while True:
            step = min(provider.page_limit, window - len(found))
            page_filter = dict(forwarded, skip=len(found), limit=step)
            answer = await self.fanout.call(
                provider, path, dict(params, filter=_compact(page_filter)),
                lambda raw, step=step: merge.records(raw, step), deadline=deadline,
                max_bytes=min(MAX_BODY, 1024 * 1024 + step * RECORD_BYTES),
            )
            seconds += answer.seconds
            if not answer.ok:
                answer.seconds = seconds
                return answer
            fresh = [record for record in answer.value if record["pid"] not in seen]  # a provider ignoring skip
            seen.update(record["pid"] for record in fresh)
            found += fresh
            if len(answer.value) < step or not fresh or len(found) >= window:
                return Answer(provider, ANSWERED, found, seconds=seconds, status=answer.status)

    async def _global_corpus(self, collection: str, text: str, deadlines: dict[str, float]) -> tuple[str | None, set[str]]:
        """The summed statistics (as the ``corpus`` argument) and the providers that contributed."""
        terms = tuple(query_terms(text))
        now = time.monotonic()
        known: dict[str, CorpusStatistics] = {}
        asked = []
        for provider in self.providers:
            if self._no_corpus.get(provider.url, 0.0) > now:
                continue  # another implementation: no /corpus, asked again only now and then
            hit = self._corpora.get((provider.url, collection, terms))
            if hit and hit[0] > now:
                known[provider.url] = hit[1]
            else:
                asked.append(provider)
        answers = await asyncio.gather(*(
            self.fanout.call(provider, f"/{collection}/corpus", {"query": " ".join(terms)},
                             CorpusStatistics.from_json, missing_ok=True, deadline=deadlines[provider.url])
            for provider in asked
        ))
        if len(self._corpora) > MAX_CORPORA:
            self._corpora = {key: value for key, value in self._corpora.items() if value[0] > now}
            if len(self._corpora) > MAX_CORPORA // 2:
                self._corpora.clear()
        for answer in answers:
            url = answer.provider.url
            if answer.ok:
                known[url] = answer.value
                self._corpora[(url, collection, terms)] = (now + CORPUS_TTL, answer.value)
                self.fanout.health[url].scores_comparable = True
            elif answer.outcome == NOT_FOUND or answer.status == 400:
                # No such extension: another implementation. Its records keep their own scores.
                self._no_corpus[url] = now + NO_CORPUS_TTL
                self.fanout.health[url].scores_comparable = False
        if not known:
            return None, set()
        combined = CorpusStatistics.combined(known.values())
        return _compact(combined.to_json()), set(known)

    async def corpus(self, collection: str, entity: str, text: str) -> Reply:
        """The federation's own /corpus: the sum, so a federation can itself be a provider."""
        parse_filter(entity, None, query=text)
        terms = query_terms(text)
        answers = await self.fanout.everywhere(f"/{collection}/corpus", {"query": " ".join(terms)},
                                               CorpusStatistics.from_json)
        if not any(answer.ok for answer in answers):
            return _nobody(answers)
        combined = CorpusStatistics.combined(answer.value for answer in answers if answer.ok)
        return Reply(200, combined.to_json(), answers)

    # --- counts and facets --------------------------------------------------------------------

    async def count(self, collection: str, entity: str, where: str | None, text: str | None, raw_where) -> Reply:
        parse_where_argument(entity, raw_where)
        parse_filter(entity, None, query=text)
        params = {name: value for name, value in (("where", where), ("query", text)) if value is not None}
        _check_forwardable(params, "where")
        answers = await self.fanout.everywhere(f"/{collection}/count", params, merge.count)
        if not any(answer.ok for answer in answers):
            return _nobody(answers)
        return Reply(200, {"count": sum(answer.value for answer in answers if answer.ok)}, answers)

    async def facets(self, params: dict[str, str]) -> Reply:
        _check_forwardable(params, "filter")
        answers = await self.fanout.everywhere("/Datasets/facets", params, merge.facets)
        if not any(answer.ok for answer in answers):
            return _nobody(answers)
        return Reply(200, merge.summed_facets([answer.value for answer in answers if answer.ok]), answers)

    # --- one record, a dataset's files ------------------------------------------------------------

    async def get(self, collection: str, entity: str, pid: str, raw_filter, filter_text: str | None) -> Reply:
        parse_filter(entity, raw_filter, include_only=True)
        params = {"filter": filter_text} if filter_text is not None else {}
        return await self._first(f"/{collection}/{quote(pid, safe='')}", params, merge.one_record, entity, pid, tag=True)

    async def files(self, pid: str, raw_filter, filter_text: str | None) -> Reply:
        parse_filter("File", raw_filter)
        params = {"filter": filter_text} if filter_text is not None else {}
        return await self._first(f"/Datasets/{quote(pid, safe='')}/files", params, merge.plain_list, "Dataset", pid)

    async def files_count(self, pid: str, where: str | None, raw_where) -> Reply:
        parse_where_argument("File", raw_where)
        params = {"where": where} if where is not None else {}
        return await self._first(f"/Datasets/{quote(pid, safe='')}/files/count", params, merge.count, "Dataset", pid,
                                 wrap=lambda value: {"count": value})

    async def _first(self, path, params, shape, entity, pid, *, tag=False, wrap=None) -> Reply:
        """The answer of the first provider, in configured order, that holds the record."""
        _check_forwardable(dict(params, path=path), "filter")
        answers = await self.fanout.everywhere(path, params, shape, missing_ok=True)
        for answer in answers:
            if answer.ok:
                value = answer.value
                if tag:
                    value["provider"] = answer.provider.url
                return Reply(200, wrap(value) if wrap else value, answers)
        if not any(answer.outcome == NOT_FOUND for answer in answers):
            return _nobody(answers)
        missing = f"no {entity} with pid {pid!r}"
        if any(answer.outcome != NOT_FOUND for answer in answers):
            missing += " among the providers that answered (see X-Federation-Providers)"
        return Reply(404, _error(404, "NotFoundError", missing), answers)


def _nobody(answers: list[Answer]) -> Reply:
    """No provider answered: an empty list would read as "nothing matches", which nobody knows."""
    return Reply(503, _error(503, "ServiceUnavailableError", "no provider answered; see X-Federation-Providers"), answers)


def _compact(value) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _check_forwardable(params: dict[str, str], argument: str) -> None:
    size = len(urlencode(params))
    if size > MAX_FORWARDED:
        raise FilterError(argument, f"{size} bytes once URL-encoded, more than the {MAX_FORWARDED} a provider is asked with")


def _error(status: int, name: str, message: str) -> dict:
    return {"error": {"statusCode": status, "name": name, "message": message}}
