"""The access matrix (issue 6): every route of the application × every kind of caller × a public,
an embargoed and an unrelated embargoed dataset, each answer checked against the access policy.

The routes come from the application's own route table (``app.routes``), so a new route is in the
matrix the moment it exists: ``ROUTES`` below says how each one is exercised, and a route it does
not name fails every one of its cells with "declare how route … is exercised in the access matrix".
A declared route the application no longer has fails ``test_the_matrix_covers_the_route_table``.

Callers (tests/auth/matrix_catalogue.py): ``anonymous``; ``other`` (signed in, a member of nothing,
with the member's e-mail address, unverified, on their account); ``member`` (of the embargoed
dataset's proposal, by ORCID and verified e-mail); ``scientist`` (instrument scientist of the
embargoed dataset's instrument); ``manager`` (data manager).  Each signed-in caller is tried with
its personal API token (``Authorization: Bearer``) and with its portal session cookie, on every
route.

Targets: ``public`` (everyone sees it), ``embargoed`` (the member, the instrument scientist and the
data manager see it) and ``unrelated`` (an embargoed dataset of another proposal on another
instrument: only the data manager sees it).

What a cell checks:

- record routes (one dataset, proposal, file, viewer, download, h5grove read): the record when the
  caller may see the target (200/206/304), else 404 — with the same answer as for a record that
  does not exist, so "not yours" cannot be told from "not there";
- relations from public records (a publication citing the target, the hub dataset derived from it,
  its sample, its technique, its instrument, a person on its proposal, HDF5 links and virtual
  datasets into its file) lead to the target exactly when the caller may see it;
- collection routes (lists, counts, facets, corpus statistics, text search): the target is in the
  answer exactly when the caller may see it (a ``where`` on its pid, the word only its title and its
  proposal's title hold, its instrument, year and formula in the facets, its document frequency);
- and the whole answer — lists, counts, facets, scores, corpus statistics, the portal's home and
  search pages — equals the answer a data manager gets from a *reference catalogue* built alike with
  the records this caller may not see deleted: what the caller may not see leaves no trace.

Every answer is also checked for a server error and for the e-mail addresses of proposal members
(stored to recognise members, never shown).

The matrix runs on SQLite and PostgreSQL with the policy's defaults, and on SQLite with the facility
option ``embargoed_metadata_visible`` (a metadata-only landing page of what a caller may not see —
every other route must answer as by default).  Early release changes what it releases: its routes
run on a copy of the catalogue, each release undone at once.  A last test asks that what a session
shows of embargoed data is not left for a shared cache to serve to others.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from starlette.routing import Mount, Route

from pancommons.accounts.sessions import COOKIE
from pancommons.api.app import create_app, load_techniques
from pancommons.catalogue import text_index
from pancommons.catalogue.search import Catalogue
from pancommons.config import Settings
from pancommons.db import tables as t
from pancommons.db.engine import make_engine
from pancommons.db.migrate import upgrade
from tests.api.conftest import api_client
from tests.auth.matrix_catalogue import (
    MAY_SEE,
    MEMBER_EMAIL,
    ROLES,
    SHARED_WORDS,
    TARGETS,
    Account,
    Built,
    Target,
    accounts,
    keep_only,
    load,
    write_files,
)
from tests.conftest import SHARED_PANET

TRANSPORTS = {role: ("bearer", "cookie") for role in ROLES} | {"anonymous": (None,)}
MEMBER_EMAILS = (MEMBER_EMAIL, "karl@example.org")  # on proposals' member lists: never shown to anyone else
CSRF_COOKIE, CSRF_FIELD = "pancommons_csrf", "csrf_token"  # portal/csrf.py, as a browser meets them


# --- the application's route table ---------------------------------------------------------------

def route_keys(app) -> list[str]:
    """``METHOD path`` for every route of the application (``MOUNT path`` for a mount, the type's name
    and path for anything else), included routers under their prefixes."""
    try:  # FastAPI ≥ 0.16x keeps included routers lazy: their routes are reached through route contexts
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI copies the included routes into app.routes
        contexts = list(app.routes)
    else:
        contexts = list(iter_route_contexts(app.routes))
    keys = []
    for route in contexts:
        original = getattr(route, "original_route", route)
        if isinstance(original, Mount):
            keys.append(f"MOUNT {route.path}")
        elif isinstance(original, APIRoute | Route):
            keys += [f"{method} {route.path}" for method in sorted(route.methods or ())]
        else:
            keys.append(f"{type(original).__name__} {getattr(route, 'path', repr(route))}")
    return keys


def _application_route_keys() -> list[str]:
    """The route table, read at collection time from an application over an empty catalogue."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp) / "home", database_url=f"sqlite:///{tmp}/routes.db",
                            data_roots=[Path(tmp)], panet_source="")
        reader = make_engine(settings.resolved_database_url, reader=True)
        app = create_app(settings, Catalogue(reader, None))
        try:
            return route_keys(app)
        finally:
            reader.dispose()
            app.state.auth.engine.dispose()


ROUTE_KEYS = _application_route_keys()


# --- the catalogues, the application, the callers ---------------------------------------------------

def visible_set(role: str) -> frozenset[str]:
    return frozenset(name for name in TARGETS if role in MAY_SEE[name])


@dataclass
class ReleaseCatalogue:
    """A copy of the catalogue for the early-release routes, which change what they release: each
    release is undone at once, and a refused one must change nothing."""

    client: TestClient
    engine: object
    built: Built
    accounts: dict[str, Account]

    def state(self) -> tuple:
        with self.engine.connect() as connection:
            datasets = connection.execute(select(
                t.Dataset.id, t.Dataset.is_public, t.Dataset.embargo_until, t.Dataset.embargo_decided,
            ).order_by(t.Dataset.id)).all()
            documents = connection.execute(select(
                t.Document.id, t.Document.is_public, t.Document.release_date, t.Document.release_decided,
            ).order_by(t.Document.id)).all()
        return tuple(map(tuple, datasets)), tuple(map(tuple, documents))

    def restore(self, state: tuple) -> None:
        datasets, documents = state
        with self.engine.begin() as connection:
            for row_id, public, until, decided in datasets:
                connection.execute(update(t.Dataset).where(t.Dataset.id == row_id).values(
                    is_public=public, embargo_until=until, embargo_decided=decided))
            for row_id, public, release, decided in documents:
                connection.execute(update(t.Document).where(t.Document.id == row_id).values(
                    is_public=public, release_date=release, release_decided=decided))
            text_index.rebuild(connection)


@dataclass
class Matrix:
    backend: str
    client: TestClient
    built: Built
    accounts: dict[str, Account]
    references: dict[frozenset[str], tuple[TestClient, Account]]  # by the targets a caller sees
    release: ReleaseCatalogue
    route_keys: list[str]
    file_ids: set[int]
    metadata_visible: bool  # the facility shows a metadata-only page of the datasets a caller may not see
    # a comparison with a reference catalogue depends on the caller, not on the target: made once per
    # (role, transport, request), its outcome reported in each of the caller's cells
    compared: dict[tuple, str | None] = field(default_factory=dict)


