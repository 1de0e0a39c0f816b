"""The ``pancommons`` command: the front door of a node."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy import Engine

from pancommons import cli_access
from pancommons.cli_common import (
    CliError,
    catalogue_engine,
    friendly_errors,
    node_settings,
    out,
    progress_bar,
)
from pancommons.config import Settings
from pancommons.units import human_size

app = typer.Typer(
    help="pancommons: the open data commons of a photon or neutron facility.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
def _version(value: bool) -> None:
    if value:
        from pancommons import __version__

        out.print(f"pancommons {__version__}")
        raise typer.Exit()




@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """pancommons: the open data commons of a photon or neutron facility."""


@app.command()
def init() -> None:
    """Create the catalogue database, or bring it to the current schema."""
    with friendly_errors():
        settings = node_settings()
        engine = catalogue_engine(settings)
        out.print(f"catalogue ready: {engine.url.render_as_string()}")


@app.command()
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="files or directories to catalogue (walked recursively)", metavar="PATH")
    ],
    workers: Annotated[
        int | None, typer.Option(min=1, max=256, help="extraction processes (default: one per core)", metavar="N")
    ] = None,
    data_root: Annotated[
        list[Path] | None,
        typer.Option("--data-root", help="add a data root for this run (repeatable)", metavar="DIR"),
    ] = None,
) -> None:
    """Catalogue NeXus/HDF5 files: new ones added, changed ones updated, deleted ones reported."""
    from pancommons.ingest.pipeline import NothingToDo, check_paths, count_candidates
    from pancommons.ingest.pipeline import ingest as run_ingest

    with friendly_errors():
        settings = node_settings()
        if data_root:
            settings = node_settings(data_roots=[*settings.data_roots, *data_root])
        engine = catalogue_engine(settings)
        names = [str(path) for path in paths]
        try:
            check_paths(names, settings)  # before any progress bar is drawn
            total = count_candidates(names, settings)
            with progress_bar() as progress:
                task = progress.add_task("ingesting", total=total)
                report = run_ingest(names, settings, engine, workers=workers, progress=lambda n: progress.advance(task, n))
        except NothingToDo as error:
            raise CliError(str(error)) from None
        _print_ingest_report(report)
        if report.failed_count and report.seen == report.failed_count:
            raise typer.Exit(1)  # nothing landed


def _print_ingest_report(report) -> None:
    for path, reason in report.failed:
        out.print(f"[red]failed[/red] {path}: {reason}", highlight=False)
    if report.failed_count > len(report.failed):
        out.print(f"… and {report.failed_count - len(report.failed)} more failures (see the ingest run record)")
    if report.warnings:
        shown = report.warnings[:10]
        for path, message in shown:
            out.print(f"[yellow]warning[/yellow] {path}: {message}", highlight=False)
        rest = len(report.warnings) - len(shown)
        if rest > 0:
            out.print(f"… and {rest} more warnings in {report.warned_files} file(s)")
    for path in report.deleted[:20]:
        out.print(f"[magenta]deleted[/magenta] {path} (catalogued, no longer on disk)", highlight=False)
    out.print(report.summary_line())
    if report.deleted_count:
        out.print(f"deleted since last run: {report.deleted_count}")
    rate = report.seen / report.seconds if report.seconds else 0.0
    out.print(f"run {report.run_id}: {report.seen} files in {report.seconds:.1f} s ({rate:.0f} files/s)", style="dim")


@app.command("import-proposals")
def import_proposals(
    file: Annotated[
        Path, typer.Argument(help="user-office export, .json or .csv (see docs/proposals-format.md)", metavar="FILE")
    ],
) -> None:
    """Import proposals and their members from the user office's export."""
    from pancommons.ingest.proposals import ProposalFileError
    from pancommons.ingest.proposals import import_proposals as run_import

    with friendly_errors():
        settings = node_settings()
        engine = catalogue_engine(settings)
        try:
            report = run_import(file, settings, engine)
        except ProposalFileError as error:
            raise CliError(str(error)) from None
        for position, reason in report.failed:
            out.print(f"[red]failed[/red] {file} {position}: {reason}", highlight=False)
        out.print(report.summary_line())
        if report.failed and not (report.created or report.updated or report.unchanged):
            raise typer.Exit(1)


