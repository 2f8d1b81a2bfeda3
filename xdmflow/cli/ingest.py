"""``xdmflow ingest SOURCE``: your own data in one command, through the platform API.

Everything it creates is an ordinary platform resource (base connection, ad-hoc class and
schema, dataset, mapping set, source and target connections, a dataflow), named after the
dataset, so it shows in the API and the console. Running it again finds the dataflow by its name
(``ingest: NAME``) and starts a run of it: file flows read only files that are new or changed
since the last run, SQL flows with ``--delta-column`` only rows above the last value.

SOURCE is a local file or folder, ``s3://bucket/prefix``, ``sftp://user:password@host:port/path``,
``postgresql://user:password@host:port/db?table=schema.table``, ``mysql://…?table=…`` or
``paypal://CLIENT_ID:SECRET@api-m.paypal.com?table=PayPal.Transactions``,
``stripe://SECRET_KEY@api.stripe.com?table=Stripe.Charges`` or
``square://ACCESS_TOKEN@connect.squareup.com?table=Square.Payments`` (``paypal+http://``,
``stripe+http://``, ``square+http://`` for the emulators).
A local file outside the operator's local roots (``XDMFLOW_LOCAL_ROOTS``) is copied into
``<first root>/ingest/<name>/`` — a Local Folder connection may only read under the roots.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from xdmflow.cli.client import CAT, CONV, FS, INFER, SR, ApiError, Client
from xdmflow.errors import XdmflowError
from xdmflow.settings import Settings

__all__ = ["Source", "parse_source", "IngestOptions", "ingest", "wait_run", "IngestFailed"]

LOCAL = "59bfba2a-ae6b-42ff-87cb-fb44f5e66700"
S3 = "ecadc60c-7455-4d87-84dc-2a0e293d997b"
SFTP = "b7bf2577-4520-42c9-bae9-cad01560f7bc"
POSTGRES = "74a1c565-4e59-48d7-9d67-7c03b8a13137"
MYSQL = "26d738e0-8963-47ea-aadf-c60de735468a"
MARIADB = "3000eb99-cd47-43f3-827c-43caf170f015"
PAYPAL = "221c7626-58f6-4eec-8ee2-042b0226f03b"
STRIPE = "cc2c31d6-7b8c-4581-b49f-5c8698aa3ab3"
SQUARE = "2acf109f-9b66-4d5e-bc18-ebb2adcff8d5"
LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
CLOUD_FLOW = "CloudStorageToAEP"
CRM_FLOW = "CRMToAEP"
XED_V1 = "application/vnd.adobe.xed+json;version=1"
_FREQUENCIES = ("once", "minute", "hour", "day", "week")


class IngestFailed(XdmflowError):
    """The ingestion could not be set up or its run failed; ``exit_code`` is the CLI's exit code."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Source:
    """What SOURCE resolves to: a connection spec, its auth params and the object to read."""

    spec_id: str
    auth_spec: str
    auth: dict[str, Any]
    object: str
    name: str
    kind: str  # "files" | "sql"
    notes: list[str] = field(default_factory=list)


def _name_of(text: str) -> str:
    stem = Path(text.rstrip("/")).name
    for ext in (".gz", ".bz2", ".zst"):
        stem = stem.removesuffix(ext)
    return Path(stem).stem or stem or "data"


def _local(path: Path, settings: Settings, name: str | None) -> Source:
    if not path.exists():
        raise IngestFailed(f"{path} does not exist", 2)
    path = path.resolve()
    roots = settings.resolved_local_roots
    label = name or _name_of(str(path))
    for root in roots:
        if path == root or root in path.parents:
            rel = str(path.relative_to(root)) if path != root else "."
            obj = rel if path.is_file() else (f"{rel}/*" if rel != "." else "*")
            return Source(LOCAL, "Local Folder", {"rootPath": str(root)}, obj, label, "files")
    if not roots:
        raise IngestFailed("no local roots are configured (XDMFLOW_LOCAL_ROOTS)", 2)
    root = roots[0]
    dest = root / "ingest" / label
    dest.mkdir(parents=True, exist_ok=True)
    files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
    copied = 0
    for f in files:
        target = dest / f.name
        if target.exists() and target.stat().st_size == f.stat().st_size and _same(f, target):
            continue
        shutil.copyfile(f, target)  # a new modification time: the flow sees it as new
        copied += 1
    obj = f"ingest/{label}/{path.name}" if path.is_file() else f"ingest/{label}/*"
    note = (
        f"{path} is outside the local roots ({', '.join(map(str, roots))}): "
        f"copied {copied} file(s) into {dest}"
    )
    return Source(LOCAL, "Local Folder", {"rootPath": str(root)}, obj, label, "files", [note])


