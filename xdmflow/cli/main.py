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

from xdmflow.cli.ops import register as _register_ops  # noqa: E402

_register_ops(app)

from xdmflow.cli.sql import sql_command  # noqa: E402

app.command("sql")(sql_command)

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
    pg_port: Annotated[
        int | None,
        typer.Option(
            "--pg-port",
            help="PostgreSQL port of the Query Service (0 = off; default XDMFLOW_PG_PORT or 5433).",
        ),
    ] = None,
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
    if pg_port is not None:
        settings.pg_port = pg_port
    application = build_app(settings, role=role, pg_host=host)
    console.print(f"[bold]xdmflow {__version__}[/] serving on http://{host}:{port} (role {role})")
    if role in ("api", "all") and settings.pg_port:
        console.print(
            f"PostgreSQL (Query Service) on {host}:{settings.pg_port} — "
            f'psql "host={host} port={settings.pg_port} user=<org id> dbname=prod:all" '
            "with an access token as password"
        )
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
    from xdmflow.runtime import build_context

    ctx = build_context(_settings())
    creds = dict(ctx.credentials)
    ctx.close()
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
    from xdmflow.runtime import build_context
    from xdmflow.services import identity

    ctx = build_context(_settings())
    creds = ctx.credentials
    with ctx.db.session() as s:
        tok = identity.issue_token(s, ctx.keys, ctx.settings, creds["client_id"], creds["client_secret"])
    ctx.close()
    typer.echo(tok["access_token"])


@clients_app.command("create")
def clients_create(
    org: Annotated[str, typer.Option(help="Org id (e.g. ACME0000000000000000000@AdobeOrg); created if new.")],
    name: Annotated[str, typer.Option(help="A label for the client.")] = "client",
) -> None:
    """Create an API client (and its org, with a ``prod`` sandbox, when new). Prints its credentials once."""
    from xdmflow.runtime import build_context
    from xdmflow.services import identity

    if "@" not in org:
        console.print("[red]--org must look like XXXX@AdobeOrg[/]")
        raise typer.Exit(2)
    ctx = build_context(_settings())
    with ctx.db.session() as s:
        creds = identity.create_client(s, org, name=name)
    ctx.close()
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
    client_id: Annotated[str | None, typer.Option("--client-id", help="The client id it accepts.")] = None,
    client_secret: Annotated[
        str | None, typer.Option("--client-secret", help="The client secret it accepts.")
    ] = None,
) -> None:
    """Serve the PayPal REST emulator (OAuth, transactions, catalog, plans, balances)."""
    from xdmflow.cli.demo import port_in_use
    from xdmflow.emulators.paypal import run
    from xdmflow.emulators.paypal.config import (
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        ClientApp,
        EmulatorConfig,
    )

    if port_in_use(port, host):
        console.print(f"[red]Port {port} is already in use[/]; choose another with --port.")
        raise typer.Exit(2)
    cid = client_id or DEFAULT_CLIENT_ID
    secret = client_secret or DEFAULT_CLIENT_SECRET
    config = EmulatorConfig(clients={cid: ClientApp(secret)})
    console.print(f"PayPal emulator on http://{host}:{port} (seed {seed})")
    console.print(f"  accepts client id [bold]{cid}[/] with secret [bold]{secret}[/]")
    console.print(
        "  a PayPal connection to it: auth params "
        f'{{"host": "http://{host}:{port}", "clientId": "{cid}", "clientSecret": "{secret}"}}'
    )
    console.print(
        f"A service reaches it only when its operator allows the host: XDMFLOW_ALLOWED_HOSTS={host}:{port}"
    )
    run(host=host, port=port, seed=seed, config=config)


@emulate_app.command("square")
def emulate_square(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8091,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 0,
) -> None:
    """Serve the Square API emulator (OAuth refresh, payments, refunds, orders, customers, catalog)."""
    from xdmflow.emulators.square import (
        DEFAULT_ACCESS_TOKEN,
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        DEFAULT_REFRESH_TOKEN,
        run,
    )

    console.print(f"Square emulator on http://{host}:{port} (seed {seed})")
    console.print(f"  personal access token: {DEFAULT_ACCESS_TOKEN}")
    console.print(f"  OAuth: clientId {DEFAULT_CLIENT_ID}  clientSecret {DEFAULT_CLIENT_SECRET}")
    console.print(f"         refreshToken {DEFAULT_REFRESH_TOKEN}")
    console.print(
        f"A service reaches it only when its operator allows the host: XDMFLOW_ALLOWED_HOSTS={host}:{port}"
    )
    run(host=host, port=port, seed=seed)


@emulate_app.command("stripe")
def emulate_stripe(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 12111,
    seed: Annotated[int, typer.Option(help="Seed of the generated data.")] = 0,
    api_key: Annotated[
        str | None, typer.Option("--api-key", help="Secret key to accept (sk_test_...).")
    ] = None,
    rps: Annotated[
        float, typer.Option(help="Requests per second per key before 429 (0 = unlimited).")
    ] = 25.0,
    lag: Annotated[int, typer.Option(help="Seconds before a new object shows in lists.")] = 2,
) -> None:
    """Serve the Stripe API emulator (lists, retrieves, events, errors, rate limits)."""
    from xdmflow.emulators.stripe import DEFAULT_RESTRICTED_KEY, DEFAULT_SECRET_KEY, EmulatorConfig, run

    config = EmulatorConfig(
        secret_key=api_key or DEFAULT_SECRET_KEY, rate_limit_rps=rps or None, visibility_lag=lag
    )
    console.print(f"Stripe emulator on http://{host}:{port} (seed {seed})")
    console.print(f"  secret key:     {config.secret_key}")
    console.print(f"  restricted key: {DEFAULT_RESTRICTED_KEY} (no payouts, no balance transactions)")
    console.print(
        f"A service reaches it only when its operator allows the host: XDMFLOW_ALLOWED_HOSTS={host}:{port}"
    )
    run(host=host, port=port, seed=seed, config=config)


@app.command()
def demo(
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Leave the service up afterwards.")
    ] = False,
    port: Annotated[int, typer.Option(help="Port of the service.")] = 8080,
    fresh: Annotated[
        bool, typer.Option("--fresh", help="Empty the demo's home first and start over.")
    ] = False,
    transactions: Annotated[
        int | None, typer.Option("--transactions", min=100, help="PayPal transactions to generate (20000).")
    ] = None,
) -> None:
    """Start the service and the PayPal emulator, and run the payments tutorial end to end.

    Run it again in the same home: it replaces what its earlier run created. ``--fresh``
    empties the home (one the demo created) first.
    """
    from xdmflow.cli.demo import run_demo

    sys.exit(
        run_demo(_settings(), port=port, keep_running=keep_running, fresh=fresh, transactions=transactions)
    )


if __name__ == "__main__":
    app()