@app.command("import-panosc")
def import_panosc(
    file: Annotated[
        Path,
        typer.Argument(
            help="catalogue dump in the PaNOSC reference implementation's format (LoopBack db.json)", metavar="FILE"
        ),
    ],
) -> None:
    """Import a PaNOSC reference catalogue dump: datasets, documents, instruments and what hangs off them."""
    from rich.markup import escape

    from pancommons.ingest.panosc_import import MODELS, PanoscImportError
    from pancommons.ingest.panosc_import import import_panosc as run_import

    with friendly_errors():
        settings = node_settings()
        engine = catalogue_engine(settings)
        try:
            report = run_import(file, engine)
        except PanoscImportError as error:
            raise CliError(str(error)) from None
        problems_of: dict[str, int] = {}
        for model, key, reason in report.problems:
            problems_of[model] = problems_of.get(model, 0) + 1
            where = f"{model} {key!r}" if key else model
            out.print(f"[red]problem[/red] {escape(str(file))} {escape(where)}: {escape(reason)}", highlight=False)
        table = Table("model", "created", "updated", "unchanged", "problems", title=f"imported {escape(str(file))}")
        for model in MODELS:
            counts = report.counts[model]
            if counts.created or counts.updated or counts.unchanged or problems_of.get(model):
                table.add_row(
                    model, str(counts.created), str(counts.updated), str(counts.unchanged), str(problems_of.get(model, 0))
                )
        out.print(table)
        out.print(report.summary_line())
        if report.problems and not (report.created or report.updated or report.unchanged):
            raise typer.Exit(1)


@app.command()
def synth(
    outdir: Annotated[Path, typer.Argument(help="directory to write the files into", metavar="OUTDIR")],
    count: Annotated[int, typer.Option(min=1, max=10_000_000, help="number of files", metavar="N")] = 100,
    seed: Annotated[int, typer.Option(help="same seed, same files", metavar="S")] = 0,
    workers: Annotated[int, typer.Option(min=1, max=256, help="writer processes", metavar="N")] = 1,
    facility: Annotated[
        list[str] | None, typer.Option(help="only these facilities (NLS, KNS, OXF; repeatable)", metavar="NAME")
    ] = None,
) -> None:
    """Write realistic synthetic NeXus files and their proposals (proposals.json)."""
    from pancommons.nexus.synth import write_corpus

    with friendly_errors():
        with progress_bar() as progress:
            task = progress.add_task("writing", total=count)
            summary = write_corpus(
                outdir, count, seed, workers=workers, facilities=facility, progress=lambda n: progress.advance(task, n)
            )
        out.print(f"wrote {summary.files} files to {outdir} and {outdir / 'proposals.json'}")


@app.command()
def status() -> None:
    """What the catalogue holds."""
    from pancommons.catalogue.summary import summarise

    with friendly_errors():
        settings = node_settings()
        engine = catalogue_engine(settings)
        _print_summary(summarise(engine), engine)


def _print_summary(summary, engine: Engine) -> None:
    out.print(f"catalogue: {engine.url.render_as_string()}")
    out.print(
        f"{summary.datasets} datasets ({summary.raw} raw, {summary.processed} processed; "
        f"{summary.public} public, {summary.embargoed} under embargo), "
        f"{summary.proposals} proposals ({summary.datasets_with_proposal} datasets name one), "
        f"{summary.files} files ({human_size(summary.bytes)})"
        + (f", {summary.missing_files} missing on disk" if summary.missing_files else "")
    )
    if summary.by_instrument:
        table = Table("facility", "instrument", "datasets", title="by instrument")
        for facility, name, count in summary.by_instrument:
            table.add_row(facility, name, str(count))
        out.print(table)
    if summary.by_technique:
        table = Table("technique (PaNET)", "datasets", title="by technique")
        for name, count in summary.by_technique:
            table.add_row(name, str(count))
        out.print(table)