def _same(a: Path, b: Path) -> bool:
    with a.open("rb") as fa, b.open("rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def parse_source(text: str, settings: Settings, name: str | None = None) -> Source:
    """Resolve SOURCE (module doc); ``IngestFailed(code 2)`` for what cannot be a source."""
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme in ("", "file") or (len(scheme) == 1 and text[1:3] in (":\\", ":/")):
        return _local(Path(unquote(parts.path) if scheme == "file" else text).expanduser(), settings, name)
    if scheme == "s3":
        if not parts.netloc:
            raise IngestFailed("an s3:// source needs a bucket: s3://bucket/prefix", 2)
        import os

        s3_query = dict(parse_qsl(parts.query))
        auth: dict[str, Any] = {
            "s3AccessKey": os.environ.get("AWS_ACCESS_KEY_ID", ""),
            "s3SecretKey": os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
            "bucketName": parts.netloc,
        }
        endpoint = s3_query.get("endpoint") or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            auth["serviceUrl"] = endpoint
        if os.environ.get("AWS_DEFAULT_REGION"):
            auth["region"] = os.environ["AWS_DEFAULT_REGION"]
        prefix = parts.path.lstrip("/")
        obj = f"/{parts.netloc}/{prefix}" if prefix else f"/{parts.netloc}/*"
        if prefix.endswith("/"):
            obj += "*"
        return Source(
            S3, "Basic Authentication for S3", auth, obj, name or _name_of(prefix or parts.netloc), "files"
        )
    if scheme == "sftp":
        if not parts.hostname:
            raise IngestFailed("an sftp:// source needs a host: sftp://user:password@host:port/path", 2)
        auth = {
            "host": str(parts.hostname),
            "port": parts.port or 22,
            "userName": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
        }
        path = parts.path or "/"
        obj = path + "*" if path.endswith("/") else path
        return Source(SFTP, "Basic Authentication for sftp", auth, obj, name or _name_of(path), "files")
    if scheme in ("paypal", "paypal+http"):
        query = parse_qsl(parts.query)
        table = next((v for k, v in query if k == "table"), None)
        if not table or not parts.hostname:
            raise IngestFailed(
                "a paypal:// source is paypal://CLIENT_ID:SECRET@host?table=PayPal.Transactions", 2
            )
        http = "http" if scheme == "paypal+http" else "https"
        host = f"{http}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        auth = {
            "host": host,
            "clientId": unquote(parts.username or ""),
            "clientSecret": unquote(parts.password or ""),
        }
        label = name or table.split(".")[-1].lower()
        return Source(PAYPAL, "Client-Id-Secret Based Authentication", auth, table, label, "sql")
    if scheme in ("stripe", "stripe+http", "square", "square+http"):
        return _keyed_payments(scheme, parts, name)
    specs = {"postgresql": POSTGRES, "postgres": POSTGRES, "mysql": MYSQL, "mariadb": MARIADB}
    if scheme in specs:
        query = parse_qsl(parts.query)
        table = next((v for k, v in query if k == "table"), None)
        if not table:
            raise IngestFailed(f"a {scheme}:// source needs ?table=schema.table", 2)
        rest = urlencode([(k, v) for k, v in query if k != "table"])
        conn = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, ""))
        auth = {"connectionString": conn}
        return Source(
            specs[scheme],
            "Connection String Based Authentication",
            auth,
            table,
            name or table.split(".")[-1],
            "sql",
        )
    raise IngestFailed(
        f"unsupported source {text!r}: use a local path, s3://, sftp://, postgresql://, mysql://, "
        "paypal://, stripe:// or square://",
        2,
    )


