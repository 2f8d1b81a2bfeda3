"""``xdmflow datasets``: list datasets and show their rows over the API; ``sql`` on the server host.

``list`` and ``head`` go through :mod:`xdmflow.cli.client` (``--url`` for a running service, else
the local home is served for the command), so they work against a remote deployment too.
``head`` shows an ad-hoc dataset's columns by their source names (the ``_<guid>`` namespace of
the ad-hoc class is unwrapped; nested objects become dotted columns). ``sql`` prints a DuckDB
query over the Iceberg metadata, which only makes sense where the lake's files are.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["datasets_app"]

datasets_app = typer.Typer(help="List datasets and show their rows (over the API).", no_args_is_help=True)
console = Console()
err = Console(stderr=True)

OrgOpt = Annotated[str | None, typer.Option("--org", help="Only this org (XXXX@AdobeOrg).")]
SandboxOpt = Annotated[str | None, typer.Option("--sandbox", help="Only this sandbox (e.g. prod).")]
UrlOpt = Annotated[
    str | None, typer.Option("--url", help="The service; default XDMFLOW_URL, else the local home.")
]
TokenOpt = Annotated[
    str | None, typer.Option("--token", help="An access token (default: the default client's).")
]
ApiOrgOpt = Annotated[str | None, typer.Option("--org", help="Org id (default: the credentials').")]
KeyOpt = Annotated[str | None, typer.Option("--api-key", help="Client id with --token (x-api-key).")]


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
    from xdmflow.services.catalog.datasets import operator_datasets

    with db.session() as s:
        return operator_datasets(s, org, sandbox, dataset_id)


def _cell(value: Any, width: int = 60) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


def _flatten(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in row.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            flat.update(_flatten(v, f"{key}."))
        else:
            flat[key] = v
    return flat


def _strip_namespace(row: dict[str, Any], namespace: str | None) -> dict[str, Any]:
    """Unwrap the ad-hoc namespace object so its fields show by their own (source) names."""
    if namespace and isinstance(row.get(namespace), dict):
        return {**{k: v for k, v in row.items() if k != namespace}, **row[namespace]}
    return row


@datasets_app.command("list")
def list_datasets(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    org: ApiOrgOpt = None,
    api_key: KeyOpt = None,
    sandbox: Annotated[str, typer.Option("--sandbox", help="Sandbox name.")] = "prod",
) -> None:
    """List datasets: id, name, rows, size, last batch and its status."""
    from xdmflow.cli.client import CAT
    from xdmflow.cli.ops import _api

    with _api(url, token, org, api_key, sandbox) as api:
        datasets = api.get(f"{CAT}/dataSets?limit=100&orderBy=created") or {}
        rows = []
        for ds_id, d in datasets.items():
            batches = api.get(f"{CAT}/batches?dataSet={ds_id}&limit=100") or {}
            ok = [b for b in batches.values() if b.get("status") in ("success", "active")]
            metrics = [b.get("metrics") or {} for b in ok]
            last: dict[str, Any] = max(batches.values(), key=lambda b: b.get("created", 0), default={})
            at = int(last.get("created") or 0) / 1000
            rows.append(
                {
                    "id": ds_id,
                    "name": d.get("name"),
                    "schema": (d.get("schemaRef") or {}).get("id"),
                    "rows": sum(
                        int(m.get("outputRecordCount") or m.get("recordCount") or 0) for m in metrics
                    ),
                    "bytes": sum(int(m.get("outputByteSize") or 0) for m in metrics),
                    "lastBatchId": d.get("lastBatchId"),
                    "lastBatchStatus": d.get("lastBatchStatus"),
                    "lastBatchAt": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)) if at else "",
                }
            )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(rows)} dataset(s)")
    cols = ("id", "name", "rows", "bytes", "lastBatchId", "lastBatchStatus", "lastBatchAt")
    for col in cols:
        table.add_column(col, overflow="fold", justify="right" if col in ("rows", "bytes") else "left")
    for r in rows:
        table.add_row(*(_cell(r[c]) for c in cols))
    console.print(table)


@datasets_app.command("head")
def head(
    dataset_id: Annotated[str, typer.Argument(help="The dataset id.")],
    n: Annotated[int, typer.Option("-n", "--rows", min=1, max=1000, help="How many rows.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON Lines instead of a table.")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    org: ApiOrgOpt = None,
    api_key: KeyOpt = None,
    sandbox: Annotated[str, typer.Option("--sandbox", help="Sandbox name.")] = "prod",
) -> None:
    """Show the first rows of a dataset (ad-hoc columns by their source names)."""
    from urllib.parse import quote

    from xdmflow.cli.client import CAT, EXPORT, SR
    from xdmflow.cli.ops import _api

    with _api(url, token, org, api_key, sandbox) as api:
        ds = api.get(f"{CAT}/dataSets/{dataset_id}")[dataset_id]
        schema_id = (ds.get("schemaRef") or {}).get("id")
        namespace = None
        if schema_id:
            schema = api.get(
                f"{SR}/tenant/schemas/{quote(schema_id, safe='')}",
                headers={"Accept": "application/vnd.adobe.xed+json; version=1"},
            )
            namespace = schema.get("meta:datasetNamespace")
        data = api.get(f"{EXPORT}/datasets/{dataset_id}/preview?limit={n}").get("data", [])
    rows = [_strip_namespace(r, namespace) for r in data]
    if as_json:
        for r in rows:
            typer.echo(json.dumps(r, default=str))
        return
    flat = [_flatten(r) for r in rows]
    columns: list[str] = []
    for r in flat:
        columns.extend(c for c in r if c not in columns)
    console.print(f"{ds.get('name')} ({dataset_id}): first {len(rows)} row(s)", soft_wrap=True)
    out = Table()
    for name in columns:
        out.add_column(name, overflow="fold")
    for r in flat:
        out.add_row(*(_cell(r.get(c)) for c in columns))
    console.print(out)


def _one(db: Any, dataset_id: str, org: str | None, sandbox: str | None) -> Any:
    docs = _datasets(db, org, sandbox, dataset_id)
    if not docs:
        err.print(f"[red]Dataset {dataset_id} is not found[/] (see `xdmflow datasets list`).")
        raise typer.Exit(3)
    if len(docs) > 1:
        err.print(
            f"[red]Dataset id {dataset_id} exists in several orgs/sandboxes;[/] pass --org and --sandbox."
        )
        raise typer.Exit(2)
    return docs[0]


@datasets_app.command("sql")
def sql(
    dataset_id: Annotated[str, typer.Argument(help="The dataset id.")],
    org: OrgOpt = None,
    sandbox: SandboxOpt = None,
) -> None:
    """Show how to query the dataset with SQL (``xdmflow sql``, psql), offline, no extension needed."""
    from xdmflow.query.tables import DatasetRef, TableCatalog
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