# (backend, embargoed_metadata_visible): the policy's default on both backends, and the facility option
# that shows a metadata-only landing page of embargoed datasets on one
BACKENDS = [pytest.param(("sqlite", False), id="sqlite"),
            pytest.param(("postgresql", False), id="postgresql", marks=pytest.mark.postgres),
            pytest.param(("sqlite", True), id="sqlite-metadata-visible")]


@pytest.fixture(scope="module", params=BACKENDS)
def matrix(request, tmp_path_factory):
    """The catalogue on one backend, with two reference catalogues and a copy for early release, built
    once for the module from the same files; one TestClient each."""
    backend, metadata_visible = request.param
    work = tmp_path_factory.mktemp(f"matrix-{backend}")
    data_root = work / "data"
    data_root.mkdir()
    write_files("TESTFAC", data_root, work)

    def database(name: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{work / name}.db"
        return request.getfixturevalue("postgres_server")()

    with pytest.MonkeyPatch.context() as environment, ExitStack() as stack:
        for name in list(os.environ):  # no developer's settings reach these catalogues
            if name.startswith("PANCOMMONS_") and not name.startswith("PANCOMMONS_TEST_"):
                environment.delenv(name)

        def catalogue(name: str):
            settings = Settings(home=work / f"home-{name}", database_url=database(name), data_roots=[data_root],
                                facility="TESTFAC", facility_timezone="UTC", ingest_batch_size=50,
                                embargoed_metadata_visible=metadata_visible,
                                panet_source=str(SHARED_PANET) if SHARED_PANET.is_file() else "")
            engine = make_engine(settings.resolved_database_url)
            stack.callback(engine.dispose)
            upgrade(engine)
            return settings, engine, load(settings, engine, data_root, work)

        settings, engine, built = catalogue("main")
        techniques = load_techniques(settings)
        callers = accounts(engine, built)
        client = stack.enter_context(api_client(settings, techniques))
        references = {visible_set("manager"): (client, callers["manager"])}
        for role in ("anonymous", "member"):
            seen = visible_set(role)
            ref_settings, ref_engine, ref_built = catalogue("reference-" + "-".join(sorted(seen)))
            assert ref_built.dataset_pids == built.dataset_pids  # the same records under the same pids
            keep_only(ref_engine, ref_built, seen)
            manager = accounts(ref_engine, ref_built, roles=("manager",))["manager"]
            references[seen] = (stack.enter_context(api_client(ref_settings, techniques)), manager)
        release_settings, release_engine, release_built = catalogue("release")
        release = ReleaseCatalogue(stack.enter_context(api_client(release_settings, techniques)), release_engine,
                                   release_built, accounts(release_engine, release_built))
        with engine.connect() as connection:
            file_ids = set(connection.execute(select(t.DataFile.id)).scalars())
        name = backend + ("-metadata-visible" if metadata_visible else "")
        yield Matrix(name, client, built, callers, references, release, route_keys(client.app), file_ids,
                     metadata_visible)


# --- one cell: a route, a caller, a target ------------------------------------------------------------

def _repro(response: httpx.Response, role: str, transport: str | None) -> str:
    request = response.request
    how = {None: "no credentials", "bearer": f"Authorization: Bearer <{role}'s API token>",
           "cookie": f"Cookie: {COOKIE}=<{role}'s session>"}[transport]
    return f"{request.method} {request.url} [{how}] → {response.status_code}"


@dataclass
class Cell:
    m: Matrix
    route: str
    role: str
    target: Target
    transport: str | None
    findings: list[str] = field(default_factory=list)

    @property
    def visible(self) -> bool:
        return self.role in MAY_SEE[self.target.name]

    @property
    def built(self) -> Built:
        return self.m.built

    def request(self, method: str, path: str, *, params=None, headers=None, data=None, client: TestClient | None = None,
                account: Account | None = None, transport: str | None | bool = False) -> httpx.Response:
        """One request as this cell's caller (or ``account``), over its transport; no cookie jar."""
        client = client or self.m.client
        account = account or self.m.accounts[self.role]
        transport = self.transport if transport is False else transport
        sent = dict(headers or {})
        if transport == "bearer":
            sent["Authorization"] = f"Bearer {account.token}"
        elif transport == "cookie":
            sent["Cookie"] = "; ".join(filter(None, [sent.get("Cookie"), f"{COOKIE}={account.cookie}"]))
        client.cookies.clear()  # a cookie one answer set (the CSRF seed …) never rides along on the next request
        response = client.request(method, path, params=params, headers=sent, data=data, follow_redirects=False)
        client.cookies.clear()
        if response.status_code >= 500:
            self.problem(f"server error {response.status_code}: {response.text[:300]!r}", response)
        own = MEMBER_EMAIL if self.role in ("member", "other") else None  # their own account's address
        for address in MEMBER_EMAILS:
            if address != own and address.encode() in response.content:
                self.problem(f"a proposal member's e-mail address ({address}) is in the answer", response)
        return response

    def get(self, path: str, **arguments) -> httpx.Response:
        return self.request("GET", path, **arguments)

    def expect(self, signal: str, seen: bool, response: httpx.Response, expected: bool | None = None) -> None:
        """``seen``: whether this answer shows the target; it must be what the policy says."""
        expected = self.visible if expected is None else expected
        if seen != expected:
            what = ("LEAK — shown to a caller who may not see it" if seen and not self.visible
                    else "shown where it should not be" if seen else "missing for a caller who should have it")
            self.findings.append(f"{signal}: {what}\n      repro: {_repro(response, self.role, self.transport)}")

    def problem(self, text: str, response: httpx.Response) -> None:
        self.findings.append(f"{text}\n      repro: {_repro(response, self.role, self.transport)}")

    def reference(self, path: str, params=None) -> tuple[httpx.Response, httpx.Response]:
        """This caller's answer and a data manager's in the catalogue without what this caller may not see."""
        client, manager = self.m.references[visible_set(self.role)]
        mine = self.get(path, params=params)
        theirs = self.request("GET", path, params=params, client=client, account=manager, transport="bearer")
        return mine, theirs

    def same_as_reference(self, name: str, path: str, params=None, extract: Callable | None = None) -> None:
        """The answer equals the reference catalogue's (``extract`` picks what to compare of a page)."""
        key = (self.role, self.transport, path, json.dumps(params, sort_keys=True))
        if key not in self.m.compared:
            mine, theirs = self.reference(path, params)
            extract = extract or (lambda response: _rounded(response.json()))
            self.m.compared[key] = None
            if mine.status_code != theirs.status_code or extract(mine) != extract(theirs):
                self.m.compared[key] = (
                    f"{name}: differs from the answer of a catalogue without the records this caller may not see "
                    f"(a trace of them, or a visible record missing)\n      mine:      {_short(extract(mine))}"
                    f"\n      reference: {_short(extract(theirs))}\n      repro: {_repro(mine, self.role, self.transport)}")
        if self.m.compared[key] is not None:
            self.findings.append(self.m.compared[key])


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) < 1500 else text[:1500] + " …"


