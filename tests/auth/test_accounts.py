"""Accounts in the portal and the API, on both backends, over a catalogue ingested from synthetic
NeXus files with its user-office proposals: local sign-in and sessions, CSRF on every form,
personal API tokens, proposal membership, embargo and early release, and the audit log."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from pancommons.accounts import audit, store, tokens
from pancommons.catalogue import embargo, policy
from pancommons.db import tables as t
from pancommons.db.account_tables import ApiToken
from pancommons.ingest.pipeline import ingest
from pancommons.ingest.proposals import import_proposals
from pancommons.nexus.synth import write_corpus
from tests.api.conftest import api_client

PASSWORD = "correct horse battery"


def route_table(app) -> list:
    """Every route of the app, routers included (FastAPI ≥ 0.16x keeps included routers nested)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def portal_client(settings):
    """The app over HTTPS (as deployed), so its Secure cookies come back as a browser sends them."""
    return api_client(settings, None, base_url="https://testserver", follow_redirects=False)


@pytest.fixture
def node(settings, engine, data_root):
    write_corpus(data_root, 40, seed=5)
    assert import_proposals(data_root / "proposals.json", settings, engine).failed == []
    assert ingest([str(data_root)], settings, engine, workers=1).failed == []
    with portal_client(settings) as client:
        yield client


def _embargoed_proposal(engine, role="principal_investigator"):
    """An embargoed proposal with ingested datasets, and the ORCID of its member in ``role``."""
    with engine.connect() as connection:
        return connection.execute(
            select(t.Document.id, t.Document.pid, t.Person.orcid)
            .join(t.Member, t.Member.document_id == t.Document.id).join(t.Person, t.Person.id == t.Member.person_id)
            .join(t.DocumentDataset, t.DocumentDataset.document_id == t.Document.id)
            .where(t.Document.release_date > datetime.now(UTC), t.Person.orcid.is_not(None), t.Member.role == role)
            .order_by(t.Document.pid).limit(1)
        ).one()


def _datasets_of(engine, document_id: int) -> list[str]:
    with engine.connect() as connection:
        return connection.execute(
            select(t.Dataset.pid).join(t.DocumentDataset, t.DocumentDataset.dataset_id == t.Dataset.id)
            .where(t.DocumentDataset.document_id == document_id).order_by(t.Dataset.pid)
        ).scalars().all()


def _form_token(html: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)


def _sign_in(client: TestClient, username: str, password: str = PASSWORD) -> None:
    token = _form_token(client.get("/login").text)
    answer = client.post("/login", data={"csrf_token": token, "username": username, "password": password, "next": "/me/data"})
    assert answer.status_code == 303 and answer.headers["location"] == "/me/data", answer.text


def _bearer(engine, username: str, **identity) -> dict:
    account = store.create_local(engine, username, None, store.Identity(**identity))
    secret, _ = tokens.create(engine, account, "test", 30, actor="test")
    return {"Authorization": f"Bearer {secret}"}


def test_local_sign_in_sets_a_hardened_session_that_sign_out_ends(node, engine):
    proposal = _embargoed_proposal(engine)
    store.create_local(engine, "pi", PASSWORD, store.Identity("The PI", orcid=proposal.orcid))
    login = node.get("/login")
    token = _form_token(login.text)

    # no token, a wrong password, a blank form: refused, and no session
    assert node.post("/login", data={"username": "pi", "password": PASSWORD}).status_code == 403
    refused = node.post("/login", data={"csrf_token": token, "username": "pi", "password": "wrong password"})
    assert refused.status_code == 401 and "wrong password" in refused.text
    assert node.post("/login", data={"csrf_token": token}).status_code == 401
    assert "pancommons_session" not in node.cookies

    answer = node.post("/login", data={"csrf_token": token, "username": "pi", "password": PASSWORD,
                                       "next": "//evil.example/x"})
    assert answer.status_code == 303 and answer.headers["location"] == "/me/proposals"  # never another site
    cookie = next(value for value in answer.headers.get_list("set-cookie") if value.startswith("pancommons_session="))
    assert "HttpOnly" in cookie and "Secure" in cookie and "samesite=lax" in cookie.lower()
    session = node.cookies["pancommons_session"]

    mine = node.get("/me/proposals")
    assert mine.status_code == 200 and proposal.pid in mine.text and "Release now" in mine.text
    assert "Sign out (pi)" in mine.text

    assert node.post("/logout", data={"csrf_token": _form_token(mine.text)}).status_code == 303
    assert "pancommons_session" not in node.cookies
    # the old cookie, replayed, is dead on the server too
    node.cookies.set("pancommons_session", session, domain="testserver")
    assert node.get("/me/proposals").status_code == 303
    assert node.get("/datasets/" + quote(_datasets_of(engine, proposal.id)[0], safe="")).status_code == 404