@app.command()
def demo(
    count: Annotated[int, typer.Option(min=10, max=100_000, help="synthetic files to write", metavar="N")] = 400,
    seed: Annotated[int, typer.Option(help="seed of the synthetic facilities", metavar="S")] = 2026,
    serve_it: Annotated[bool, typer.Option("--serve/--no-serve", help="serve the demo catalogue when built")] = True,
    federated: Annotated[
        bool, typer.Option("--federated", help="one node per facility, each served, and the federation in front")
    ] = False,
    host: Annotated[str, typer.Option(help="address to serve on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port to serve on (nodes of --federated: the next ones)")] = 8000,
) -> None:
    """Build a demo catalogue of two fictional facilities, show what it holds, and serve it."""
    from pancommons.catalogue.summary import summarise
    from pancommons.demo import demo_login, prepare_demo, prepare_federated_demo

    with friendly_errors():
        if serve_it and federated and not 0 < port < 65534:
            raise CliError("--federated serves the nodes on the two ports after --port: give a port from 1 to 65533")
        base = node_settings()
        with progress_bar() as progress:
            task = progress.add_task("demo", total=None)

            def tell(label, done, total):
                progress.update(task, description=label, completed=done, total=total)

            if federated:
                nodes = prepare_federated_demo(base, count, seed, tell)
            else:
                nodes = [("", *prepare_demo(base, count, seed, tell))]
        for facility, settings, report, proposals in nodes:
            out.print(f"\ndemo node{' of ' + facility if facility else ''} in {settings.home}")
            out.print(f"ingest: {report.summary_line()}; proposals: {proposals.summary_line()}")
            if report.warnings:
                out.print(f"{len(report.warnings)} warnings in {report.warned_files} file(s); `pancommons ingest` lists them")
            engine = catalogue_engine(settings)
            _print_summary(summarise(engine), engine)
            engine.dispose()
        out.print(
            "\nExplore it with the same commands a facility uses, pointed at the demo node:\n"
            f"  PANCOMMONS_HOME={nodes[0][1].home} pancommons status"
        )
        if not federated:
            engine = catalogue_engine(nodes[0][1])
            login = demo_login(engine)
            engine.dispose()
            where = "127.0.0.1" if host == "0.0.0.0" else host
            out.print(f"\nSign in at http://{where}:{port}/login as [bold]{login.username}[/bold] "
                      f"with password [bold]{login.password}[/bold]" + (
                          f": the principal investigator of {login.proposal}, embargoed until "
                          f"{login.release_date:%Y-%m-%d}, whose data only its team sees" if login.proposal else ""))
    if serve_it and federated:
        _serve_federated_demo([settings for _, settings, _, _ in nodes], host, port)
    elif serve_it:
        _serve(nodes[0][1], host, port, workers=1)