def _keyed_payments(scheme: str, parts: Any, name: str | None) -> Source:
    """``stripe://KEY@host?table=…`` (an API key) or ``square://TOKEN@host?table=…`` (an access token)."""
    app = scheme.split("+")[0]
    query = parse_qsl(parts.query)
    table = next((v for k, v in query if k == "table"), None)
    secret = unquote(parts.username or "")
    if not table or not parts.hostname or not secret:
        example = (
            "SECRET_KEY@api.stripe.com?table=Stripe.Charges"
            if app == "stripe"
            else ("ACCESS_TOKEN@connect.squareup.com?table=Square.Payments")
        )
        raise IngestFailed(f"a {app}:// source is {app}://{example}", 2)
    http = "http" if scheme.endswith("+http") else "https"
    host = f"{http}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    label = name or table.split(".")[-1].lower()
    if app == "stripe":
        return Source(STRIPE, "API Key", {"host": host, "apiKey": secret}, table, label, "sql")
    return Source(SQUARE, "OAuth2 Refresh Code", {"host": host, "accessToken": secret}, table, label, "sql")


@dataclass
class IngestOptions:
    dataset: str | None = None
    schema_id: str | None = None
    file_format: str | None = None
    delta_column: str | None = None
    schedule: str | None = None
    yes: bool = False
    allow_rejects: float = 10.0
    timeout: float = 600.0


def parse_schedule(text: str | None) -> dict[str, Any]:
    """``hour:1`` → ``{"frequency": "hour", "interval": 1}``; ``None`` or ``once`` → once."""
    if not text or text == "once":
        return {"frequency": "once"}
    freq, _, interval = text.partition(":")
    if freq not in _FREQUENCIES or not interval.isdigit() or int(interval) < 1:
        raise IngestFailed(
            f"--schedule must be once or FREQUENCY:INTERVAL ({', '.join(_FREQUENCIES[1:])}): {text!r}", 2
        )
    if freq == "minute" and int(interval) < 15:
        raise IngestFailed("--schedule minute:N needs N >= 15", 2)
    return {"frequency": freq, "interval": int(interval)}


def _q(value: str) -> str:
    return quote(f'"{value}"', safe="")


def _find_flow(api: Client, name: str) -> dict[str, Any] | None:
    found = api.get(f"{FS}/flows?property=name=={_q(name)}")["items"]
    return found[0] if found else None


def _unique_title(api: Client, kind: str, title: str) -> str:
    n = 1
    candidate = title
    while True:
        got = api.get(
            f"{SR}/tenant/{kind}?property=title=={quote(candidate, safe='')}",
            headers={"Accept": "application/vnd.adobe.xed-id+json"},
        )
        if not got.get("results"):
            return candidate
        n += 1
        candidate = f"{title} ({n})"


def _fields_table(fields: list[dict[str, Any]], sampled: int) -> Table:
    table = Table(title=f"Inferred schema ({sampled} sample rows)")
    table.add_column("column")
    table.add_column("field")
    table.add_column("XDM type")
    table.add_column("values that do not fit", justify="right")

    def add(fs: list[dict[str, Any]], indent: str = "") -> None:
        for f in fs:
            bad = f"{f['mismatches']} of {f['sampled']}" if f.get("mismatches") else ""
            table.add_row(indent + f["source"], f["name"], f["type"], bad)
            add(f.get("fields", []), indent + "  ")

    add(fields)
    return table


def _mapping_table(rules: list[dict[str, Any]], unmapped: list[str]) -> Table:
    table = Table(title="Mapping")
    table.add_column("source")
    table.add_column("destination")
    for r in rules:
        table.add_row(r["source"], r["destination"])
    for u in unmapped:
        table.add_row(u, "[yellow](not mapped)[/]")
    return table


def wait_run(
    api: Client, flow_id: str, *, after: set[str], console: Console, timeout: float
) -> dict[str, Any]:
    """Follow the flow's next run (one not in ``after``) to its end, with a progress display."""
    deadline = time.monotonic() + timeout
    run: dict[str, Any] | None = None
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("waiting for the run", total=None)
        while time.monotonic() < deadline:
            runs = api.get(f"{FS}/runs?property=flowId=={flow_id}&orderby=-createdAt&limit=20")["items"]
            fresh = [r for r in runs if r["id"] not in after]
            if fresh:
                run = fresh[0]
                state = run.get("state") or run["metrics"]["statusSummary"]["status"]
                rec = run["metrics"].get("recordSummary") or {}
                progress.update(
                    task,
                    description=f"run {run['id']}: {state}, {rec.get('inputRecordCount', 0)} rows read",
                )
                if state in ("success", "failed"):
                    progress.update(task, total=1, completed=1)
                    return run
            time.sleep(0.3)
    raise IngestFailed(f"the run of flow {flow_id} did not finish within {timeout:.0f} s", 6)


