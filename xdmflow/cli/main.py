"""The ``xdmflow`` command line (Typer + Rich)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console

from xdmflow import __version__
from xdmflow.settings import Settings

app = typer.Typer(
    name="xdmflow",
    help="Self-hosted ingestion that speaks the Adobe Experience Platform API.",
    no_args_is_help=True,
    add_completion=False,
)
clients_app = typer.Typer(help="Manage API clients and orgs.", no_args_is_help=True)
db_app = typer.Typer(help="Metadata store maintenance.", no_args_is_help=True)
emulate_app = typer.Typer(help="Emulators of outside systems, for tests and the demo.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")
app.add_typer(db_app, name="db")
app.add_typer(emulate_app, name="emulate")

from xdmflow.cli.datasets import datasets_app  # noqa: E402

app.add_typer(datasets_app, name="datasets")

from xdmflow.cli.lake import lake_app  # noqa: E402

app.add_typer(lake_app, name="lake")

console = Console(stderr=True)


def _settings() -> Settings:
    return Settings()


@app.command()
def version() -> None:
    """Print the xdmflow version."""
    typer.echo(__version__)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    role: Annotated[str, typer.Option(help="api | scheduler | worker | all")] = "all",
) -> None:
    """Run the service: API, scheduler and an in-process worker (``--role all``).

    ``api`` serves the REST API only; ``scheduler`` fires due flows (one holder of the scheduler
    lease at a time); ``worker`` executes queued runs. See docs/deploy.md.
    """
    import uvicorn

    from xdmflow.runtime import ROLES, build_app

    if role not in ROLES:
        console.print(f"[red]--role must be one of {', '.join(ROLES)}[/]")
        raise typer.Exit(2)

    settings = _settings()
    if "XDMFLOW_PUBLIC_URL" not in __import__("os").environ:
        settings.public_url = f"http://{host}:{port}"
    application = build_app(settings, role=role)
    console.print(f"[bold]xdmflow {__version__}[/] serving on http://{host}:{port} (role {role})")
    uvicorn.run(application, host=host, port=port, log_level="warning")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the metadata store's migrations up to the newest."""
    from xdmflow.store.db import Database
    from xdmflow.store.migrate import current_revision, upgrade

    settings = _settings()
    settings.home_path.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    upgrade(db.engine)
    console.print(f"metadata store at revision {current_revision(db.engine)}")
    db.dispose()


def _ensure_identity() -> dict[str, str]:
    from xdmflow.api.app import build_context

    ctx = build_context(_settings())
    creds = dict(ctx.credentials)
    ctx.db.dispose()
    return creds


@app.command()
def credentials(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Print the default client's credentials (created on first use)."""
    creds = _ensure_identity()
    if as_json:
        typer.echo(json.dumps(creds, indent=2))
        return
    for key, value in creds.items():
        typer.echo(f"{key}: {value}")


@app.command()
def token() -> None:
    """Print a valid access token for the default client."""
    from xdmflow.api.app import build_context
    from xdmflow.services import identity

    ctx = build_context(_settings())
    creds = ctx.credentials
    with ctx.db.session() as s:
        tok = identity.issue_token(s, ctx.keys, ctx.settings, creds["client_id"], creds["client_secret"])
    ctx.db.dispose()
    typer.echo(tok["access_token"])


@clients_app.command("create")
def clients_create(
    org: Annotated[str, typer.Option(help="Org id (e.g. ACME0000000000000000000@AdobeOrg); created if new.")],
    name: Annotated[str, typer.Option(help="A label for the client.")] = "client",
) -> None:
    """Create an API client (and its org, with a ``prod`` sandbox, when new). Prints its credentials once."""
    from xdmflow.api.app import build_context
    from xdmflow.services import identity

    if "@" not in org:
        console.print("[red]--org must look like XXXX@AdobeOrg[/]")
        raise typer.Exit(2)
    ctx = build_context(_settings())
    with ctx.db.session() as s:
        creds = identity.create_client(s, org, name=name)
    ctx.db.dispose()
    typer.echo(
        json.dumps(
            {"client_id": creds.client_id, "client_secret": creds.client_secret, "org_id": creds.org_id},
            indent=2,
        )
    )


@emulate_app.command("paypal")
def emulate_paypal(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8089,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 0,
) -> None:
    """Serve the PayPal REST emulator (OAuth, transactions, catalog, plans, balances)."""
    from xdmflow.emulators.paypal import run

    console.print(f"PayPal emulator on http://{host}:{port} (seed {seed})")
    run(host=host, port=port, seed=seed)


@app.command()
def demo(
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Leave the service up afterwards.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port of the service.")] = 8080,
) -> None:
    """Start the service and the PayPal emulator, and run the payments tutorial end to end."""
    from xdmflow.cli.demo import run_demo

    sys.exit(run_demo(_settings(), port=port, keep_running=keep_running))


if __name__ == "__main__":
    app()
