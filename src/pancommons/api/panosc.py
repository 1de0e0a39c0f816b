"""The PaNOSC Search API routes: Datasets, Documents, Instruments.

Routes parse the query-string arguments into the filter tree and call the
search service; they hold no query logic of their own.  Paths are served
case-insensitively (see app.py) and pids may hold slashes, plain or %2F.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from pancommons.api import errors
from pancommons.api.auth import CallerDep
from pancommons.api.paths import COLLECTIONS
from pancommons.api.responses import FastJSONResponse
from pancommons.catalogue.facets import facets
from pancommons.catalogue.search import Catalogue
from pancommons.query.filter import (
    load_json,
    parse_corpus_argument,
    parse_facet_arguments,
    parse_filter,
    parse_where_argument,
)

# The service returns plain JSON-ready dicts; rendering them directly skips FastAPI's
# per-value encoder, which costs more than the query for a page of nested records.
router = APIRouter(prefix="/api", default_response_class=FastJSONResponse, responses=errors.documented(400, 401))


FILTER_EXAMPLES = {
    "page": {"summary": "A page, ordered", "value": '{"limit": 10, "skip": 20, "order": "title ASC"}'},
    "technique": {
        "summary": "Datasets by technique (PaNET subtree, by name or IRI)",
        "value": '{"include": [{"relation": "techniques", "scope": {"where": {"name": "x-ray diffraction"}}}], "limit": 10}',
    },
    "wavelength": {
        "summary": "Wavelength between 0.9 and 1.1 Å, asked in nm",
        "value": '{"include": [{"relation": "parameters", "scope": {"where": {"and": [{"name": "incident_wavelength"}, '
        '{"value": {"between": [0.09, 0.11]}}, {"unit": "nm"}]}}}], "limit": 10}',
    },
    "temperature": {
        "summary": "Sample temperature below 100 K, asked in celsius",
        "value": '{"include": [{"relation": "parameters", "scope": {"where": {"and": [{"name": "sample_temperature"}, '
        '{"value": {"lt": -173.15}}, {"unit": "celsius"}]}}}]}',
    },
    "text": {"summary": "Free text, ranked", "value": '{"query": "lysozyme diffraction", "limit": 10}'},
}
DOCUMENT_EXAMPLES = {
    "proposal": {
        "summary": "Proposals with their datasets, techniques and parameters (the portal's query)",
        "value": '{"where": {"type": "proposal"}, "include": [{"relation": "datasets", "scope": {"include": '
        '["techniques", "parameters"]}}], "limit": 5}',
    },
    "member": {
        "summary": "Proposals with a given member",
        "value": '{"include": [{"relation": "members", "scope": {"include": [{"relation": "person", '
        '"scope": {"where": {"fullName": {"ilike": "%curie%"}}}}]}}]}',
    },
    "text": {"summary": "Free text, ranked", "value": '{"query": "battery cathode", "limit": 10}'},
}
INSTRUMENT_EXAMPLES = {
    "facility": {"summary": "A facility's instruments, a page", "value": '{"where": {"facility": "ESS"}, "limit": 5}'},
    "datasets": {"summary": "Instruments with their newest datasets",
                 "value": '{"include": [{"relation": "datasets", "scope": {"limit": 3}}]}'},
}
EXAMPLES = {"Dataset": FILTER_EXAMPLES, "Document": DOCUMENT_EXAMPLES, "Instrument": INSTRUMENT_EXAMPLES}
WHERE_EXAMPLES = {
    "title": {"summary": "Title containing a word", "value": '{"title": {"ilike": "%lysozyme%"}}'},
    "date": {"summary": "Created in 2024", "value": '{"creationDate": {"between": ["2024-01-01", "2024-12-31T23:59:59Z"]}}'},
}

FILTER_HELP = "LoopBack-style JSON filter: where, include (with scope), limit, skip, fields, order, query"


FileFilterArgument = Annotated[str | None, Query(description=FILTER_HELP)]
IncludeArgument = Annotated[str | None, Query(description='JSON filter with include only: {"include": ["files"]}')]
WhereArgument = Annotated[str | None, Query(description="JSON where clause", openapi_examples=WHERE_EXAMPLES)]
TextArgument = Annotated[str | None, Query(description="free-text query; results carry a score in (0, 1]")]
CorpusArgument = Annotated[
    str | None,
    Query(
        description="pancommons extension: corpus statistics to score a text query with, in the form "
        "`/corpus` answers (a federation sends the sum over its nodes so every node scores alike)"
    ),
]


async def catalogue(request: Request) -> Catalogue:
    return request.app.state.catalogue


CatalogueDep = Annotated[Catalogue, Depends(catalogue)]


def _routes(collection: str, entity: str) -> None:
    noun = entity.lower()
    examples = EXAMPLES[entity]

    @router.get(f"/{collection}", summary=f"List {collection}", tags=[collection], name=f"list_{noun}")
    def listing(
        store: CatalogueDep,
        who: CallerDep,
        filter: str | None = Query(None, description=FILTER_HELP, openapi_examples=examples),
        query: TextArgument = None,
        corpus: CorpusArgument = None,
    ):
        parsed = parse_filter(entity, load_json(filter, "filter"), query=query)
        return FastJSONResponse(store.find(parsed, who, parse_corpus_argument(corpus)))

    @router.get(f"/{collection}/count", summary=f"Count {collection}", tags=[collection], name=f"count_{noun}")
    def count(store: CatalogueDep, who: CallerDep, where: WhereArgument = None, query: TextArgument = None):
        parsed = parse_where_argument(entity, load_json(where, "where"))
        text = parse_filter(entity, None, query=query).query
        return {"count": store.count(entity, parsed, who, text)}

    @router.get(
        f"/{collection}/corpus",
        summary=f"Text statistics of the visible {collection} for a query's terms (pancommons extension)",
        tags=[collection],
        name=f"corpus_{noun}",
    )
    def corpus(store: CatalogueDep, who: CallerDep, query: Annotated[str, Query(description="free-text query")]):
        text = parse_filter(entity, None, query=query).query
        return store.corpus(entity, text, who).to_json()

    if entity == "Dataset":
        _file_routes(collection)
        _facet_route(collection)

    @router.get(f"/{collection}/{{pid:path}}", summary=f"One {entity} by pid", tags=[collection], name=f"get_{noun}",
                responses=errors.documented(404))
    def one(pid: str, store: CatalogueDep, who: CallerDep, filter: IncludeArgument = None):
        parsed = parse_filter(entity, load_json(filter, "filter"), include_only=True)
        record = store.get(entity, pid, parsed.includes, who)
        if record is None:
            raise HTTPException(404, f"no {entity} with pid {pid!r}")
        return FastJSONResponse(record)


def _facet_route(collection: str) -> None:
    @router.get(
        f"/{collection}/facets",
        summary="Facet counts for the datasets a filter selects (pancommons extension)",
        tags=[collection],
    )
    def dataset_facets(
        store: CatalogueDep,
        who: CallerDep,
        where: WhereArgument = None,
        filter: Annotated[str | None, Query(description="a whole filter (where, include, query) instead of where")] = None,
        query: TextArgument = None,
    ):
        return FastJSONResponse(facets(store, parse_facet_arguments(where, filter, query), who))


def _file_routes(collection: str) -> None:
    @router.get(f"/{collection}/{{pid:path}}/files/count", summary="Count a dataset's files", tags=[collection],
                responses=errors.documented(404))
    def files_count(pid: str, store: CatalogueDep, who: CallerDep, where: WhereArgument = None):
        found = store.files_count(pid, parse_where_argument("File", load_json(where, "where")), who)
        if found is None:
            raise HTTPException(404, f"no Dataset with pid {pid!r}")
        return {"count": found}

    @router.get(f"/{collection}/{{pid:path}}/files", summary="A dataset's files", tags=[collection],
                responses=errors.documented(404))
    def files(pid: str, store: CatalogueDep, who: CallerDep, filter: FileFilterArgument = None):
        found = store.files(pid, parse_filter("File", load_json(filter, "filter")), who)
        if found is None:
            raise HTTPException(404, f"no Dataset with pid {pid!r}")
        return FastJSONResponse(found)


for _collection, _entity in COLLECTIONS.items():
    _routes(_collection, _entity)