def _create(api: Client, src: Source, opts: IngestOptions, console: Console, flow_name: str) -> str:
    name = src.name
    base = api.post(
        f"{FS}/connections",
        {
            "name": flow_name,
            "description": f"Created by xdmflow ingest for {name}",
            "auth": {"specName": src.auth_spec, "params": src.auth},
            "connectionSpec": {"id": src.spec_id, "version": "1.0"},
        },
    )["id"]
    api.get(f"{FS}/connections/{base}/test")
    explore_opts: dict[str, Any] = {}
    if opts.file_format:
        explore_opts["fileType"] = opts.file_format
    proposal = api.post(
        INFER,
        {"connectionId": base, "object": src.object, "options": explore_opts, "title": name},
    )
    schema_id = opts.schema_id
    if schema_id is None:
        console.print(_fields_table(proposal["fields"], proposal["sampledRows"]))
    if not opts.yes:
        import typer

        if not typer.confirm(
            "Create the schema, dataset and dataflow?" if schema_id is None else "Map onto the schema?",
            default=True,
        ):
            raise IngestFailed("cancelled", 1)
    if schema_id is None:
        cls = dict(proposal["adhoc"]["class"])
        cls["title"] = _unique_title(api, "classes", cls["title"])
        created = api.post(f"{SR}/tenant/classes", cls)
        schema = dict(proposal["adhoc"]["schema"])
        schema["title"] = _unique_title(api, "schemas", schema["title"])
        schema["allOf"] = [{"$ref": created["$id"]}]
        schema_id = api.post(f"{SR}/tenant/schemas", schema)["$id"]
    mapped = api.post(
        INFER,
        {"connectionId": base, "object": src.object, "options": explore_opts, "schemaId": schema_id},
    )
    if not mapped["mappings"]:
        raise IngestFailed(f"no source column matches a field of schema {schema_id}", 4)
    console.print(_mapping_table(mapped["mappings"], mapped["unmapped"]))
    dataset = api.post(
        f"{CAT}/dataSets",
        {
            "name": name,
            "description": f"Ingested by xdmflow ingest from {src.object}",
            "schemaRef": {"id": schema_id, "contentType": XED_V1},
            "enableErrorDiagnostics": True,
        },
    )[0].split("/")[-1]
    mapping = api.post(
        f"{CONV}/mappingSets",
        {
            "outputSchema": {"schemaRef": {"id": schema_id, "contentType": XED_V1}},
            "mappings": mapped["mappings"],
        },
    )["id"]
    if src.kind == "files":
        fmt = opts.file_format or str(mapped.get("properties", {}).get("fileType") or "delimited")
        params: dict[str, Any] = {"path": src.object}
    else:
        fmt = "tabular"
        params = {"tableName": src.object}
    source = api.post(
        f"{FS}/sourceConnections",
        {
            "name": flow_name,
            "baseConnectionId": base,
            "data": {"format": fmt},
            "params": params,
            "connectionSpec": {"id": src.spec_id, "version": "1.0"},
        },
    )["id"]
    target = api.post(
        f"{FS}/targetConnections",
        {
            "name": flow_name,
            "data": {"format": "parquet_xdm", "schema": {"id": schema_id, "version": XED_V1}},
            "params": {"dataSetId": dataset},
            "connectionSpec": {"id": LAKE, "version": "1.0"},
        },
    )["id"]
    spec_name = CLOUD_FLOW if src.kind == "files" else CRM_FLOW
    spec_id = api.get(f"{FS}/flowSpecs?property=name=={_q(spec_name)}")["items"][0]["id"]
    transformations: list[dict[str, Any]] = []
    if opts.delta_column:
        transformations.append(
            {"name": "Copy", "params": {"deltaColumn": {"name": opts.delta_column, "timezone": "UTC"}}}
        )
    transformations.append({"name": "Mapping", "params": {"mappingId": mapping, "mappingVersion": 0}})
    flow = api.post(
        f"{FS}/flows",
        {
            "name": flow_name,
            "description": f"xdmflow ingest of {src.object} into dataset {name}",
            "flowSpec": {"id": spec_id, "version": "1.0"},
            "sourceConnectionIds": [source],
            "targetConnectionIds": [target],
            "transformations": transformations,
            "scheduleParams": {"startTime": str(int(time.time())), **parse_schedule(opts.schedule)},
            "options": {"errorDiagnosticsEnabled": True, "partialIngestionPercent": opts.allow_rejects},
        },
    )
    return str(flow["id"])


