"""The FastAPI application: the PaNOSC Search API over one catalogue.

``create_app()`` reads the settings (so ``uvicorn --factory`` and several
worker processes each build their own), opens a reader engine and loads
the PaNET ontology from its cache.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

from fastapi import FastAPI

from pancommons import __version__
from pancommons.api import errors, hdf5
from pancommons.api.auth import Authentication
from pancommons.api.caching import PrivateAnswers
from pancommons.api.panosc import router
from pancommons.api.paths import CaseInsensitiveCollections
from pancommons.catalogue.release import release_embargoed
from pancommons.catalogue.search import Catalogue
from pancommons.config import Settings, load_settings
from pancommons.db.engine import make_engine
from pancommons.db.migrate import upgrade
from pancommons.nexus.browse import OpenFiles
from pancommons.portal import account_routes
from pancommons.portal import routes as portal_routes

log = logging.getLogger("pancommons.api")

def load_techniques(settings: Settings):
    """The classified PaNET ontology, or None (with a warning) when it cannot be had."""
    if not settings.panet_source:
        return None
    from pancommons.panet import OntologyError, load_ontology

    try:
        return load_ontology(settings.panet_source, settings.home / "cache")
    except OntologyError as error:
        log.warning("technique filters fall back to exact names and pids: %s", error)
        return None


def create_app(settings: Settings | None = None, catalogue: Catalogue | None = None) -> FastAPI:
    settings = settings or load_settings()
    if catalogue is None:
        writer = make_engine(settings.resolved_database_url)
        upgrade(writer)  # a fresh catalogue serves (empty) at once
        release_embargoed(writer)
        catalogue = Catalogue(make_engine(settings.resolved_database_url, reader=True), load_techniques(settings))
        # Count the whole catalogue now, in the background: the first portal page should not wait for it.
        threading.Thread(target=catalogue.whole_catalogue, daemon=True, name="first count").start()
        if settings.release_interval_minutes:
            threading.Thread(target=_release_periodically, args=(writer, settings.release_interval_minutes * 60),
                             daemon=True, name="release").start()
    else:
        writer = make_engine(catalogue.engine.url.render_as_string(hide_password=False))
    app = FastAPI(
        title="pancommons — PaNOSC Search API",
        version=__version__,
        description=(
            "The PaNOSC Search API over this facility's catalogue: Datasets, Documents and Instruments with "
            "LoopBack-style JSON filters (`where`, `include` with `scope`, `limit`, `skip`, `fields`, `order`) and "
            "a free-text `query`. Parameter filters with a `unit` are compared in SI; a wavelength filter also "
            "finds datasets that recorded only the incident photon energy (E = hc/λ), and the other way round. "
            "Technique filters match the PaNET term and everything classified under it. Anonymous callers see "
            "public records only; with `Authorization: Bearer <token>` (a personal API token made in the portal "
            "or with `pancommons tokens create`, or an access token of the facility's OpenID provider) a "
            "proposal's members also see its embargoed data."
        ),
    )
    app.state.catalogue = catalogue
    app.state.settings = settings
    app.state.auth = Authentication.of(writer, catalogue.engine, settings)
    errors.install(app)
    app.include_router(router)
    app.state.open_files = OpenFiles()
    app.include_router(hdf5.router)
    app.include_router(portal_routes.router)
    app.include_router(account_routes.router)
    app.mount("/static", portal_routes.static, name="portal_static")
    app.add_exception_handler(404, _not_found_page)
    app.add_middleware(CaseInsensitiveCollections)
    app.add_middleware(PrivateAnswers)  # no shared cache hands one caller's view to another
    # The ~10⁵ objects of start-up (ontology, SQLAlchemy, FastAPI) never die: moving them out of the
    # collector's reach takes the garbage-collection pauses out of the p95 (115 → 53 ms on a page
    # of 2,400 nested records).
    gc.freeze()
    return app


def _release_periodically(engine, seconds: float) -> None:
    """Open what is due, every ``seconds`` (visibility is decided at query time anyway: this sets
    the flags, records each release in the audit log and lets released titles into the text index)."""
    while True:
        time.sleep(seconds)
        try:
            release_embargoed(engine)
        except Exception:
            log.exception("the scheduled release failed; it runs again in %s s", seconds)


async def _not_found_page(request, error):
    """Unknown addresses: an HTML page for people, the API's JSON error under /api."""
    if request.url.path.startswith("/api/"):
        return await errors.http_error(request, error)
    return portal_routes.not_found(request, "There is no page at this address.")