def test_members_see_their_embargoed_proposal_and_nobody_else_does(node, engine):
    proposal = _embargoed_proposal(engine)
    dataset = _datasets_of(engine, proposal.id)[0]
    with engine.connect() as connection:
        email = connection.execute(select(t.Person.email).where(t.Person.orcid == proposal.orcid)).scalar()
    member = _bearer(engine, "member", orcid=proposal.orcid)
    other = _bearer(engine, "other", orcid="0000-0002-1825-0097")
    unverified = _bearer(engine, "claims-an-address", email=email, email_verified=False)
    path = "/api/Datasets/" + quote(dataset, safe="")

    assert node.get(path, headers=member).status_code == 200
    for caller in ({}, other, unverified):  # an e-mail nobody vouched for proves nothing
        assert node.get(path, headers=caller).status_code == 404
    public = node.get("/api/Datasets/count").json()["count"]
    assert node.get("/api/Datasets/count", headers=other).json()["count"] == public
    assert node.get("/api/Datasets/count", headers=member).json()["count"] == public + len(_datasets_of(engine, proposal.id))
    facets = node.get("/api/Datasets/facets", headers=member).json()
    assert facets["total"] == public + len(_datasets_of(engine, proposal.id))
    assert email  # the corpus's members have addresses: this test is about them
    verified = _bearer(engine, "verified", email=email.upper(), email_verified=True)
    assert node.get(path, headers=verified).status_code == 200