def ingest(
    api: Client, source: str, opts: IngestOptions, settings: Settings, console: Console
) -> dict[str, Any]:
    """Set up (or reuse) the dataflow of SOURCE, run it and answer a summary; raises ``IngestFailed``."""
    src = parse_source(source, settings, opts.dataset)
    for note in src.notes:
        console.print(f"[yellow]note:[/] {note}")
    flow_name = f"ingest: {src.name}"
    existing = _find_flow(api, flow_name)
    runs_before: set[str] = set()
    if existing is not None:
        flow_id = str(existing["id"])
        source_conn = api.get(f"{FS}/sourceConnections/{existing['sourceConnectionIds'][0]}")["items"][0]
        params = source_conn.get("params") or {}
        reads = str(params.get("path") or params.get("tableName") or "")
        if reads != src.object:
            raise IngestFailed(
                f"dataflow {flow_id} ({flow_name!r}) reads {reads!r}, not {src.object!r}: "
                "pass another --dataset to ingest this source into a new dataset",
                2,
            )
        runs_before = {r["id"] for r in api.items(f"{FS}/runs?property=flowId=={flow_id}")}
        console.print(f"Reusing dataflow {flow_id} ({flow_name!r}); only new data is read.")
        now = int(time.time())
        api.post(
            f"{FS}/runs",
            {
                "flowId": flow_id,
                "params": {"startTime": str(now), "windowStartTime": "0", "windowEndTime": str(now + 1)},
            },
        )
    else:
        try:
            flow_id = _create(api, src, opts, console, flow_name)
        except ApiError as exc:
            raise IngestFailed(str(exc), 4 if exc.status < 500 else 5) from exc
    run = wait_run(api, flow_id, after=runs_before, console=console, timeout=opts.timeout)
    flow = api.get(f"{FS}/flows/{flow_id}")["items"][0]
    target = api.get(f"{FS}/targetConnections/{flow['targetConnectionIds'][0]}")["items"][0]
    dataset_id = target["params"]["dataSetId"]
    rec = run["metrics"]["recordSummary"]
    summary = {
        "flowId": flow_id,
        "runId": run["id"],
        "state": run["state"],
        "datasetId": dataset_id,
        "rowsIn": rec["inputRecordCount"],
        "rowsOut": rec["outputRecordCount"],
        "rowsFailed": rec["failedRecordCount"],
        "errors": [e.get("message") for e in run["metrics"]["statusSummary"].get("errors", [])],
    }
    return summary


def print_summary(summary: dict[str, Any], console: Console) -> None:
    ok = summary["state"] == "success"
    colour = "green" if ok else "red"
    console.print(
        f"[{colour}]{summary['state']}[/]: {summary['rowsIn']} rows in, {summary['rowsOut']} ingested, "
        f"{summary['rowsFailed']} rejected (run {summary['runId']})"
    )
    console.print(f"dataset: {summary['datasetId']}")
    console.print(f"  look at it:       xdmflow datasets head {summary['datasetId']}")
    console.print(f"  over the API:     GET /data/foundation/export/datasets/{summary['datasetId']}/preview")
    if summary["rowsFailed"] or not ok:
        console.print(f"  rejected rows:    xdmflow runs errors {summary['runId']}")
    for e in summary["errors"] if not ok else []:
        console.print(f"  [red]{e}[/]")
    console.print(f"  run it again:     xdmflow flows run {summary['flowId']}  (or the same ingest command)")