def _serve_federated_demo(nodes: list[Settings], host: str, port: int) -> None:
    """Each node as its own `pancommons serve` process on the ports after ``port``, the federation on ``port``."""
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from pancommons.federation.config import FederationConfig

    with friendly_errors():
        children, urls = [], []
        try:
            for number, settings in enumerate(nodes, 1):
                node_port = port + number
                environment = dict(os.environ, PANCOMMONS_HOME=str(settings.home),
                                   PANCOMMONS_CONFIG=str(settings.home / "pancommons.toml"),
                                   PANCOMMONS_DATABASE_URL=settings.resolved_database_url,
                                   PANCOMMONS_PANET_SOURCE=settings.panet_source or "")
                children.append(subprocess.Popen(
                    [sys.executable, "-m", "pancommons.cli", "serve", "--host", host, "--port", str(node_port)],
                    env=environment, stdout=subprocess.DEVNULL,
                ))
                urls.append(f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{node_port}/api")
            for url, child in zip(urls, children):
                for _ in range(600):
                    if child.poll() is not None:
                        raise CliError(f"the demo node for {url} stopped (exit {child.returncode}); is the port free?")
                    try:
                        if httpx.get(url + "/Datasets/count", timeout=2).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    time.sleep(0.1)
                out.print(f"facility node: {url}/Datasets")
            # uvicorn ends a SIGTERM by re-raising it under the handler found at start: make that
            # handler an exit, so the nodes below are stopped rather than left running.
            signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(128 + number))
            _federate(FederationConfig.from_urls(urls), host, port)
        finally:
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port to listen on")] = 8000,
    workers: Annotated[
        int | None, typer.Option(min=1, max=64, help="worker processes (default: serve_workers setting)")
    ] = None,
) -> None:
    """Serve the catalogue: the PaNOSC Search API under /api (OpenAPI documentation at /docs)."""
    with friendly_errors():
        settings = node_settings()
        catalogue_engine(settings).dispose()  # the schema is current and the database reachable before workers start
        _serve(settings, host, port, workers or settings.serve_workers)


def _serve(settings: Settings, host: str, port: int, workers: int) -> None:
    import uvicorn

    # Worker processes build their own app from the settings: hand them over as environment.
    os.environ["PANCOMMONS_HOME"] = str(settings.home)
    os.environ["PANCOMMONS_DATABASE_URL"] = settings.resolved_database_url
    if settings.panet_source is not None:
        os.environ["PANCOMMONS_PANET_SOURCE"] = settings.panet_source
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    out.print(f"\nPortal: http://{shown}:{port}/")
    out.print(f"Search API: http://{shown}:{port}/api/Datasets   documentation: http://{shown}:{port}/docs")
    out.print("Ctrl-C stops it.")
    uvicorn.run("pancommons.api.app:create_app", factory=True, host=host, port=port, workers=workers, log_level="warning")


@app.command()
def federate(
    provider: Annotated[
        list[str] | None, typer.Option("--provider", help="a PaNOSC API base URL (ending in /api); repeat for each", metavar="URL")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="TOML file of providers (see docs/federation.md)", metavar="FILE")] = None,
    timeout: Annotated[
        float | None, typer.Option(min=0.01, max=600, help="seconds to wait for each provider [default: 5]", metavar="SECONDS")
    ] = None,
    cache_seconds: Annotated[
        float | None, typer.Option(min=0, max=3600, help="identical requests within this answer from cache [default: 5]")
    ] = None,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port to listen on")] = 8000,
) -> None:
    """Serve one PaNOSC Search API in front of many: every request goes to every provider, answers merged."""
    from pancommons.federation.config import (
        DEFAULT_CACHE_SECONDS,
        DEFAULT_TIMEOUT,
        FederationConfig,
    )
    from pancommons.federation.providers import ProviderError

    with friendly_errors():
        try:
            if config is not None:
                federation = FederationConfig.from_file(config, timeout, provider or [])
                if cache_seconds is not None:
                    federation = FederationConfig(federation.providers, cache_seconds)
            else:
                federation = FederationConfig.from_urls(
                    provider or [], timeout or DEFAULT_TIMEOUT,
                    DEFAULT_CACHE_SECONDS if cache_seconds is None else cache_seconds,
                )
        except ProviderError as error:
            raise CliError(str(error)) from None
        _federate(federation, host, port)


def _federate(federation, host: str, port: int) -> None:
    import uvicorn

    from pancommons.federation.app import create_federation_app

    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    for each in federation.providers:
        out.print(f"provider: {each.url}  (timeout {each.timeout:g} s)")
    out.print(f"\nFederated Search API: http://{shown}:{port}/api/Datasets   status: http://{shown}:{port}/api/status")
    out.print("Ctrl-C stops it.")
    uvicorn.run(create_federation_app(federation), host=host, port=port, log_level="warning")


cli_access.register(app)  # who may see what: accounts, tokens, releases and the audit log


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
