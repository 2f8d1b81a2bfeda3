"""``xdmflow ingest`` and the operator commands (``connections``, ``flows``, ``runs``), over HTTP.

Every command talks to the API through :mod:`xdmflow.cli.client`: ``--url`` (or ``XDMFLOW_URL``)
for a running service, local or remote, else the CLI serves the local home for the command's
duration. Tables for people, ``--json`` for scripts; the exit codes are
:data:`xdmflow.cli.client.EXIT_CODES`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from xdmflow.cli.client import EXPORT, FS, ApiError, Client, Unreachable, connect, exit_code_for
from xdmflow.settings import Settings

__all__ = ["register", "connections_app", "flows_app", "runs_app"]

out = Console()
err = Console(stderr=True)

connections_app = typer.Typer(help="Base connections of the service (over its API).", no_args_is_help=True)
flows_app = typer.Typer(help="Dataflows: list, show, run, enable, disable, delete.", no_args_is_help=True)
runs_app = typer.Typer(help="Runs of dataflows: list, show, errors, retry, watch.", no_args_is_help=True)

UrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url", help="The service (e.g. http://host:8080); default XDMFLOW_URL, else the local home."
    ),
]
TokenOpt = Annotated[
    str | None, typer.Option("--token", help="An access token (default: the default client's).")
]
OrgOpt = Annotated[str | None, typer.Option("--org", help="Org id with --token (default: the credentials').")]
KeyOpt = Annotated[str | None, typer.Option("--api-key", help="Client id with --token (x-api-key).")]
SandboxOpt = Annotated[str, typer.Option("--sandbox", help="Sandbox name.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@contextmanager
def _api(
    url: str | None,
    token: str | None,
    org: str | None,
    api_key: str | None,
    sandbox: str,
    *,
    role: str = "api",
) -> Iterator[Client]:
    """A client; API errors become a one-line message and the documented exit code."""
    try:
        with connect(url, token=token, org=org, api_key=api_key, sandbox=sandbox, role=role) as api:
            yield api
    except (ApiError, Unreachable) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(exit_code_for(exc)) from None


def _cell(value: Any, width: int = 60) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, default=str, separators=(",", ":"))
    return text if len(text) <= width else text[: width - 1] + "…"


def _ts(ms: Any) -> str:
    if not ms:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(int(ms) / 1000))


def _print(rows: list[dict[str, Any]], columns: list[str], title: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    table = Table(title=title)
    for c in columns:
        table.add_column(c, overflow="fold")
    for r in rows:
        table.add_row(*(_cell(r.get(c)) for c in columns))
    out.print(table)


# -- ingest ------------------------------------------------------------------------------------


def ingest_command(
    source: Annotated[
        str, typer.Argument(help="A file or folder, s3://, sftp://, postgresql://…?table=, mysql://…")
    ],
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Dataset name (default: from SOURCE).")
    ] = None,
    schema: Annotated[
        str | None, typer.Option("--schema", help="Map onto this existing schema ($id).")
    ] = None,
    infer: Annotated[
        bool, typer.Option("--infer", help="Infer an ad-hoc schema (the default without --schema).")
    ] = False,
    file_format: Annotated[
        str | None,
        typer.Option("--format", help="File type: delimited, json or parquet (default: detected)."),
    ] = None,
    delta_column: Annotated[
        str | None, typer.Option("--delta-column", help="Incremental column of a table (new rows only).")
    ] = None,
    schedule: Annotated[
        str | None, typer.Option("--schedule", help="once (default) or FREQUENCY:INTERVAL, e.g. hour:1.")
    ] = None,
    allow_rejects: Annotated[
        float, typer.Option("--allow-rejects", min=0, max=100, help="Percent of rows that may be rejected.")
    ] = 10.0,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
    api_key: KeyOpt = None,
    sandbox: SandboxOpt = "prod",
) -> None:
    """Ingest your own data in one command: infer, confirm, create what is missing, run.

    Again with the same SOURCE (and --dataset): reuses the dataflow and reads only what is new.
    """
    from xdmflow.cli.ingest import IngestFailed, IngestOptions, ingest, parse_schedule, print_summary

    if schema and infer:
        err.print("[red]error:[/] --schema and --infer exclude each other")
        raise typer.Exit(2)
    settings = Settings()
    opts = IngestOptions(
        dataset=dataset,
        schema_id=schema,
        file_format=file_format,
        delta_column=delta_column,
        schedule=schedule,
        yes=yes,
        allow_rejects=allow_rejects,
    )
    try:
        parse_schedule(schedule)
        with _api(url, token, org, api_key, sandbox, role="all") as api:
            summary = ingest(api, source, opts, settings, err if as_json else out)
    except IngestFailed as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(exc.exit_code) from None
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        print_summary(summary, out)
    if summary["state"] != "success":
        raise typer.Exit(1)


# -- connections -------------------------------------------------------------------------------


@connections_app.command("list")
def connections_list(
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
    api_key: KeyOpt = None,
    sandbox: SandboxOpt = "prod",
) -> None:
    """List base connections: id, name, connection spec, state."""
    with _api(url, token, org, api_key, sandbox) as api:
        specs = {s["id"]: s["name"] for s in api.get(f"{FS}/connectionSpecs")["items"]}
        rows = [
            {
                "id": c["id"],
                "name": c.get("name"),
                "spec": specs.get(c["connectionSpec"]["id"], c["connectionSpec"]["id"]),
                "state": c.get("state"),
                "created": _ts(c.get("createdAt")),
            }
            for c in api.items(f"{FS}/connections")
        ]
    _print(rows, ["id", "name", "spec", "state", "created"], f"{len(rows)} connection(s)", as_json)


@connections_app.command("test")
def connections_test(
    connection_id: Annotated[str, typer.Argument(help="The base connection id.")],
    url: UrlOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
    api_key: KeyOpt = None,
    sandbox: SandboxOpt = "prod",
) -> None:
    """Test a base connection (exit 1 when the source refuses it)."""
    with _api(url, token, org, api_key, sandbox) as api:
        try:
            api.get(f"{FS}/connections/{connection_id}/test")
        except ApiError as exc:
            if exc.status in (404,) or exc.status >= 500:
                raise
            err.print(f"[red]failed:[/] {exc.reason}")
            raise typer.Exit(1) from None
    out.print(f"[green]ok[/]: connection {connection_id} works")


# -- flows -------------------------------------------------------------------------------------


def _flow_row(f: dict[str, Any]) -> dict[str, Any]:
    sched = f.get("scheduleParams") or {}
    last = f.get("lastRunDetails") or {}
    freq = sched.get("frequency")
    return {
        "id": f["id"],
        "name": f.get("name"),
        "state": f.get("state"),
        "schedule": f"{freq}:{sched['interval']}" if sched.get("interval") else freq,
        "lastRun": last.get("id"),
        "lastRunState": last.get("state"),
        "lastRunAt": _ts(last.get("completedAtUTC") or last.get("startedAtUTC")),
    }


@flows_app.command("list")
def flows_list(
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
    api_key: KeyOpt = None,
    sandbox: SandboxOpt = "prod",
) -> None:
    """List dataflows with their schedule and last run."""
    with _api(url, token, org, api_key, sandbox) as api:
        rows = [_flow_row(f) for f in api.items(f"{FS}/flows")]
    cols = ["id", "name", "state", "schedule", "lastRun", "lastRunState", "lastRunAt"]
    _print(rows, cols, f"{len(rows)} flow(s)", as_json)


@flows_app.command("show")
def flows_show(
    flow_id: Annotated[str, typer.Argument(help="The flow id.")],
    url: UrlOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
    api_key: KeyOpt = None,
    sandbox: SandboxOpt = "prod",
) -> None:
    """Print a dataflow (JSON)."""
    with _api(url, token, org, api_key, sandbox) as api:
        typer.echo(json.dumps(api.get(f"{FS}/flows/{flow_id}")["items"][0], indent=2))


def _action(op: str) -> Callable[..., None]:
    def command(
        flow_id: Annotated[str, typer.Argument(help="The flow id.")],
        url: UrlOpt = None,
        token: TokenOpt = None,
        org: OrgOpt = None,
        api_key: KeyOpt = None,
        sandbox: SandboxOpt = "prod",
    ) -> None:
        with _api(url, token, org, api_key, sandbox) as api:
            api.post(f"{FS}/flows/{flow_id}/action?op={op}")
        out.print(f"flow {flow_id}: {op}d")

    command.__doc__ = f"{op.capitalize()} a dataflow's schedule."
    return command


flows_app.command("enable")(_action("enable"))
flows_app.command("disable")(_action("disable"))


@flows_app.command("delete")
def flows_delete(
    flow_id: Annotated[str, typer.Argument(help="The flow id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
    api_key: KeyOpt = None,
    sandbox: SandboxOpt = "prod",
) -> None:
    """Delete a dataflow (its dataset stays)."""
    if not yes and not typer.confirm(f"Delete flow {flow_id}?", default=False):
        raise typer.Exit(1)
    with _api(url, token, org, api_key, sandbox) as api:
        flow = api.get(f"{FS}/flows/{flow_id}")["items"][0]
        api.delete(f"{FS}/flows/{flow_id}", headers={"If-Match": flow["etag"]})
    out.print(f"flow {flow_id} deleted")


@flows_app.command("run")
def flows_run(
    flow_id: Annotated[str, typer.Argument(help="The flow id.")],
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the run to its end.")] = True,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
    api_key: KeyOpt = None,
    sandbox: SandboxOpt = "prod",
) -> None:
    """Start an on-demand run (exit 1 when it fails)."""
    with _api(url, token, org, api_key, sandbox, role="all") as api:
        now = int(time.time())
        created = api.post(
            f"{FS}/runs",
            {
                "flowId": flow_id,
                "params": {"startTime": str(now), "windowStartTime": "0", "windowEndTime": str(now + 1)},
            },
        )
        if not wait and not api.embedded:
            typer.echo(created["id"]) if as_json else out.print(f"run {created['id']} queued")
            return
        run = _follow(api, created["id"], as_json)
    _end(run, as_json)


# -- runs --------------------------------------------------------------------------------------


def _run_row(r: dict[str, Any]) -> dict[str, Any]:
    m = r.get("metrics") or {}
    rec = m.get("recordSummary") or {}
    dur = m.get("durationSummary") or {}
    return {
        "id": r["id"],
        "flow": r.get("flowId"),
        "state": r.get("state") or (m.get("statusSummary") or {}).get("status"),
        "rowsIn": rec.get("inputRecordCount"),
        "rowsOut": rec.get("outputRecordCount"),
        "failed": rec.get("failedRecordCount"),
        "started": _ts(dur.get("startedAtUTC")),
        "completed": _ts(dur.get("completedAtUTC")),
    }


@runs_app.command("list")
def runs_list(
    flow: Annotated[str | None, typer.Option("--flow", help="Only the runs of this flow.")] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only runs in this state (success, failed…).")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=1000, help="At most this many, newest first.")
    ] = 50,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
    api_key: KeyOpt = None,
    sandbox: SandboxOpt = "prod",
) -> None:
    """List runs, newest first."""
    query = [f"orderby=-createdAt&limit={limit}"]
    if flow:
        query.append(f"property=flowId=={flow}")
    with _api(url, token, org, api_key, sandbox) as api:
        runs = api.get(f"{FS}/runs?{'&'.join(query)}")["items"]
    rows = [_run_row(r) for r in runs]
    if status:
        rows = [r for r in rows if r["state"] == status]
    cols = ["id", "flow", "state", "rowsIn", "rowsOut", "failed", "started", "completed"]
    _print(rows, cols, f"{len(rows)} run(s)", as_json)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="The run id.")],
    url: UrlOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
    api_key: KeyOpt = None,
    sandbox: SandboxOpt = "prod",
) -> None:
    """Print a run (JSON)."""
    with _api(url, token, org, api_key, sandbox) as api:
        typer.echo(json.dumps(api.get(f"{FS}/runs/{run_id}")["items"][0], indent=2))


def run_errors(api: Client, run: dict[str, Any]) -> list[dict[str, Any]]:
    """Every rejected row of a run (from its batch's ``row_errors`` diagnostics)."""
    batch = _batch_of(run)
    if batch is None:
        return []
    try:
        listing = api.get(f"{EXPORT}/batches/{batch}/meta?path=row_errors")
    except ApiError as exc:
        if exc.status == 404:
            return []
        raise
    rows: list[dict[str, Any]] = []
    for entry in listing.get("data", []):
        name = entry.get("name", "")
        if not name or name.endswith("/"):
            continue
        href = entry["_links"]["self"]["href"]
        path = href[href.index("?path=") + len("?path=") :] if "?path=" in href else f"row_errors/{name}"
        got = api.get(f"{EXPORT}/batches/{batch}/meta?path={path}")
        if isinstance(got, dict):  # one line of JSON Lines is a JSON document
            rows.append(got)
            continue
        for line in str(got or "").splitlines():
            if line.strip():
                rows.append(json.loads(line))
    return rows


def _batch_of(run: dict[str, Any]) -> str | None:
    if run.get("batchId"):
        return str(run["batchId"])
    for act in run.get("activities") or []:
        for info in act.get("targetInfo") or []:
            ref = info.get("reference") or {}
            if ref.get("type") == "Batch" and ref.get("ids"):
                return str(ref["ids"][0])
    return None


@runs_app.command("errors")
def runs_errors(
    run_id: Annotated[str, typer.Argument(help="The run id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON Lines instead of a table.")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
    api_key: KeyOpt = None,
    sandbox: SandboxOpt = "prod",
) -> None:
    """The rows a run rejected: where they came from, why, and their values."""
    with _api(url, token, org, api_key, sandbox) as api:
        run = api.get(f"{FS}/runs/{run_id}")["items"][0]
        rows = run_errors(api, run)
    if as_json:
        for r in rows:
            typer.echo(json.dumps(r, default=str))
        return
    table = Table(title=f"{len(rows)} rejected row(s) of run {run_id}")
    for c in ("row", "code", "reason", "values"):
        table.add_column(c, overflow="fold")
    for r in rows:
        errors = r.get("_errors") or []
        table.add_row(
            _cell(r.get("_row")),
            _cell(", ".join(sorted({str(e.get("code")) for e in errors}))),
            _cell("; ".join(f"{e.get('source') or e.get('path')}: {e.get('message')}" for e in errors), 100),
            _cell({k: v for k, v in r.items() if not k.startswith("_")}, 100),
        )
    out.print(table)


@runs_app.command("retry")
def runs_retry(
    run_id: Annotated[str, typer.Argument(help="The run id.")],
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Follow the new run.")] = True,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
    api_key: KeyOpt = None,
    sandbox: SandboxOpt = "prod",
) -> None:
    """Re-run a run (the platform's re-trigger); exit 1 when the new run fails."""
    with _api(url, token, org, api_key, sandbox, role="all") as api:
        new = api.post(f"{FS}/runs/{run_id}/action?op=RE_TRIGGER")
        new_id = str(new.get("id") or run_id)
        if not wait and not api.embedded:
            out.print(f"run {new_id} queued")
            return
        run = _follow(api, new_id, as_json)
    _end(run, as_json)


@runs_app.command("watch")
def runs_watch(
    run_id: Annotated[str, typer.Argument(help="The run id.")],
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    org: OrgOpt = None,
    api_key: KeyOpt = None,
    sandbox: SandboxOpt = "prod",
) -> None:
    """Follow a run live until it ends (exit 1 when it fails)."""
    with _api(url, token, org, api_key, sandbox, role="all") as api:
        run = _follow(api, run_id, as_json)
    _end(run, as_json)


def _follow(api: Client, run_id: str, quiet: bool, timeout: float = 3600) -> dict[str, Any]:
    from rich.live import Live

    deadline = time.monotonic() + timeout
    with Live(console=err, transient=True) as live:
        while time.monotonic() < deadline:
            run = api.get(f"{FS}/runs/{run_id}")["items"][0]
            row = _run_row(run)
            if not quiet:
                live.update(
                    f"run {run_id}: {row['state']}, {row['rowsIn'] or 0} in, "
                    f"{row['rowsOut'] or 0} out, {row['failed'] or 0} failed"
                )
            if row["state"] in ("success", "failed"):
                return run
            time.sleep(0.3)
    err.print(f"[red]run {run_id} did not finish within {timeout:.0f} s[/]")
    raise typer.Exit(6)


def _end(run: dict[str, Any], as_json: bool) -> None:
    row = _run_row(run)
    if as_json:
        typer.echo(json.dumps(row, indent=2))
    else:
        colour = "green" if row["state"] == "success" else "red"
        out.print(
            f"[{colour}]{row['state']}[/]: run {row['id']}, {row['rowsIn']} in, {row['rowsOut']} out, "
            f"{row['failed']} failed"
        )
        for e in (
            (run.get("metrics") or {}).get("statusSummary", {}).get("errors", [])
            if row["state"] != "success"
            else []
        ):
            out.print(f"  [red]{e.get('code')}[/] {e.get('message')}")
    if row["state"] != "success":
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``ingest``, ``connections``, ``flows`` and ``runs`` to the ``xdmflow`` app."""
    app.command("ingest")(ingest_command)
    app.add_typer(connections_app, name="connections")
    app.add_typer(flows_app, name="flows")
    app.add_typer(runs_app, name="runs")