def test_personal_api_tokens_are_shown_once_work_and_stop(node, engine):
    proposal = _embargoed_proposal(engine)
    store.create_local(engine, "pi", PASSWORD, store.Identity(orcid=proposal.orcid))
    _sign_in(node, "pi")
    page = node.get("/me/tokens")
    made = node.post("/me/tokens", data={"csrf_token": _form_token(page.text), "name": "notebook", "days": "7"})
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    secret = re.search(r'<code id="new-token">(pct_[^<]+)</code>', made.text).group(1)
    assert secret not in node.get("/me/tokens").text  # shown once
    with engine.connect() as connection:
        stored = connection.execute(select(ApiToken.token_hash, ApiToken.expires_at)).one()
    assert secret not in stored.token_hash and timedelta(days=6) < stored.expires_at - datetime.now(UTC) <= timedelta(days=7)

    bearer = TestClient(node.app, base_url="https://testserver")  # a script: no cookies, the token only
    path = "/api/Datasets/" + quote(_datasets_of(engine, proposal.id)[0], safe="")
    assert bearer.get(path, headers={"Authorization": f"Bearer {secret}"}).status_code == 200

    bad = node.post("/me/tokens", data={"csrf_token": _form_token(page.text), "name": "x", "days": "ten"})
    assert bad.status_code == 400 and "not a number" in bad.text
    token_id = re.search(r'/me/tokens/(\d+)/revoke', node.get("/me/tokens").text).group(1)
    assert node.post(f"/me/tokens/{token_id}/revoke", data={"csrf_token": _form_token(page.text)}).status_code == 303
    refused = bearer.get(path, headers={"Authorization": f"Bearer {secret}"})
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert "revoked" in refused.json()["error"]["message"]

    other, _ = tokens.create(engine, store.create_local(engine, "script", None, store.Identity()), "old", 1, actor="test")
    with engine.begin() as connection:
        connection.execute(update(ApiToken).where(ApiToken.name == "old").values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    for header in (f"Bearer {other}", "Bearer pct_nothing-like-it", "Basic cGk6cGFzcw==", "Bearer ", "Bearer not-a.jwt.at-all"):
        answer = bearer.get("/api/Datasets/count", headers={"Authorization": header})
        assert answer.status_code == 401, header
        assert answer.json()["error"]["statusCode"] == 401


def test_every_form_that_changes_something_needs_this_sites_token(node, engine):
    proposal = _embargoed_proposal(engine)
    store.create_local(engine, "pi", PASSWORD, store.Identity(orcid=proposal.orcid))
    _sign_in(node, "pi")
    token = _form_token(node.get("/me/tokens").text)
    changing = sorted({route.path for route in route_table(node.app) if "POST" in (getattr(route, "methods", None) or set())})
    assert {"/login", "/logout", "/me/tokens", "/release/proposals/{pid:path}"} <= set(changing)
    for path in changing:
        address = path.replace("{pid:path}", quote(proposal.pid, safe="")).replace("{token_id}", "1")
        assert node.post(address, data={}).status_code == 403, path
        assert node.post(address, data={"csrf_token": "0" * 64}).status_code == 403, path
        foreign = node.post(address, data={"csrf_token": token}, headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403, path
    assert node.get("/me/proposals").status_code == 200  # still signed in: nothing was changed
    anonymous = TestClient(node.app, base_url="https://testserver")
    assert anonymous.get("/api/Documents/" + quote(proposal.pid, safe="")).status_code == 404  # nor released


def test_early_release_by_the_principal_investigator_is_kept_and_audited(node, engine, settings, data_root):
    proposal = _embargoed_proposal(engine)
    datasets = _datasets_of(engine, proposal.id)
    store.create_local(engine, "pi", PASSWORD, store.Identity(orcid=proposal.orcid))
    store.create_local(engine, "stranger", PASSWORD, store.Identity(orcid="0000-0002-1825-0097"))
    path = "/release/proposals/" + quote(proposal.pid, safe="")

    _sign_in(node, "stranger")
    token = _form_token(node.get("/me/proposals").text)
    assert node.post(path, data={"csrf_token": token}).status_code == 404  # not theirs to know of
    member = policy.Caller("co", 99, proposals=frozenset({proposal.id}))  # a member who does not lead it
    with pytest.raises(embargo.NotAllowed):
        embargo.release_now(engine, member, proposal=proposal.pid)
    node.post("/logout", data={"csrf_token": token})

    _sign_in(node, "pi")
    page = node.get("/proposals/" + quote(proposal.pid, safe=""))
    assert "Release this proposal" in page.text
    answer = node.post(path, data={"csrf_token": _form_token(page.text)})
    assert answer.status_code == 303
    anonymous = TestClient(node.app, base_url="https://testserver")
    for pid in datasets:
        assert anonymous.get("/api/Datasets/" + quote(pid, safe="")).json()["isPublic"] is True
    events = audit.recent(engine, action="released-early")
    assert [(event.actor, event.target, event.detail["datasets"]) for event in events] == [("pi", proposal.pid, len(datasets))]

    # the user office's next export still says three years: a person's decision stands
    assert import_proposals(data_root / "proposals.json", settings, engine).failed == []
    assert ingest([str(data_root)], settings, engine, workers=1).failed == []
    for pid in datasets:
        assert anonymous.get("/api/Datasets/" + quote(pid, safe="")).status_code == 200


def test_datasets_open_with_their_proposal_and_a_data_managers_date_moves_them(node, engine):
    proposal = _embargoed_proposal(engine)
    datasets = _datasets_of(engine, proposal.id)
    with engine.connect() as connection:
        release = connection.execute(select(t.Document.release_date).where(t.Document.id == proposal.id)).scalar_one()
        dates = connection.execute(select(t.Dataset.embargo_until).where(t.Dataset.pid.in_(datasets))).scalars().all()
    assert set(dates) == {release}  # the proposal's date, not each file's acquisition + 3 years

    manager = store.create_local(engine, "curator", None, store.Identity())
    store.grant(engine, "curator", "data-manager")
    curator = store.caller_for(engine, manager)
    with pytest.raises(embargo.NotAllowed):
        embargo.set_release_date(engine, policy.Caller("pi", 1, principal_of=frozenset({proposal.id})),
                                 datetime.now(UTC), proposal=proposal.pid)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    embargo.set_release_date(engine, curator, yesterday, proposal=proposal.pid)
    assert node.get("/api/Datasets/" + quote(datasets[0], safe="")).status_code == 200
    later = datetime(2099, 1, 1, tzinfo=UTC)
    embargo.set_release_date(engine, curator, later, proposal=proposal.pid)  # an extended embargo closes it again
    assert node.get("/api/Datasets/" + quote(datasets[0], safe="")).status_code == 404
    events = audit.recent(engine, action="release-date-set")
    assert [(event.actor, event.detail["release_date"]) for event in events] == [
        ("curator", later.isoformat()), ("curator", yesterday.isoformat())]


def test_downloads_of_embargoed_data_are_audited_and_public_ones_are_not(node, engine):
    proposal = _embargoed_proposal(engine)
    headers = _bearer(engine, "member", orcid=proposal.orcid)
    with engine.connect() as connection:
        embargoed_file = connection.execute(
            select(t.DatasetFile.file_id).join(t.Dataset, t.Dataset.id == t.DatasetFile.dataset_id)
            .where(t.Dataset.pid == _datasets_of(engine, proposal.id)[0])).scalars().first()
        public_file = connection.execute(
            select(t.DatasetFile.file_id).join(t.Dataset, t.Dataset.id == t.DatasetFile.dataset_id)
            .where(t.Dataset.is_public.is_(True))).scalars().first()
    assert node.get(f"/files/{embargoed_file}").status_code == 404  # anonymous: no file, no record
    assert node.get(f"/files/{embargoed_file}", headers=headers).status_code == 200
    assert node.get(f"/files/{public_file}", headers=headers).status_code == 200
    zipped = node.get("/download/datasets/" + quote(_datasets_of(engine, proposal.id)[0], safe=""), headers=headers)
    assert zipped.status_code == 200
    events = audit.recent(engine, action="embargoed-download")
    assert [(event.actor, event.detail["kind"]) for event in events] == [("member", "dataset"), ("member", "file")]
    assert events[1].detail["file"] == embargoed_file


def test_scheduled_release_records_each_record_it_opens(node, engine):
    proposal = _embargoed_proposal(engine)
    with engine.begin() as connection:
        connection.execute(update(t.Document).where(t.Document.id == proposal.id)
                           .values(release_date=datetime.now(UTC) - timedelta(minutes=1)))
    from pancommons.catalogue.release import release_embargoed

    released = release_embargoed(engine)
    assert released.documents >= 1
    assert proposal.pid in {event.target for event in audit.recent(engine, action="released") if event.detail["kind"] == "proposal"}
    assert release_embargoed(engine).documents == 0  # nothing twice


def test_the_command_line_manages_accounts_tokens_and_releases(node, engine, settings, monkeypatch):
    from pancommons.cli import app

    monkeypatch.setenv("PANCOMMONS_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("PANCOMMONS_HOME", str(settings.home))
    monkeypatch.setenv("PANCOMMONS_NEW_PASSWORD", PASSWORD)
    runner = CliRunner()
    proposal = _embargoed_proposal(engine)

    made = runner.invoke(app, ["accounts", "add", "ana", "--orcid", proposal.orcid, "--role", "data-manager"])
    assert made.exit_code == 0, made.output
    assert runner.invoke(app, ["accounts", "add", "ana"]).exit_code == 1  # taken: one line, no trace
    assert "unknown role" in runner.invoke(app, ["accounts", "grant", "ana", "janitor"]).output
    created = runner.invoke(app, ["tokens", "create", "ana", "--name", "cli", "--days", "2"])
    secret = created.stdout.strip().splitlines()[0]
    assert secret.startswith("pct_")
    assert node.get("/api/Documents/" + quote(proposal.pid, safe=""), headers={"Authorization": f"Bearer {secret}"}).status_code == 200

    assert runner.invoke(app, ["accounts", "add", "nobody", "--no-password"]).exit_code == 0
    refused = runner.invoke(app, ["release", "--proposal", proposal.pid, "--as", "nobody"])
    assert refused.exit_code == 1 and "not open to you" in refused.output
    opened = runner.invoke(app, ["release", "--proposal", proposal.pid, "--as", "ana"])
    assert opened.exit_code == 0 and "now open" in opened.output
    assert node.get("/api/Documents/" + quote(proposal.pid, safe="")).status_code == 200
    log = runner.invoke(app, ["audit", "--action", "released-early"], env={"COLUMNS": "250"})
    assert log.exit_code == 0 and " ana " in log.output and proposal.pid in log.output

    assert runner.invoke(app, ["accounts", "deactivate", "ana"]).exit_code == 0
    answer = node.get("/api/Datasets/count", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 401


def test_pages_of_a_signed_in_member(node, engine):
    proposal = _embargoed_proposal(engine)
    store.create_local(engine, "pi", PASSWORD, store.Identity("Pat Investigator", orcid=proposal.orcid))
    assert node.get("/me/data").headers["location"].startswith("/login?next=")
    _sign_in(node, "pi")
    data = node.get("/me/data")
    assert data.status_code == 200
    for pid in _datasets_of(engine, proposal.id):
        assert pid in data.text
    assert "embargoed until" in data.text
    assert node.get("/me/data", params={"page": "²"}).status_code == 200  # odd input, no 500
    landing = node.get("/datasets/" + quote(_datasets_of(engine, proposal.id)[0], safe=""))
    assert landing.status_code == 200 and "Embargoed until" in landing.text and "Release this dataset now" in landing.text


def test_a_facility_may_show_what_it_holds_under_embargo_and_nothing_more(node, engine, settings):
    proposal = _embargoed_proposal(engine)
    pid = _datasets_of(engine, proposal.id)[0]
    address = "/datasets/" + quote(pid, safe="")
    assert node.get(address).status_code == 404  # by default an embargoed dataset is invisible
    with portal_client(settings.model_copy(update={"embargoed_metadata_visible": True})) as shown:
        page = shown.get(address)
        assert page.status_code == 200 and "Under embargo until" in page.text and pid in page.text
        assert "/files/" not in page.text and "application/ld+json" not in page.text and "@" not in page.text.split("<main>")[1]
        assert shown.get("/api/Datasets/" + quote(pid, safe="")).status_code == 404  # the API still hides it
        assert shown.get("/datasets/no-such-dataset").status_code == 404


def test_a_bearer_token_cannot_mint_tokens_or_release_through_the_portal_forms(node, engine):
    proposal = _embargoed_proposal(engine)
    headers = _bearer(engine, "pi", orcid=proposal.orcid)
    page = node.get("/me/tokens", headers=headers)  # reading is fine …
    assert page.status_code == 200
    form = _form_token(page.text)
    made = node.post("/me/tokens", headers=headers, data={"csrf_token": form, "name": "forever", "days": "366"})
    assert made.status_code == 403 and "not for API tokens" in made.text  # … minting a longer-lived one is not
    released = node.post("/release/proposals/" + quote(proposal.pid, safe=""), headers=headers, data={"csrf_token": form})
    assert released.status_code == 403
    with engine.connect() as connection:
        assert connection.execute(select(ApiToken.name)).scalars().all() == ["test"]