def _rounded(value):
    """Scores and averages to 12 significant digits: two databases sum the same terms alike, not bit for bit."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, list):
        return [_rounded(item) for item in value]
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return value


def _main(response: httpx.Response) -> str:
    """A portal page's content, without what depends on who asks (the header: name, forms' tokens)."""
    found = re.search(r"<main>(.*)</main>", response.text, re.DOTALL)
    return re.sub(rf'name="{CSRF_FIELD}" value="[^"]*"', "", found.group(1)) if found else response.text


def _page(response: httpx.Response) -> str:
    """A whole portal page (its head's JSON-LD too) and its Link header, without the site's header (who is
    signed in, the sign-out form) and the forms' one-time tokens."""
    text = re.sub(r'<header class="top">.*?</header>', "", response.text, count=1, flags=re.DOTALL)
    text = re.sub(rf'name="{CSRF_FIELD}" value="[^"]*"', "", text)
    return f"Link: {response.headers.get('link')}\n{text}"


def _fake_pid(pid: str) -> str:
    """A pid nothing has, as long as ``pid``."""
    return pid[:-3] + "qqq"


def _fake_file_id(cell: Cell, file_id: int) -> int:
    """A file id nothing has, with as many digits as ``file_id``."""
    digits = len(str(file_id))
    return next(n for n in range(10**digits - 1, 10 ** (digits - 1) - 1, -1) if n not in cell.m.file_ids)


def _variants(identifier: str) -> list[str]:
    """How an identifier may be written back: as asked, URL-quoted, or lower-cased (a message the portal
    capitalises with ``str.capitalize`` lower-cases the rest)."""
    spelled = {identifier, quote(identifier, safe=""), quote(identifier)}
    return sorted(spelled | {variant.lower() for variant in spelled}, key=len, reverse=True)


def _refusal(response: httpx.Response, replaced: list[str]) -> tuple:
    """What a refusal says, with the identifiers asked for (and the forms' one-time tokens) blanked."""
    body = re.sub(rf'name="{CSRF_FIELD}" value="[^"]*"', "", response.content.decode(errors="replace"))
    for identifier in replaced:
        for variant in _variants(identifier):
            body = body.replace(variant, "⟨id⟩")
    return response.status_code, response.headers.get("content-type"), response.headers.get("content-length"), body


def _difference(one: tuple, other: tuple) -> str:
    """Where two refusals part (status, type, length, then the first differing text)."""
    if one[:3] != other[:3]:
        return f"{one[:3]} vs {other[:3]}"
    a, b = one[3], other[3]
    at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return f"…{a[max(0, at - 60):at + 80]!r}… vs …{b[max(0, at - 60):at + 80]!r}…"


def record(cell: Cell, signal: str, ask: Callable[[str], tuple], real: str, fake: str,
           present: Callable[[httpx.Response], bool] | None = None, method: str = "GET", headers=None) -> httpx.Response:
    """A record route: ``ask(identifier)`` gives (path, params).  The record when the caller may see it;
    else 404, the same as for an identifier nothing has (``fake``)."""
    path, params = ask(real)
    response = cell.request(method, path, params=params, headers=headers)
    if response.status_code in (200, 206, 304):
        cell.expect(signal, True, response)
        if present is not None and not present(response):
            cell.problem(f"{signal}: answered {response.status_code} without the record", response)
    elif response.status_code == 404:
        cell.expect(signal, False, response)
        fake_path, fake_params = ask(fake)
        other = cell.request(method, fake_path, params=fake_params, headers=headers)
        mine, missing = _refusal(response, [real, fake]), _refusal(other, [real, fake])
        if mine != missing:
            cell.problem(f"{signal}: the refusal differs from the answer for a record that does not exist "
                         f"({_difference(mine, missing)})", response)
    else:
        cell.problem(f"{signal}: answered {response.status_code}, expected the record or 404", response)
    return response


def related(cell: Cell, signal: str, path: str, params, leads: Callable[[httpx.Response], bool]) -> None:
    """A public record whose relations may lead to the target: always there, leading to it only when
    the caller may see it."""
    response = cell.get(path, params=params)
    if response.status_code != 200:
        cell.problem(f"{signal}: the public record answered {response.status_code}", response)
        return
    cell.expect(signal, leads(response), response)


def counted(cell: Cell, signal: str, observed: int, response: httpx.Response, universe: int = 0) -> None:
    """A count over the catalogue (``universe`` public records besides the targets): it must count the
    target exactly when the caller may see it."""
    others = sum(1 for name in TARGETS if name != cell.target.name and cell.role in MAY_SEE[name])
    with_target, without = universe + others + 1, universe + others
    if observed not in (with_target, without):
        cell.problem(f"{signal}: counted {observed}, expected {without} or {with_target}", response)
        return
    cell.expect(signal, observed == with_target, response)


def j(value) -> str:
    return json.dumps(value)


def pids(response: httpx.Response) -> list[str]:
    body = response.json()
    return [item["pid"] for item in body] if isinstance(body, list) else []


# --- how each route is exercised ----------------------------------------------------------------------

@dataclass(frozen=True)
class Declared:
    how: str  # what "visible" and "not visible" mean on this route
    probe: Callable[[Cell], None] | None  # None: not exercised here (``how`` says why)


ROUTES: dict[str, Declared] = {}


def route(*keys: str, how: str):
    def register(probe):
        for key in keys:
            assert key not in ROUTES, key
            ROUTES[key] = Declared(how, probe)
        return probe
    return register


def declare(*keys: str, how: str) -> None:
    for key in keys:
        assert key not in ROUTES, key
        ROUTES[key] = Declared(how, None)


# The PaNOSC Search API ------------------------------------------------------------------------------

@route("GET /api/Datasets/{pid:path}", how="the dataset (also with %2F, lower-case, all relations) or 404; "
       "the hub's sample and technique lead to it only when visible")
def _api_dataset(cell: Cell) -> None:
    target = cell.target

    def is_it(response):
        return response.json().get("pid") == target.pid

    record(cell, "the dataset", lambda pid: (f"/api/Datasets/{pid}", None), target.pid, _fake_pid(target.pid), is_it)
    record(cell, "the dataset by its %2F pid", lambda pid: (f"/api/Datasets/{quote(pid, safe='')}", None),
           target.pid, _fake_pid(target.pid), is_it)
    record(cell, "the dataset at a lower-case path", lambda pid: (f"/api/datasets/{pid}", None),
           target.pid, _fake_pid(target.pid), is_it)
    everything = j({"include": ["documents", "instrument", "techniques", "samples", "parameters", "files"]})
    record(cell, "the dataset with its relations", lambda pid: (f"/api/Datasets/{pid}", {"filter": everything}),
           target.pid, _fake_pid(target.pid), is_it)
    related(cell, "the hub dataset's documents", f"/api/Datasets/{cell.built.hub_pid}",
            {"filter": j({"include": ["documents"]})}, lambda r: target.proposal in {d["pid"] for d in r.json()["documents"]})
    for relation in ("samples", "techniques"):
        deep = j({"include": [{"relation": relation, "scope": {"include": ["datasets"]}}]})
        related(cell, f"the hub dataset's {relation} → datasets", f"/api/Datasets/{cell.built.hub_pid}",
                {"filter": deep}, lambda r, rel=relation: target.pid in {
                    d["pid"] for item in r.json()[rel] for d in item.get("datasets", [])})


@route("GET /api/Datasets/{pid:path}/files", how="the dataset's files or 404")
def _api_dataset_files(cell: Cell) -> None:
    target = cell.target
    record(cell, "the dataset's files", lambda pid: (f"/api/Datasets/{pid}/files", None), target.pid,
           _fake_pid(target.pid), lambda r: [f["name"] for f in r.json()] == [target.file_name])
    record(cell, "the dataset's files with their dataset",
           lambda pid: (f"/api/Datasets/{pid}/files", {"filter": j({"include": ["dataset"]})}), target.pid,
           _fake_pid(target.pid), lambda r: r.json()[0]["dataset"]["pid"] == target.pid)


@route("GET /api/Datasets/{pid:path}/files/count", how="its count of files (1) or 404")
def _api_dataset_files_count(cell: Cell) -> None:
    target = cell.target
    record(cell, "the count of the dataset's files", lambda pid: (f"/api/Datasets/{pid}/files/count", None),
           target.pid, _fake_pid(target.pid), lambda r: r.json() == {"count": 1})


@route("GET /api/Documents/{pid:path}", how="the target's proposal (with members, datasets) or 404; the public "
       "publication's datasets and the local contact's other proposals include it only when visible")
def _api_document(cell: Cell) -> None:
    target = cell.target

    def is_it(response):
        return response.json().get("pid") == target.proposal

    record(cell, "its proposal", lambda pid: (f"/api/Documents/{pid}", None), target.proposal,
           _fake_pid(target.proposal), is_it)
    with_relations = j({"include": ["datasets", {"relation": "members", "scope": {"include": ["person", "affiliation"]}}]})
    record(cell, "its proposal with datasets and members", lambda pid: (f"/api/Documents/{pid}", {"filter": with_relations}),
           target.proposal, _fake_pid(target.proposal), is_it)
    related(cell, "the publication's datasets", f"/api/Documents/{cell.built.publication}",
            {"filter": j({"include": ["datasets"]})}, lambda r: target.pid in {d["pid"] for d in r.json()["datasets"]})
    # the public proposal → its local contact → every membership of that person → their proposals
    # the public proposal → its local contact (her person, her affiliation) → their memberships → proposals
    public = cell.built.targets["public"].proposal
    for via in ("person", "affiliation"):
        reach = j({"include": [{"relation": "members", "scope": {"include": [{"relation": via, "scope": {"include": [
            {"relation": "members", "scope": {"include": ["document"]}}]}}]}}]})
        related(cell, f"the public proposal's members → {via} → members → document", f"/api/Documents/{public}",
                {"filter": reach}, lambda r, via=via: target.proposal in {
                    (m.get("document") or {}).get("pid") for member in r.json()["members"]
                    for m in (member.get(via) or {}).get("members", [])})


@route("GET /api/Instruments/{pid:path}", how="instruments are public (200 for all); its datasets include the "
       "target only when visible; with a filtering include of the target's pid: the instrument, or 404 as for a "
       "pid nothing has")
def _api_instrument(cell: Cell) -> None:
    target = cell.target
    related(cell, "its instrument's datasets", f"/api/Instruments/{target.instrument}",
            {"filter": j({"include": ["datasets"]})}, lambda r: target.pid in {d["pid"] for d in r.json()["datasets"]})
    # a filtering include filters the parent: the instrument "having" the target is a record of it
    record(cell, "its instrument having its pid", lambda pid: (f"/api/Instruments/{target.instrument}", {
        "filter": j({"include": [{"relation": "datasets", "scope": {"where": {"pid": pid}}}]})}),
        target.pid, _fake_pid(target.pid), lambda r: [d["pid"] for d in r.json()["datasets"]] == [target.pid])


@route("GET /api/Datasets", how="lists hold the target only when visible (by pid, word, relations, unfiltered); "
       "the whole list and shared-word scores equal the reference catalogue's")
def _api_datasets(cell: Cell) -> None:
    target = cell.target
    for name, params in (
        ("where pid", {"filter": j({"where": {"pid": target.pid}})}),
        ("where title ilike its word", {"filter": j({"where": {"title": {"ilike": f"%{target.word}%"}}})}),
        ("text query of its word", {"query": target.word}),
        ("text query of its word, as filter", {"filter": j({"query": target.word, "limit": 50})}),
        ("unfiltered", {"filter": j({"limit": 1000})}),
        ("by its instrument", {"filter": j({"include": [{"relation": "instrument", "scope": {"where": {"pid": target.instrument}}}]})}),
        ("by its proposal", {"filter": j({"include": [{"relation": "documents", "scope": {"where": {"pid": target.proposal}}}]})}),
        ("by its sample formula", {"filter": j({"include": [{"relation": "samples", "scope": {"where": {"chemicalFormula": target.formula}}}]})}),
        ("where not public", {"filter": j({"where": {"isPublic": False}})}),
    ):
        response = cell.get("/api/Datasets", params=params)
        if response.status_code != 200:
            cell.problem(f"Datasets {name}: answered {response.status_code}", response)
            continue
        found = pids(response)
        if name == "where not public" and target.name == "public":
            cell.expect(f"Datasets {name}", target.pid in found, response, expected=False)
            continue
        cell.expect(f"Datasets {name}", target.pid in found, response)
        if (name.startswith("text query") or name == "by its proposal") and not cell.visible and found:
            cell.problem(f"Datasets {name}: found {found} through a hidden record", response)
    if not cell.visible:  # the public hub belongs to the target's proposal: it must not carry a hidden title
        response = cell.get("/api/Datasets", params={"query": target.proposal_word})
        if response.status_code != 200 or pids(response):
            cell.problem(f"Datasets found by a hidden proposal's word: {response.text[:300]}", response)
        response = cell.get("/api/Datasets/count", params={"query": target.proposal_word})
        if response.status_code != 200 or response.json() != {"count": 0}:
            cell.problem(f"Datasets counted by a hidden proposal's word: {response.text[:300]}", response)
    cell.same_as_reference("the whole list with relations", "/api/Datasets", {"filter": j({
        "limit": 1000, "include": ["documents", "instrument", "techniques", "samples", "parameters"]})})
    cell.same_as_reference("a shared-word search (records and scores)", "/api/Datasets",
                           {"query": SHARED_WORDS, "filter": j({"limit": 1000})})


@route("GET /api/Datasets/count", how="counts by pid/word count the target only when visible; the whole "
       "count equals the reference catalogue's")
def _api_datasets_count(cell: Cell) -> None:
    target = cell.target
    for name, params in (
        ("where pid", {"where": j({"pid": target.pid})}),
        ("where title like its word", {"where": j({"title": {"like": f"%{target.word}%"}})}),
        ("text query of its word", {"query": target.word}),
    ):
        response = cell.get("/api/Datasets/count", params=params)
        count = response.json().get("count") if response.status_code == 200 else None
        if count not in (0, 1):
            cell.problem(f"count {name}: {response.text[:200]}", response)
            continue
        cell.expect(f"count {name}", count == 1, response)
    response = cell.get("/api/Datasets/count")
    if response.status_code == 200:
        counted(cell, "the whole count", response.json()["count"], response, universe=1)
    for name, params in (("the whole count", None), ("count where not public", {"where": j({"isPublic": False})}),
                         ("count of a shared-word query", {"query": SHARED_WORDS})):
        cell.same_as_reference(name, "/api/Datasets/count", params)


@route("GET /api/Datasets/corpus", how="the document frequency of its word is 1 only when visible; the "
       "statistics equal the reference catalogue's")
def _api_datasets_corpus(cell: Cell) -> None:
    _corpus(cell, "/api/Datasets/corpus")


def _corpus(cell: Cell, path: str) -> None:
    target = cell.target
    word = target.proposal_word if path.startswith("/api/Documents") else target.word
    response = cell.get(path, params={"query": word})
    frequency = response.json().get("frequencies", {}).get(word) if response.status_code == 200 else None
    if frequency not in (0, 1):
        cell.problem(f"corpus statistics of its word: {response.text[:200]}", response)
    else:
        cell.expect("the document frequency of its word", frequency == 1, response)
    words = " ".join([SHARED_WORDS, "hub", "proposal", *(cell.built.targets[name].word for name in TARGETS),
                      *(cell.built.targets[name].proposal_word for name in TARGETS)])
    cell.same_as_reference("corpus statistics", path, {"query": words})


@route("GET /api/Datasets/facets", how="its instrument, year and formula are in the whole panel and a panel "
       "filtered to it counts it only when visible; panels equal the reference catalogue's")
def _api_datasets_facets(cell: Cell) -> None:
    target = cell.target
    response = cell.get("/api/Datasets/facets")
    if response.status_code == 200:
        panel = response.json()
        cell.expect("its instrument in the facets", target.instrument in {i["value"] for i in panel["instrument"]}, response)
        cell.expect("its year in the facets", target.year in {i["value"] for i in panel["year"]}, response)
        cell.expect("its formula in the facets", target.formula in {i["value"] for i in panel["sampleFormula"]}, response)
        counted(cell, "the facets' total", panel["total"], response, universe=1)
    for name, params in (
        ("facets of its word", {"query": target.word}),
        ("facets where pid", {"where": j({"pid": target.pid})}),
        ("facets of its instrument", {"filter": j({"include": [
            {"relation": "instrument", "scope": {"where": {"pid": target.instrument}}}]})}),
    ):
        response = cell.get("/api/Datasets/facets", params=params)
        total = response.json().get("total") if response.status_code == 200 else None
        if total not in (0, 1):
            cell.problem(f"{name}: {response.text[:200]}", response)
            continue
        cell.expect(name, total == 1, response)
    for name, params in (("the whole facet panel", None), ("the facets of a shared-word query", {"query": SHARED_WORDS}),
                         ("the facets of the embargoed", {"where": j({"isPublic": False})})):
        cell.same_as_reference(name, "/api/Datasets/facets", params)


@route("GET /api/Documents", how="lists hold its proposal only when visible (by pid, word, dataset, "
       "unfiltered); the publication lists it only when visible; lists and scores equal the reference's")
def _api_documents(cell: Cell) -> None:
    target = cell.target
    for name, params, wanted in (
        ("where pid", {"filter": j({"where": {"pid": target.proposal}})}, target.proposal),
        ("text query of its proposal's word", {"query": target.proposal_word}, target.proposal),
        ("unfiltered", {"filter": j({"limit": 1000})}, target.proposal),
        ("by its dataset", {"filter": j({"include": [{"relation": "datasets", "scope": {"where": {"pid": target.pid}}}]})},
         target.proposal),
        ("the publication's by its dataset", {"filter": j({"where": {"pid": cell.built.publication}, "include": [
            {"relation": "datasets", "scope": {"where": {"pid": target.pid}}}]})}, cell.built.publication),
    ):
        response = cell.get("/api/Documents", params=params)
        if response.status_code != 200:
            cell.problem(f"Documents {name}: answered {response.status_code}", response)
            continue
        cell.expect(f"Documents {name}", wanted in pids(response), response)
        if name in ("text query of its proposal's word", "by its dataset") and not cell.visible and pids(response):
            cell.problem(f"Documents {name}: found {pids(response)} through a hidden record", response)
    cell.same_as_reference("the whole list with datasets and members", "/api/Documents", {"filter": j({"limit": 1000, "include": [
        "datasets", {"relation": "members", "scope": {"include": ["person"]}}]})})
    cell.same_as_reference("a shared-word search (records and scores)", "/api/Documents",
                           {"query": f"{SHARED_WORDS} proposal hub", "filter": j({"limit": 1000})})


@route("GET /api/Documents/count", how="counts by pid/word count its proposal only when visible; the whole "
       "count equals the reference's")
def _api_documents_count(cell: Cell) -> None:
    target = cell.target
    for name, params in (("where pid", {"where": j({"pid": target.proposal})}),
                         ("text query of its proposal's word", {"query": target.proposal_word})):
        response = cell.get("/api/Documents/count", params=params)
        count = response.json().get("count") if response.status_code == 200 else None
        if count not in (0, 1):
            cell.problem(f"Documents count {name}: {response.text[:200]}", response)
            continue
        cell.expect(f"Documents count {name}", count == 1, response)
    response = cell.get("/api/Documents/count")
    if response.status_code == 200:
        counted(cell, "the whole count of documents", response.json()["count"], response, universe=1)
    cell.same_as_reference("the whole count of documents", "/api/Documents/count")
    cell.same_as_reference("the count of a shared-word query", "/api/Documents/count", {"query": "proposal"})


@route("GET /api/Documents/corpus", how="the document frequency of its word is 1 only when visible; the "
       "statistics equal the reference's")
def _api_documents_corpus(cell: Cell) -> None:
    _corpus(cell, "/api/Documents/corpus")


@route("GET /api/Instruments", how="an instrument list filtered by the target's pid holds its instrument only "
       "when visible; the list with datasets equals the reference's")
def _api_instruments(cell: Cell) -> None:
    target = cell.target
    response = cell.get("/api/Instruments", params={"filter": j({"include": [
        {"relation": "datasets", "scope": {"where": {"pid": target.pid}}}]})})
    if response.status_code == 200:
        cell.expect("instruments having its pid", target.instrument in pids(response), response)
        if not cell.visible and pids(response):
            cell.problem(f"instruments found through a hidden dataset: {pids(response)}", response)
    response = cell.get("/api/Instruments", params={"filter": j({"include": ["datasets"]})})
    if response.status_code == 200:
        cell.expect("instruments with their datasets", target.pid in {
            d["pid"] for item in response.json() for d in item.get("datasets", [])}, response)
    cell.same_as_reference("instruments with their datasets", "/api/Instruments", {"filter": j({"include": ["datasets"]})})
    cell.same_as_reference("an instrument text search", "/api/Instruments", {"query": "matrix light source"})


@route("GET /api/Instruments/count", how="instruments are public: the counts equal the reference's "
       "(the instrument of every target is counted for everyone)")
def _api_instruments_count(cell: Cell) -> None:
    response = cell.get("/api/Instruments/count", params={"where": j({"pid": cell.target.instrument})})
    if response.status_code != 200 or response.json() != {"count": 1}:
        cell.problem(f"its instrument is not counted: {response.text[:200]}", response)
    cell.same_as_reference("the count of instruments", "/api/Instruments/count")
    cell.same_as_reference("the count of an instrument text query", "/api/Instruments/count", {"query": "matrix"})


@route("GET /api/Instruments/corpus", how="instruments are public: the statistics equal the reference's")
def _api_instruments_corpus(cell: Cell) -> None:
    cell.same_as_reference("instrument corpus statistics", "/api/Instruments/corpus",
                           {"query": "matrix light source zanbl kalbl pubbl"})


# The viewer's h5grove endpoints --------------------------------------------------------------------

COUNTS = "/entry/data/counts"


def _h5grove(endpoint: str, path: str, present: Callable[[Cell, httpx.Response], bool], through: dict[str, int],
             **extra):
    """``through``: the hub's entries reaching into the target's file (``link``: an external link,
    ``virtual``: a virtual dataset) and the status that shows the reach succeeded."""
    def probe(cell: Cell) -> None:
        target = cell.target
        record(cell, f"h5grove {endpoint} of its file",
               lambda file: (f"/h5grove/{endpoint}", {"file": file, "path": path, **extra}),
               str(target.file_id), str(_fake_file_id(cell, target.file_id)), lambda r: present(cell, r))
        for via, reached in through.items():
            response = cell.get(f"/h5grove/{endpoint}", params={
                "file": cell.built.hub_file_id, "path": f"/entry/{via}_{target.name}", **extra})
            if response.status_code not in (reached, 404):
                cell.problem(f"h5grove {endpoint} through the hub's {via}: answered {response.status_code}", response)
                continue
            cell.expect(f"h5grove {endpoint} through the hub's {via}", response.status_code == reached, response)
            if response.status_code == 200 and endpoint == "data" and response.json() != target.counts:
                cell.problem(f"h5grove data through the hub's {via}: not the target's values", response)
        if endpoint == "meta":  # the hub's group lists the link: resolved only for a caller who may read the target
            response = cell.get("/h5grove/meta", params={"file": cell.built.hub_file_id, "path": "/entry"})
            child = next((c for c in response.json().get("children", []) if c.get("name") == f"link_{target.name}"), None) \
                if response.status_code == 200 else None
            if child is None:
                cell.problem("h5grove meta of the hub's group: no child for the link", response)
            else:
                cell.expect("h5grove meta of the hub's group resolves the link", child.get("kind") == "dataset", response)
    return probe


route("GET /h5grove/meta", how="its file's metadata or 404 (as for a file that does not exist); the hub's link "
      "into it resolves (alone or as a child) only when visible")(
    _h5grove("meta", COUNTS, lambda c, r: r.json().get("shape") == [16], {"link": 200}))
route("GET /h5grove/attr", how="its file's attributes or 404; through the hub's link only when visible")(
    _h5grove("attr", COUNTS, lambda c, r: c.target.word in r.json().get("long_name", ""), {"link": 200}))
route("GET /h5grove/data", how="its file's values or 404; through the hub's link and virtual dataset only when visible")(
    _h5grove("data", COUNTS, lambda c, r: r.json() == c.target.counts, {"link": 200, "virtual": 200}, format="json"))
route("GET /h5grove/stats", how="its file's statistics or 404; through the hub's link and virtual dataset only when visible")(
    _h5grove("stats", COUNTS, lambda c, r: r.json().get("min") == c.target.counts[0], {"link": 200, "virtual": 200}))
route("GET /h5grove/paths", how="its file's paths or 404; the hub's link into it resolves (422: not a group) only "
      "when visible")(_h5grove("paths", "/", lambda c, r: COUNTS in r.json(), {"link": 422}))


# The portal ---------------------------------------------------------------------------------------

def _links_to(response: httpx.Response, kind: str, pid: str) -> bool:
    return f'/{kind}/{pid}"' in response.text


def _page_count(cell: Cell, response: httpx.Response, pattern: str) -> int | None:
    found = re.search(pattern, response.text)
    if response.status_code != 200 or found is None:
        cell.problem(f"no count ({pattern}) on the page", response)
        return None
    return int(found.group(1).replace(",", ""))


@route("GET /", how="the home page counts the target only when visible; its content equals the reference's")
def _home(cell: Cell) -> None:
    response = cell.get("/")
    count = _page_count(cell, response, r"([\d,]+) public datasets")
    if count is not None:
        counted(cell, "the home page's count", count, response, universe=1)
    cell.same_as_reference("the home page", "/", extract=_page)


@route("GET /search", how="a search for its word, by its instrument or formula lists it, and its instrument and year "
       "are offered, only when visible; result pages (hits, scores, facets) equal the reference's")
def _search(cell: Cell) -> None:
    target = cell.target
    for name, params in (("its word", {"q": target.word}), ("its instrument", {"instrument": target.instrument}),
                         ("its formula", {"formula": target.formula})):
        response = cell.get("/search", params=params)
        if response.status_code != 200:
            cell.problem(f"search by {name}: answered {response.status_code}", response)
            continue
        cell.expect(f"a search by {name} lists it", _links_to(response, "datasets", target.pid), response)
        total = _page_count(cell, response, r"<strong>([\d,]+)</strong> datasets")
        if total is not None and name == "its word":
            cell.expect(f"a search by {name} counts it", total == 1, response)
        hits = re.search(r'<ol class="hits".*?</ol>', response.text, re.DOTALL)
        if not cell.visible and hits and target.word in hits.group(0):
            cell.problem(f"search by {name}: its word is among the hits", response)
    response = cell.get("/search")
    cell.expect("its instrument offered as a filter", f'value="{target.instrument}"' in response.text, response)
    cell.expect("its year offered as a filter", f'<option value="{target.year}"' in response.text, response)
    response = cell.get("/search", params={"kind": "proposals", "q": target.proposal_word})
    cell.expect("a proposal search for its word lists its proposal", _links_to(response, "proposals", target.proposal), response)
    for params in ({"q": SHARED_WORDS}, None, {"kind": "proposals"}, {"kind": "proposals", "q": "proposal"},
                   {"q": SHARED_WORDS, "sort": "title"}):
        cell.same_as_reference(f"the search page {params}", "/search", params, extract=_page)


@route("GET /download/datasets/{pid:path}", how="the ZIP of its files or 404 (as for a dataset that does not exist)")
def _download_dataset(cell: Cell) -> None:
    target = cell.target

    def holds_its_file(response) -> bool:
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            names = [name for name in archive.namelist() if name.endswith(target.file_name)]
            return len(names) == 1 and archive.read(names[0]) == target.file_bytes

    record(cell, "the ZIP of its files", lambda pid: (f"/download/datasets/{pid}", None), target.pid,
           _fake_pid(target.pid), holds_its_file)


@route("GET /datasets/{pid:path}", how="its landing page or 404 (as for a dataset that does not exist) — where the "
       "facility shows embargoed metadata, a metadata-only page (title, instrument, proposal, release date; no "
       "files, values or people) instead of 404; the hub's page links it only when visible and equals the reference's")
def _dataset_page(cell: Cell) -> None:
    target = cell.target
    if cell.m.metadata_visible and not cell.visible:
        _metadata_only_page(cell)
    else:
        record(cell, "its landing page", lambda pid: (f"/datasets/{pid}", None), target.pid, _fake_pid(target.pid),
               lambda r: target.word in r.text)
    hub = cell.built.hub_pid
    related(cell, "the hub's landing page links it (derived from)", f"/datasets/{hub}", None,
            lambda r: _links_to(r, "datasets", target.pid))
    # the hub belongs to the target's proposal too: its people are the hub's creators only for those who see it
    related(cell, "the hub's landing page (JSON-LD, citation, Link header) names its proposal's leader",
            f"/datasets/{hub}", None, lambda r: target.leader in r.text or target.leader_orcid in r.text
            or target.leader_orcid in r.headers.get("link", ""))
    cell.same_as_reference("the hub's landing page", f"/datasets/{hub}", extract=_page)


def _metadata_only_page(cell: Cell) -> None:
    """The facility's metadata-only page of a dataset the caller may not see: its summary, nothing more."""
    target = cell.target
    response = cell.get(f"/datasets/{target.pid}")
    if response.status_code != 200 or target.word not in response.text:
        cell.problem(f"the metadata-only page: answered {response.status_code} without the dataset's title", response)
        return
    page = _main(response)
    shown = [what for what, text in (
        ("a file link", "/files/"), ("a viewer link", "/viewer/"), ("a download link", "/download/"),
        ("the file's name", target.file_name), ("its sample formula", target.formula), ("a member's name", "Mia Member"),
        ("a member's name", "Karl Kal"), ("the local contact's name", "Lena Local"), ("an ORCID", "orcid.org"),
        ("the wavelength", "angstrom"), ("the wavelength", "Å"), ("the derived dataset", cell.built.hub_pid),
    ) if text in page]
    if shown:
        cell.problem(f"the metadata-only page shows {sorted(set(shown))}", response)


@route("GET /proposals/{pid:path}", how="its proposal's page or 404; the publication's page lists it only when "
       "visible and equals the reference's")
def _proposal_page(cell: Cell) -> None:
    target = cell.target
    record(cell, "its proposal's page", lambda pid: (f"/proposals/{pid}", None), target.proposal,
           _fake_pid(target.proposal), lambda r: target.proposal_word in r.text)
    publication = cell.built.publication
    related(cell, "the publication's page lists it", f"/proposals/{publication}", None,
            lambda r: _links_to(r, "datasets", target.pid))
    cell.same_as_reference("the publication's page", f"/proposals/{publication}", extract=_page)
    public = cell.built.targets["public"].proposal
    cell.same_as_reference("the public proposal's page", f"/proposals/{public}", extract=_page)


@route("GET /files/{file_id}", how="its file (whole, a range: 206, if-none-match: 304) or 404 (as for a file that "
       "does not exist)")
def _file(cell: Cell) -> None:
    target = cell.target
    real, fake = str(target.file_id), str(_fake_file_id(cell, target.file_id))
    record(cell, "its file", lambda file: (f"/files/{file}", None), real, fake, lambda r: r.content == target.file_bytes)
    record(cell, "a range of its file", lambda file: (f"/files/{file}", None), real, fake,
           lambda r: r.status_code == 206 and r.content == target.file_bytes[:16], headers={"Range": "bytes=0-15"})
    record(cell, "its file if changed (If-None-Match: *)", lambda file: (f"/files/{file}", None), real, fake,
           lambda r: r.status_code == 304, headers={"If-None-Match": "*"})


@route("HEAD /files/{file_id}", how="its file's size or 404 (as for a file that does not exist)")
def _file_head(cell: Cell) -> None:
    target = cell.target
    record(cell, "its file's size", lambda file: (f"/files/{file}", None), str(target.file_id),
           str(_fake_file_id(cell, target.file_id)), lambda r: r.headers.get("content-length") == str(len(target.file_bytes)),
           method="HEAD")


@route("GET /viewer/{file_id}", how="the viewer of its file (also opened on its dataset) or 404")
def _viewer(cell: Cell) -> None:
    target = cell.target
    real, fake = str(target.file_id), str(_fake_file_id(cell, target.file_id))
    record(cell, "its viewer", lambda file: (f"/viewer/{file}", None), real, fake, lambda r: target.word in r.text)
    record(cell, "its viewer on its dataset", lambda file: (f"/viewer/{file}", {"dataset": target.pid}), real, fake,
           lambda r: target.word in r.text)
    # the hub's file, asked to open on the target's dataset (which does not hold it)
    response = cell.get(f"/viewer/{cell.built.hub_file_id}", params={"dataset": target.pid})
    if response.status_code != 200 or target.word in response.text:
        cell.problem(f"the hub's viewer named after the target: answered {response.status_code}"
                     + (" with its title" if target.word in response.text else ""), response)


def _mine(path: str, kind: str, listed_for: set[tuple[str, str]]):
    """A signed-in person's own page: it lists the target for ``listed_for`` (role, target) only — their
    own part of the catalogue, never beyond what they may see; anonymous callers are sent to sign in."""
    def probe(cell: Cell) -> None:
        target = cell.target
        response = cell.get(path)
        if cell.role == "anonymous":
            if response.status_code != 303 or not response.headers.get("location", "").startswith("/login"):
                cell.problem(f"{path} without signing in: answered {response.status_code}, expected 303 to /login", response)
            return
        if response.status_code != 200:
            cell.problem(f"{path}: answered {response.status_code}", response)
            return
        pid, word = (target.proposal, target.proposal_word) if kind == "proposals" else (target.pid, target.word)
        listed = _links_to(response, kind, pid) or word in response.text
        cell.expect(f"{path} lists it", listed, response, expected=(cell.role, target.name) in listed_for)
    return probe


route("GET /me/proposals", how="lists its proposal for a member of it only (anonymous: 303 to /login)")(
    _mine("/me/proposals", "proposals", {("member", "embargoed")}))
route("GET /me/data", how="lists it for a member of its proposal and its instrument scientist only")(
    _mine("/me/data", "datasets", {("member", "embargoed"), ("scientist", "embargoed")}))


def _release(kind: str):
    """Early release, on the copy of the catalogue: done (303 to its page) for the proposal's principal
    investigator and a data manager, then undone; 403 for another caller who sees it; 404 (as for a
    record that does not exist) for one who does not; 303 to /login for an anonymous caller; 403 for
    any bearer token (the form is a signed-in browser's).  A refused release changes nothing."""
    def probe(cell: Cell) -> None:
        copy = cell.m.release
        target = copy.built.targets[cell.target.name]
        real = target.proposal if kind == "proposals" else target.pid
        account = copy.accounts[cell.role]
        page = cell.request("GET", "/login", client=copy.client, account=account)
        seed, token = page.cookies.get(CSRF_COOKIE), re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', page.text)
        if not seed or not token:
            cell.problem("no form token on the sign-in page", page)
            return

        def post(pid: str) -> httpx.Response:
            return cell.request("POST", f"/release/{kind}/{pid}", client=copy.client, account=account,
                                headers={"Cookie": f"{CSRF_COOKIE}={seed}"}, data={CSRF_FIELD: token.group(1)})

        before = copy.state()
        response = post(real)
        after = copy.state()
        location = response.headers.get("location", "")
        may_release = cell.role == "manager" or (cell.role == "member" and cell.target.name == "embargoed")
        done = response.status_code == 303 and not location.startswith("/login")
        if done:
            copy.restore(before)
            assert copy.state() == before
        elif after != before:
            cell.problem("a refused release changed the catalogue", response)
        if cell.role == "anonymous":
            if response.status_code != 303 or not location.startswith("/login"):
                cell.problem(f"release without signing in: answered {response.status_code}, expected 303 to /login", response)
            return
        if cell.transport == "bearer":
            # The forms that change something are a signed-in browser's: a token (perhaps a script's, perhaps
            # short-lived) is refused alike for every record, visible or not — nothing to learn from the answer.
            if response.status_code != 403 or "not for API tokens" not in response.text:
                cell.problem(f"release with a bearer token: answered {response.status_code}, expected 403", response)
            return
        if response.status_code not in (303, 403, 404):
            cell.problem(f"release: answered {response.status_code}", response)
            return
        cell.expect(f"the release of its {kind[:-1]} knows it", response.status_code != 404, response)
        cell.expect(f"the release of its {kind[:-1]} is done", done, response, expected=may_release)
        if response.status_code == 404:
            other = post(_fake_pid(real))
            mine, missing = _refusal(response, [real, _fake_pid(real)]), _refusal(other, [real, _fake_pid(real)])
            if mine != missing:
                cell.problem("the refused release differs from the answer for a record that does not exist "
                             f"({_difference(mine, missing)})", response)
    return probe


route("POST /release/proposals/{pid:path}", how="done for its principal investigator and a data manager, 403 for "
      "others who see it, 404 (as for none) for those who do not")(_release("proposals"))
route("POST /release/datasets/{pid:path}", how="as for its proposal")(_release("datasets"))


def _no_catalogue_data(method: str = "GET", path: str | None = None):
    """A route that shows no catalogue data: whoever asks, it names no target."""
    def probe(cell: Cell) -> None:
        response = cell.request(method, path or cell.route.split(" ", 1)[1])
        for target in cell.built.targets.values():
            if any(name.encode() in response.content for name in (target.word, target.proposal_word, target.pid)):
                cell.problem(f"names the {target.name} target", response)
    return probe


for _key in ("GET /openapi.json", "HEAD /openapi.json", "GET /docs", "HEAD /docs", "GET /docs/oauth2-redirect",
             "HEAD /docs/oauth2-redirect", "GET /redoc", "HEAD /redoc"):
    route(_key, how="the API's description: no catalogue data")(_no_catalogue_data(*_key.split(" ")))
route("MOUNT /static", how="the portal's style sheet and icons: no catalogue data")(
    _no_catalogue_data("GET", "/static/portal.css"))
route("GET /login", how="the sign-in page: no catalogue data")(_no_catalogue_data())
route("GET /login/oidc", how="starts a sign-in at the OpenID provider (none here: 404): no catalogue data")(_no_catalogue_data())
route("GET /auth/callback", how="ends a sign-in at the OpenID provider: no catalogue data")(_no_catalogue_data())
route("GET /me", how="sends to /me/proposals (or to sign in): no catalogue data")(_no_catalogue_data())
route("GET /me/tokens", how="the caller's own API tokens: account data, no catalogue data")(_no_catalogue_data())
declare("POST /login", how="not a catalogue reader: checks a local account's password and starts a session "
        "(its own tests: tests/auth)")
declare("POST /logout", how="not a catalogue reader: ends the caller's session (not exercised: it would end the "
        "matrix's sessions)")
declare("POST /me/tokens", "POST /me/tokens/{token_id}/revoke",
        how="not a catalogue reader: makes or revokes the caller's own API token")


# --- the matrix ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTE_KEYS, ids=lambda key: key.replace(" ", ":"))
def test_access(matrix, route, role, target):
    declared = ROUTES.get(route)
    if declared is None:
        pytest.fail(f"declare how route {route} is exercised in the access matrix (ROUTES in tests/auth/"
                    f"test_access_matrix.py): what it answers a caller who may see a dataset, and one who may not",
                    pytrace=False)
    if declared.probe is None:
        return  # declared as no reader of the catalogue; ``how`` says why
    findings = []
    for transport in TRANSPORTS[role]:
        cell = Cell(matrix, route, role, matrix.built.targets[target], transport)
        declared.probe(cell)
        findings += [f"[{transport or 'anonymous'}] {finding}" for finding in cell.findings]
    assert not findings, (f"{route} × {role} × {target} dataset ({matrix.backend}; expected: "
                          f"{'visible' if role in MAY_SEE[target] else 'not visible'}):\n  - " + "\n  - ".join(findings))


def test_the_matrix_covers_the_route_table(matrix):
    assert sorted(matrix.route_keys) == sorted(ROUTE_KEYS), "the application's routes differ from those collected"
    undeclared = [key for key in matrix.route_keys if key not in ROUTES]
    assert not undeclared, "\n".join(f"declare how route {key} is exercised in the access matrix" for key in undeclared)
    stale = sorted(set(ROUTES) - set(matrix.route_keys))
    assert not stale, f"declared in the access matrix, but the application has no such route: {stale}"


# --- shared caches ------------------------------------------------------------------------------------

def test_what_a_session_shows_of_embargoed_data_is_not_kept_for_others(matrix):
    """A browser's requests carry the session in a cookie, which does not stop a shared cache (a reverse
    proxy, a CDN) from storing the answer and serving it to the next person asking for the same
    address: an answer that shows embargoed data to a signed-in person must say it is theirs alone
    (``Cache-Control: private`` or ``no-store``, or ``Vary: Cookie``).  An answer to a bearer token
    is kept from shared caches by the ``Authorization`` header unless it says ``public``/``s-maxage``."""
    target = matrix.built.targets["embargoed"]
    member = matrix.accounts["member"]
    problems = []
    for path, params in ((f"/files/{target.file_id}", None), (f"/download/datasets/{target.pid}", None),
                         (f"/datasets/{target.pid}", None), (f"/viewer/{target.file_id}", None),
                         ("/h5grove/data", {"file": target.file_id, "path": COUNTS, "format": "json"}),
                         (f"/api/Datasets/{target.pid}", None), ("/search", {"q": target.word})):
        for transport in ("cookie", "bearer"):
            headers = ({"Cookie": f"{COOKIE}={member.cookie}"} if transport == "cookie"
                       else {"Authorization": f"Bearer {member.token}"})
            matrix.client.cookies.clear()
            response = matrix.client.get(path, params=params, headers=headers)
            assert response.status_code == 200, (path, response.status_code)
            control = {part.strip().split("=")[0].lower() for part in response.headers.get("cache-control", "").split(",")}
            vary = {part.strip().lower() for part in response.headers.get("vary", "").split(",")}
            if transport == "cookie" and not (control & {"private", "no-store"} or "cookie" in vary or "*" in vary):
                problems.append(f"GET {response.request.url} [{COOKIE} cookie]: storable by a shared cache "
                                f"(Cache-Control: {response.headers.get('cache-control')!r}, Vary: "
                                f"{response.headers.get('vary')!r}, Last-Modified: {response.headers.get('last-modified')!r})")
            if transport == "bearer" and control & {"public", "s-maxage"}:
                problems.append(f"GET {response.request.url} [bearer]: marked for shared caches ({response.headers['cache-control']})")
    matrix.client.cookies.clear()
    assert not problems, "embargoed data a shared cache may keep and serve to anyone:\n  " + "\n  ".join(problems)
