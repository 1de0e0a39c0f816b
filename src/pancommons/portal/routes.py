"""The portal's pages: home, search, dataset and proposal landing pages, file downloads.

Server-rendered (Jinja2), so they work without JavaScript and crawlers
and FAIR assessors read them.  Every page is built from the same service
calls and the same filter tree as the API; nothing here decides what a
caller may see.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import replace
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates

from pancommons.accounts import audit
from pancommons.api.auth import CallerDep, recognise
from pancommons.catalogue import embargo, landing
from pancommons.catalogue.facets import facets
from pancommons.catalogue.files import (
    FileRefused,
    readable_file,
    under_embargo,
    viewed_from,
)
from pancommons.catalogue.policy import ANONYMOUS
from pancommons.catalogue.search import Catalogue
from pancommons.portal import csrf, describe
from pancommons.portal.search_form import (
    MAX_PAGE,
    PAGE_SIZE,
    QUANTITIES,
    SORTS,
    UNIT_LABELS,
    SearchForm,
    plain,
)
from pancommons.portal.static_files import CompressedStaticFiles
from pancommons.portal.zipstream import zipped
from pancommons.query.filter import FilterError, parse_filter
from pancommons.units import human_size

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)
static = CompressedStaticFiles(directory=HERE / "static")  # gzipped once per file version


async def _catalogue(request: Request) -> Catalogue:
    return request.app.state.catalogue


CatalogueDep = Annotated[Catalogue, Depends(_catalogue)]


def _page(request: Request, template: str, status: int = 200, headers: dict | None = None, **context) -> HTMLResponse:
    context.setdefault("form", None)
    site = getattr(request.app.state.settings, "facility", "") or "pancommons"
    try:
        visitor = recognise(request)
    except HTTPException:  # a bad bearer token on a page that did not ask who is calling (a 404 page)
        visitor = ANONYMOUS
    context.update(visitor=visitor, csrf_field=csrf.FIELD, csrf_token=csrf.form_token(request))
    response = templates.TemplateResponse(request, template, {"site": f"{site} open data", **context},
                                          status_code=status, headers=headers)
    csrf.remember(request, response)
    return response


def not_found(request: Request, message: str) -> HTMLResponse:
    return _page(request, "error.html", 404, code=404, heading="Not found", message=message)


@router.get("/", name="home")
def home(request: Request, store: CatalogueDep, who: CallerDep):
    return _page(request, "home.html", facets=facets(store, parse_filter("Dataset", None), who))


@router.get("/search", name="search")
def search(request: Request, store: CatalogueDep, who: CallerDep):
    error = None
    try:
        form = SearchForm.read(request.query_params)
        raw = form.filter()
    except FilterError as problem:
        form, raw, error = SearchForm(), SearchForm().filter(), f"{problem.where}: {problem.message}"
    entity = "Dataset" if form.kind == "datasets" else "Document"
    try:
        if entity == "Dataset":
            shown = dict(raw, include=[*raw.get("include", []), "techniques", "instrument"])
            query = parse_filter(entity, shown, query=form.text or None)
            panel = facets(store, query, who)
            total = panel["total"]
            if form.facilities:  # offer the other facilities too, counted as if this one were not chosen
                others = parse_filter(entity, replace(form, facilities=()).filter(), query=form.text or None)
                panel = dict(panel, facility=facets(store, others, who)["facility"])
        else:
            query = parse_filter(entity, raw, query=form.text or None)
            panel = None
            total = store.count(entity, query.where, who, query.query)
        records = store.find(query, who)
    except FilterError as problem:  # a unit pint does not know, a technique name that is no term …
        error = f"{problem.where}: {problem.message}"
        form = SearchForm(kind=form.kind)
        query = parse_filter(entity, form.filter())
        panel = facets(store, parse_filter("Dataset", None), who) if entity == "Dataset" else None
        records, total = [], 0
    ontology = store.techniques
    names = sorted({term.label for term in ontology.terms.values() if term.label}) if ontology else \
        [item["label"] for item in (panel or {}).get("technique", [])]
    return _page(
        request, "search.html", 400 if error else 200,
        form=form, records=records, total=total, facets=panel or {}, error=error,
        pages=max(1, min(MAX_PAGE, math.ceil(total / PAGE_SIZE))), page_size=PAGE_SIZE,
        quantities=QUANTITIES, unit_labels=UNIT_LABELS, sorts=list(SORTS), plain=plain, technique_names=names,
    )


@router.get("/download/datasets/{pid:path}", name="download_dataset")
def download_dataset(request: Request, pid: str, store: CatalogueDep, who: CallerDep) -> Response:
    """All of a dataset's files as one ZIP, streamed, with a manifest of their checksums."""
    page = landing.dataset_page(store, pid, who)
    if page is None:
        return not_found(request, f"There is no dataset {pid!r} here, or it is not open to you.")
    members = []
    for file in page.files:
        try:
            path = readable_file(store, file["id"], who, request.app.state.settings.data_roots).path
        except FileRefused as refused:
            return _page(request, "error.html", 409, code=409, heading="Not all files can be sent", message=str(refused))
        members.append((path, file["path"]))
    if not page.public:
        _audit_download(request, who, page.dataset["pid"], kind="dataset", files=len(members))
    manifest = "".join(f"{file['checksumAlgorithm']}:{file['checksum']}  {file['path']}\n" for file in page.files)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", pid).strip("_") + ".zip"
    return StreamingResponse(zipped(members, manifest), media_type="application/zip",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/datasets/{pid:path}", name="dataset_page")
def dataset_page(request: Request, pid: str, store: CatalogueDep, who: CallerDep):
    page = landing.dataset_page(store, pid, who)
    if page is None:
        shows = request.app.state.settings.embargoed_metadata_visible
        summary = landing.embargoed_summary(store, pid, who, shows) if shows else None
        if summary is not None:
            return _page(request, "dataset_embargoed.html", summary=summary)
        return not_found(request, f"There is no dataset {pid!r} here, or it is not open to you.")
    at = _addresses(request, page)
    catalogue_name = f"{getattr(request.app.state.settings, 'facility', '') or 'pancommons'} open data"
    return _page(
        request, "dataset.html", headers={"Link": describe.signposting(page, at)},
        page=page, at=at, jsonld=describe.schema_org(page, at, catalogue_name, str(request.url_for("home"))),
        cite=describe.citation(page, at), bib=describe.bibtex(page, at), spdx=describe.SPDX, human=human_size,
        hdf5=_hdf5, may_release=not page.public and embargo.may_release(store.engine, who, dataset=pid),
    )


@router.get("/proposals/{pid:path}", name="proposal_page")
def proposal_page(request: Request, pid: str, store: CatalogueDep, who: CallerDep):
    page = landing.proposal_page(store, pid, who)
    if page is None:
        return not_found(request, f"There is no proposal {pid!r} here, or it is not open to you.")
    more = json.dumps({"include": [{"relation": "documents", "scope": {"where": {"pid": pid}}}]})
    return _page(request, "proposal.html", page=page, more_filter=more,
                 may_release=not page.public and embargo.may_release(store.engine, who, proposal=pid))


@router.api_route("/files/{file_id}", methods=["GET", "HEAD"], name="download_file")
def download_file(request: Request, file_id: int, store: CatalogueDep, who: CallerDep) -> Response:
    """One file, with Range (206), ETag and Last-Modified (304 when the client's copy is current),
    if the caller may see a dataset holding it. HEAD tells the size without the bytes.
    ``Repr-Digest`` (RFC 9530) carries the catalogued checksum of the whole file, in every answer
    including a range: a client resuming a download checks what it assembled against it."""
    try:
        found = readable_file(store, file_id, who, request.app.state.settings.data_roots)
    except FileRefused as refused:
        return not_found(request, str(refused))
    if request.method == "GET" and under_embargo(store, file_id):
        _audit_download(request, who, found.name, kind="file", file=file_id, range=request.headers.get("range"))
    stat = os.stat(found.path)
    digest = describe.repr_digest(found.checksum, found.checksum_algorithm)
    response = LargeChunkFileResponse(found.path, filename=found.name, media_type=describe.media_type(found.name),
                                      stat_result=stat, headers={"Repr-Digest": digest} if digest else None)
    if _current(request, response.headers["etag"], stat.st_mtime):
        return Response(status_code=304, headers={"ETag": response.headers["etag"],
                                                  "Last-Modified": response.headers["last-modified"]})
    return response


def _audit_download(request: Request, who, target: str, **detail) -> None:
    """Every download of data under embargo is written to the audit log: who, what, when."""
    with request.app.state.auth.engine.begin() as connection:
        audit.record(connection, who.name or "anonymous", "embargoed-download", target, **detail)


def _current(request: Request, etag: str, mtime: float) -> bool:
    """Whether the client's copy is the file as it is (RFC 9110: If-None-Match wins over If-Modified-Since)."""
    wanted = request.headers.get("if-none-match")
    if wanted is not None:
        tags = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        return int(mtime) <= parsedate_to_datetime(since).timestamp()
    except (TypeError, ValueError, IndexError):
        return False  # an unreadable date is ignored, as the RFC says


@router.get("/viewer/{file_id}", name="viewer")
def viewer(request: Request, file_id: int, store: CatalogueDep, who: CallerDep, dataset: str | None = None):
    """H5Web over one file, opened on the NeXus default plot of ``dataset`` (or of the entry made from it).

    The page only names the file by its catalogue id: the bundle asks /h5grove, which checks
    access again on every request."""
    try:
        name = readable_file(store, file_id, who, request.app.state.settings.data_roots).name
    except FileRefused as refused:
        return not_found(request, str(refused))
    shown = viewed_from(store, file_id, who, dataset)
    if shown is None:  # its last visible dataset went away between the two reads
        return not_found(request, f"There is no file {file_id} here, or it is not open to you.")
    # H5Web names the file by the last part of its filepath; the server reads only the id before it
    settings = {"url": request.scope.get("root_path", "") + "/h5grove", "filepath": f"{file_id}/{name}",
                "initialPath": shown.default_plot}
    return _page(request, "viewer.html", name=name, file_id=file_id, dataset=shown, settings=settings)


class LargeChunkFileResponse(FileResponse):
    # Starlette's 64 KiB costs a third of the speed of a large file. Tried on two cores, from a cold
    # page cache, in alternating rounds: 8 and 16 MiB chunks did no better, and reading the next
    # chunk in a thread while the last is sent did worse (0.64 of the disk's speed against 0.74).
    chunk_size = 4 * 1024 * 1024


def _addresses(request: Request, page: landing.DatasetPage) -> describe.Addresses:
    landing_url = str(request.url_for("dataset_page", pid=page.dataset["pid"]))
    metadata = str(request.base_url).rstrip("/") + "/api/Datasets/" + quote(page.dataset["pid"], safe="")
    files = {file["id"]: str(request.url_for("download_file", file_id=str(file["id"])))
             for file in page.files if file["present"]}
    archive = str(request.url_for("download_dataset", pid=page.dataset["pid"])) if files else None
    return describe.Addresses(landing_url, metadata, files, archive)


def _hdf5(name: str) -> bool:
    """Offer the viewer for a file: H5Web reads HDF5 only."""
    return describe.media_type(name) == "application/x-hdf5"
