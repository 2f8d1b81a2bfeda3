"""``xdmflow sql``: SQL against a running service, through its Query Service (PostgreSQL port).

The command signs in like any client: an access token from the service's ``/ims/token/v3`` for the
default client (``{home}/credentials.json``, as ``xdmflow credentials`` prints it), the PostgreSQL
host and port from ``GET /data/foundation/query/connection_parameters``, then psycopg.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["sql_command", "connect", "table_sql"]

console = Console()
err = Console(stderr=True)


def _credentials() -> dict[str, str]:
    from xdmflow.runtime import build_context
    from xdmflow.settings import Settings

    ctx = build_context(Settings())
    creds = dict(ctx.credentials)
    ctx.close()
    return creds


def connect(url: str, sandbox: str = "prod", creds: dict[str, str] | None = None) -> Any:
    """A psycopg connection to the service at ``url`` (its Query Service port)."""
    import httpx
    import psycopg

    creds = creds or _credentials()
    base = url.rstrip("/")
    r = httpx.post(
        f"{base}/ims/token/v3",
        data={
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        },
        timeout=30,
    )
    if r.status_code != 200:
        raise typer.BadParameter(f"Cannot get a token from {base}: {r.status_code} {r.text[:200]}")
    token = r.json()["access_token"]
    headers = {
        "Authorization": f"Bearer {token}",
        "x-api-key": creds["client_id"],
        "x-gw-ims-org-id": creds["org_id"],
        "x-sandbox-name": sandbox,
    }
    params = httpx.get(f"{base}/data/foundation/query/connection_parameters", headers=headers, timeout=30)
    if params.status_code != 200:
        raise typer.BadParameter(f"{base} has no Query Service: {params.status_code} {params.text[:200]}")
    p = params.json()
    if not p.get("port"):
        raise typer.BadParameter("The service's PostgreSQL port is off (XDMFLOW_PG_PORT=0)")
    return psycopg.connect(
        host=p["host"],
        port=p["port"],
        user=p["username"],
        password=token,
        dbname=p["dbName"],
        autocommit=True,
    )


def table_sql(cur: Any) -> tuple[list[str], list[tuple[Any, ...]]]:
    names = [d.name for d in cur.description] if cur.description else []
    return names, list(cur.fetchall()) if cur.description else []


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dict | list):
        return json.dumps(v, default=str)
    return str(v)


def _emit(names: list[str], rows: list[tuple[Any, ...]], fmt: str, output: str | None) -> None:
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not output:
            raise typer.BadParameter("--format parquet needs --output FILE")
        cols = {n: [r[i] for r in rows] for i, n in enumerate(names)}
        pq.write_table(pa.table(cols), output)
        err.print(f"{len(rows)} rows written to {output}")
        return
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(names)
        for r in rows:
            w.writerow([_cell(v) for v in r])
        text = buf.getvalue()
    elif fmt == "json":
        text = "\n".join(json.dumps(dict(zip(names, r, strict=True)), default=str) for r in rows) + (
            "\n" if rows else ""
        )
    else:
        table = Table(*names, show_lines=False)
        for r in rows:
            table.add_row(*[_cell(v) for v in r])
        if output:
            with open(output, "w") as fh:
                Console(file=fh, width=200).print(table)
        else:
            console.print(table)
            err.print(f"({len(rows)} rows)")
        return
    if output:
        with open(output, "w") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)


def _run(conn: Any, statement: str, fmt: str, output: str | None) -> bool:
    import psycopg

    try:
        cur = conn.execute(statement)
    except psycopg.Error as exc:
        err.print(f"[red]ERROR:[/] {str(exc).strip()}")
        return False
    if cur.description is None:
        err.print(cur.statusmessage or "OK")
        return True
    names, rows = table_sql(cur)
    _emit(names, rows, fmt, output)
    return True


def sql_command(
    statement: Annotated[
        str | None, typer.Argument(help="The SQL; omit it for an interactive prompt.")
    ] = None,
    url: Annotated[str, typer.Option("--url", help="The running service.")] = "http://127.0.0.1:8080",
    sandbox: Annotated[str, typer.Option("--sandbox", help="Sandbox to query.")] = "prod",
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json | parquet")] = "table",
    output: Annotated[str | None, typer.Option("--output", help="Write the result to this file.")] = None,
) -> None:
    """Run SQL on the datasets of a sandbox (through the service's Query Service)."""
    if fmt not in ("table", "csv", "json", "parquet"):
        raise typer.BadParameter("--format must be table, csv, json or parquet")
    conn = connect(url, sandbox)
    try:
        if statement is not None:
            if not _run(conn, statement, fmt, output):
                raise typer.Exit(1)
            return
        err.print("xdmflow SQL — end statements with ';', \\dt lists tables, \\q quits.")
        buf: list[str] = []
        while True:
            try:
                line = input("sql> " if not buf else "...> ")
            except EOFError:
                break
            stripped = line.strip()
            if not buf and stripped in ("\\q", "quit", "exit"):
                break
            if not buf and stripped == "\\dt":
                _run(conn, "SHOW TABLES", fmt, None)
                continue
            buf.append(line)
            if stripped.endswith(";"):
                _run(conn, "\n".join(buf), fmt, None)
                buf = []
    finally:
        conn.close()
