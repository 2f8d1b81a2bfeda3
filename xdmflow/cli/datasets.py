"""``xdmflow datasets``: look at datasets and their rows on the server host (store and lake directly)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["datasets_app"]

datasets_app = typer.Typer(
    help="List datasets and show their rows (reads the local store and lake).", no_args_is_help=True
)
console = Console()
err = Console(stderr=True)

OrgOpt = Annotated[str | None, typer.Option("--org", help="Only this org (XXXX@AdobeOrg).")]
SandboxOpt = Annotated[str | None, typer.Option("--sandbox", help="Only this sandbox (e.g. prod).")]


@contextmanager
def _store() -> Iterator[Any]:
    from xdmflow.settings import Settings
    from xdmflow.store.db import Database

    settings = Settings()
    db = Database(settings.resolved_database_url)
    try:
        yield settings, db
    finally:
        db.dispose()


def _datasets(db: Any, org: str | None, sandbox: str | None, dataset_id: str | None = None) -> list[Any]:
    from sqlalchemy import select

    from xdmflow.services.kinds import DATASETS
    from xdmflow.store.tables import Document

    q = select(Document).where(Document.kind == DATASETS.kind)
    if org:
        q = q.where(Document.org_id == org)
    if sandbox:
        q = q.where(Document.sandbox_name == sandbox.lower())
    if dataset_id:
        q = q.where(Document.id == dataset_id)
    with db.session() as s:
        return list(s.scalars(q.order_by(Document.created_at)))


def _cell(value: Any, width: int = 60) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


@datasets_app.command("list")
def list_datasets(
    org: OrgOpt = None,
    sandbox: SandboxOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List datasets: id, org, sandbox, name, schema, last batch."""
    with _store() as (_, db):
        docs = _datasets(db, org, sandbox)
    rows = [
        {
            "id": d.id,
            "org": d.org_id,
            "sandbox": d.sandbox_name,
            "name": d.body.get("name"),
            "schema": (d.body.get("schemaRef") or {}).get("id"),
            "lastBatchId": d.body.get("lastBatchId"),
            "lastBatchStatus": d.body.get("lastBatchStatus"),
        }
        for d in docs
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(rows)} dataset(s)")
    for col in ("id", "org", "sandbox", "name", "schema", "lastBatchStatus"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(*(_cell(r[c]) for c in ("id", "org", "sandbox", "name", "schema", "lastBatchStatus")))
    console.print(table)


def _one(db: Any, dataset_id: str, org: str | None, sandbox: str | None) -> Any:
    docs = _datasets(db, org, sandbox, dataset_id)
    if not docs:
        err.print(f"[red]Dataset {dataset_id} is not found[/] (see `xdmflow datasets list`).")
        raise typer.Exit(1)
    if len(docs) > 1:
        err.print(
            f"[red]Dataset id {dataset_id} exists in several orgs/sandboxes;[/] pass --org and --sandbox."
        )
        raise typer.Exit(2)
    return docs[0]


@datasets_app.command("head")
def head(
    dataset_id: Annotated[str, typer.Argument(help="The dataset id.")],
    n: Annotated[int, typer.Option("-n", "--rows", min=1, max=10_000, help="How many rows.")] = 20,
    org: OrgOpt = None,
    sandbox: SandboxOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON Lines instead of a table.")] = False,
) -> None:
    """Show the first rows of a dataset's table."""
    from xdmflow.lake.lake import Lake, namespace_for
    from xdmflow.services.flowbase import rows_to_json

    with _store() as (settings, db):
        doc = _one(db, dataset_id, org, sandbox)
        lake = Lake.from_settings(settings)
        try:
            table = lake.scan(namespace_for(doc.org_id, doc.sandbox_name), doc.id, limit=n)
        finally:
            lake.close()
    rows = rows_to_json(table, n)
    if as_json:
        for r in rows:
            typer.echo(json.dumps(r, default=str))
        return
    out = Table(title=f"{doc.body.get('name')} ({doc.id}): first {len(rows)} row(s)")
    for name in table.schema.names:
        out.add_column(name, overflow="fold")
    for r in rows:
        out.add_row(*(_cell(r.get(c)) for c in table.schema.names))
    console.print(out)


@datasets_app.command("sql")
def sql(
    dataset_id: Annotated[str, typer.Argument(help="The dataset id.")],
    org: OrgOpt = None,
    sandbox: SandboxOpt = None,
) -> None:
    """Show how to query the dataset with SQL (``xdmflow sql``, psql), offline, no extension needed."""
    from xdmflow.query.catalog import DatasetRef, TableCatalog
    from xdmflow.schema.compiled import CompiledSchema
    from xdmflow.services.catalog.common import PRIVATE

    with _store() as (settings, db):
        doc = _one(db, dataset_id, org, sandbox)
        docs = sorted(_datasets(db, doc.org_id, doc.sandbox_name), key=lambda d: (d.created_at, d.pk))
        refs = [
            DatasetRef(d.id, str(d.body.get("name") or d.id), "", CompiledSchema.from_json(raw))
            for d in docs
            if (raw := (d.body.get(PRIVATE) or {}).get("compiledSchema"))
        ]
        name = TableCatalog(refs).name_of(doc.id)
        port = settings.pg_port or 5433
        typer.echo(
            f'-- table {name} (also "{doc.id}"), sandbox {doc.sandbox_name}, on a running xdmflow serve:'
        )
        typer.echo(f'xdmflow sql "SELECT * FROM {name} LIMIT 10"')
        typer.echo(
            f'PGPASSWORD="$(xdmflow token)" psql "host=127.0.0.1 port={port} user={doc.org_id} '
            f'dbname={doc.sandbox_name}:all" -c "SELECT * FROM {name} LIMIT 10"'
        )
