"""The Query Service's PostgreSQL port: a small asyncio server of the v3 wire protocol.

What it speaks: start-up (with ``SSLRequest`` → TLS when ``XDMFLOW_PG_TLS_CERT``/``KEY`` are set,
``GSSENCRequest`` declined), cleartext password authentication (user = org id, password = an
access token or ``clientId:secret``, database ``{sandbox}:all``), the simple query protocol,
the extended protocol (Parse / Bind / Describe / Execute with row limits and PortalSuspended /
Close / Flush / Sync, text and binary parameters, text results), ``ErrorResponse`` with
SQLSTATE, ``NoticeResponse`` when a result was cut at the row cap, and ``CancelRequest``.

Every query runs on the Query Service's bounded pool (:mod:`xdmflow.query.engine`); rows are
encoded in the pool thread and handed to the connection through a small bounded queue, so a
slow client holds back its query instead of buffering the result. A client that goes away
cancels its query.

Why not a library: riffq (0.1.x, a Rust extension whose callbacks own the threading and the
catalog) and buenavista (last release 2024, no extended-protocol parameters) were evaluated;
the protocol subset needed is small and this keeps auth, cancel and back-pressure ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import re
import secrets
import ssl
import struct
import threading
from collections import deque
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from xdmflow.errors import AuthError, NotFoundError, XdmflowError
from xdmflow.query import pgcompat
from xdmflow.query.engine import Execution
from xdmflow.query.guard import Checked, _parser
from xdmflow.services import queries
from xdmflow.services.context import AppContext
from xdmflow.services.identity import Principal

__all__ = ["PgServer"]

log = logging.getLogger(__name__)

SSL_REQUEST = 80877103
GSS_REQUEST = 80877104
CANCEL_REQUEST = 80877102
PROTOCOL_3 = 196608

# -- messages -------------------------------------------------------------------------------


def _msg(kind: bytes, payload: bytes = b"") -> bytes:
    return kind + struct.pack("!i", len(payload) + 4) + payload


def _cstr(text: str) -> bytes:
    return text.encode() + b"\0"


def error_response(message: str, sqlstate: str = "XX000", severity: str = "ERROR") -> bytes:
    body = b"S" + _cstr(severity) + b"V" + _cstr(severity) + b"C" + _cstr(sqlstate) + b"M" + _cstr(message)
    return _msg(b"E", body + b"\0")


def notice_response(message: str) -> bytes:
    body = b"S" + _cstr("NOTICE") + b"V" + _cstr("NOTICE") + b"C" + _cstr("01000") + b"M" + _cstr(message)
    return _msg(b"N", body + b"\0")


def command_complete(tag: str) -> bytes:
    return _msg(b"C", _cstr(tag))


def ready(status: bytes = b"I") -> bytes:
    return _msg(b"Z", status)


# -- types ------------------------------------------------------------------------------------

#: (type oid, type size) of the text each Arrow type is sent as.
TEXT = (25, -1)


def pg_type(t: pa.DataType) -> tuple[int, int]:
    if pa.types.is_boolean(t):
        return (16, 1)
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t):
        return (21, 2)
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return (23, 4)
    if pa.types.is_integer(t):
        return (20, 8)
    if pa.types.is_float32(t):
        return (700, 4)
    if pa.types.is_floating(t):
        return (701, 8)
    if pa.types.is_decimal(t):
        return (1700, -1)
    if pa.types.is_date(t):
        return (1082, 4)
    if pa.types.is_timestamp(t):
        return (1184, 8) if t.tz else (1114, 8)
    if pa.types.is_time(t):
        return (1083, 8)
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return (17, -1)
    if pa.types.is_struct(t) or pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_map(t):
        return (114, -1)  # json: drivers decode nested values
    return TEXT


def row_description(schema: pa.Schema) -> bytes:
    parts = [struct.pack("!h", len(schema))]
    for f in schema:
        oid, size = pg_type(f.type)
        parts.append(_cstr(f.name) + struct.pack("!ihihih", 0, 0, oid, size, -1, 0))
    return _msg(b"T", b"".join(parts))


def _json_default(v: Any) -> Any:
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, bytes):
        return "\\x" + v.hex()
    return str(v)


def _text_column(arr: pa.Array) -> list[bytes | None]:
    """One column as PostgreSQL text values (``None`` = NULL)."""
    t = arr.type
    if pa.types.is_boolean(t):
        return [None if v is None else (b"t" if v else b"f") for v in arr.to_pylist()]
    if pa.types.is_timestamp(t):
        out: list[bytes | None] = []
        for v in arr.to_pylist():
            if v is None:
                out.append(None)
            else:
                text = v.isoformat(sep=" ")
                out.append((text[:-6] + "+00" if text.endswith("+00:00") else text).encode())
        return out
    if pa.types.is_floating(t):
        vals = arr.to_pylist()
        return [
            None
            if v is None
            else (
                b"NaN"
                if v != v
                else b"Infinity"
                if v == float("inf")
                else b"-Infinity"
                if v == float("-inf")
                else repr(v).encode()
            )
            for v in vals
        ]
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return [None if v is None else b"\\x" + v.hex().encode() for v in arr.to_pylist()]
    if pa.types.is_struct(t) or pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_map(t):
        return [
            None if v is None else json.dumps(v, default=_json_default, separators=(",", ":")).encode()
            for v in arr.to_pylist()
        ]
    try:
        strings = pc.cast(arr, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return [None if v is None else str(v).encode() for v in arr.to_pylist()]
    return [None if v is None else v.encode() for v in strings.to_pylist()]


def data_rows(batch: pa.RecordBatch) -> list[bytes]:
    """The batch as DataRow messages (text format)."""
    columns = [_text_column(c) for c in batch.columns]
    head = struct.pack("!h", batch.num_columns)
    rows = []
    for cells in zip(*columns, strict=True):
        parts = [head]
        for c in cells:
            parts.append(b"\xff\xff\xff\xff" if c is None else struct.pack("!i", len(c)) + c)
        payload = b"".join(parts)
        rows.append(b"D" + struct.pack("!i", len(payload) + 4) + payload)
    return rows


def _decode_param(raw: bytes | None, oid: int, binary: bool) -> Any:
    if raw is None:
        return None
    if not binary:
        text = raw.decode()
        if oid in (20, 21, 23):
            return int(text)
        if oid in (700, 701):
            return float(text)
        if oid == 1700:
            return Decimal(text)
        if oid == 16:
            return text.lower() in ("t", "true", "1", "on", "yes")
        return text
    if oid == 16:
        return raw != b"\0"
    if oid == 21:
        return struct.unpack("!h", raw)[0]
    if oid == 23:
        return struct.unpack("!i", raw)[0]
    if oid == 20:
        return struct.unpack("!q", raw)[0]
    if oid == 700:
        return struct.unpack("!f", raw)[0]
    if oid == 701:
        return struct.unpack("!d", raw)[0]
    if oid == 17:
        return raw
    return raw.decode()


# -- the connection -----------------------------------------------------------------------------


class ProtocolError(XdmflowError):
    """The client broke the PostgreSQL protocol."""


class ClientGone(XdmflowError, ConnectionResetError):
    """The client closed its connection while a query ran."""


@dataclass
class Prepared:
    sql: str
    param_oids: list[int]
    reply: pgcompat.SessionReply | None = None
    checked: Checked | None = None
    error: XdmflowError | None = None


@dataclass
class Portal:
    prepared: Prepared
    params: list[Any]
    started: bool = False
    done: bool = False
    described: bool = False
    rows: deque[bytes] = field(default_factory=deque)
    queue: asyncio.Queue[tuple[str, Any]] | None = None
    slots: threading.Semaphore | None = None
    execution: Execution | None = None
    sent: int = 0
    tag: str | None = None
    schema_msg: bytes | None = None
    notice: str | None = None


_DONE = "done"


class Connection:
    def __init__(self, server: PgServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.ctx = server.ctx
        self.reader = reader
        self.writer = writer
        self.principal: Principal | None = None
        self.pid = secrets.randbelow(2**31 - 1) + 1
        self.secret = secrets.randbelow(2**31 - 1)
        self.statements: dict[str, Prepared] = {}
        self.portals: dict[str, Portal] = {}
        self.current: Execution | None = None
        self.failed = False  # extended protocol: skip to Sync after an error

    # -- io
    async def read_exact(self, n: int) -> bytes:
        return await self.reader.readexactly(n)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    # -- start-up
    async def startup(self) -> bool:
        while True:
            (length,) = struct.unpack("!i", await self.read_exact(4))
            if length < 8 or length > 10_000:
                raise ProtocolError("bad start-up packet")
            body = await self.read_exact(length - 4)
            (code,) = struct.unpack("!i", body[:4])
            if code == SSL_REQUEST:
                tls = self.server.tls_context
                if tls is None:
                    await self.send(b"N")
                else:
                    await self.send(b"S")
                    await self.writer.start_tls(tls)
                continue
            if code == GSS_REQUEST:
                await self.send(b"N")
                continue
            if code == CANCEL_REQUEST:
                pid, key = struct.unpack("!ii", body[4:12])
                self.server.cancel(pid, key)
                return False
            if code != PROTOCOL_3:
                await self.send(error_response("Unsupported protocol version", "0A000", "FATAL"))
                return False
            break
        parts = body[4:].split(b"\0")
        params = {parts[i].decode(): parts[i + 1].decode() for i in range(0, len(parts) - 1, 2) if parts[i]}
        user = params.get("user", "")
        database = params.get("database", "")
        await self.send(_msg(b"R", struct.pack("!i", 3)))  # cleartext password
        kind = await self.read_exact(1)
        (length,) = struct.unpack("!i", await self.read_exact(4))
        payload = await self.read_exact(length - 4)
        if kind != b"p":
            raise ProtocolError("expected a password message")
        password = payload.rstrip(b"\0").decode()
        try:
            self.principal = await asyncio.get_running_loop().run_in_executor(
                None, queries.authenticate, self.ctx, user, password, database
            )
        except AuthError as exc:
            await self.send(error_response(exc.message, "28P01", "FATAL"))
            return False
        except NotFoundError as exc:
            await self.send(error_response(exc.message, "3D000", "FATAL"))
            return False
        out = [_msg(b"R", struct.pack("!i", 0))]
        status = dict(pgcompat.PARAMETERS)
        status["application_name"] = params.get("application_name", "")
        status["session_authorization"] = user
        for key, value in status.items():
            out.append(_msg(b"S", _cstr(key) + _cstr(value)))
        out.append(_msg(b"K", struct.pack("!ii", self.pid, self.secret)))
        out.append(ready())
        await self.send(b"".join(out))
        return True

    # -- the message loop
    async def serve(self) -> None:
        while True:
            kind = await self.read_exact(1)
            (length,) = struct.unpack("!i", await self.read_exact(4))
            if length < 4 or length > 64 * 1024 * 1024:
                raise ProtocolError("bad message length")
            body = await self.read_exact(length - 4)
            if kind == b"X":
                return
            if kind == b"Q":
                await self.simple_query(body.rstrip(b"\0").decode())
                continue
            if kind == b"S":
                self.failed = False
                await self.send(ready())
                continue
            if self.failed:
                continue
            try:
                if kind == b"P":
                    await self.parse(body)
                elif kind == b"B":
                    self.bind(body)
                    await self.send(_msg(b"2"))
                elif kind == b"D":
                    await self.describe(body)
                elif kind == b"E":
                    await self.execute(body)
                elif kind == b"C":
                    what, name = body[:1], body[1:].rstrip(b"\0").decode()
                    if what == b"S":
                        self.statements.pop(name, None)
                    else:
                        self.portals.pop(name, None)
                    await self.send(_msg(b"3"))
                elif kind == b"H":
                    await self.writer.drain()
                else:
                    raise XdmflowError(f"Unsupported message {kind!r}")
            except XdmflowError as exc:
                self.failed = True
                await self.send(error_response(exc.message, getattr(exc, "sqlstate", _state(exc))))

    # -- simple protocol
    async def simple_query(self, sql: str) -> None:
        statements = _split(sql)
        if not statements:
            await self.send(_msg(b"I") + ready())
            return
        for one in statements:
            prepared = self.prepare(one)
            portal = Portal(prepared, [], described=True)
            try:
                await self.run_portal(portal, 0, describe=True)
            except XdmflowError as exc:
                await self.send(error_response(exc.message, getattr(exc, "sqlstate", _state(exc))))
                break
        await self.send(ready())

    # -- extended protocol
    def prepare(self, sql: str) -> Prepared:
        prepared = Prepared(sql, [])
        prepared.reply = pgcompat.session_reply(sql)
        if prepared.reply is None:
            try:
                prepared.checked = queries.prepare(sql)
            except XdmflowError as exc:
                prepared.error = exc
        return prepared

    async def parse(self, body: bytes) -> None:
        name, rest = body.split(b"\0", 1)
        sql, rest = rest.split(b"\0", 1)
        (n,) = struct.unpack("!h", rest[:2])
        oids = list(struct.unpack(f"!{n}i", rest[2 : 2 + 4 * n]))
        prepared = self.prepare(sql.decode())
        prepared.param_oids = oids
        if prepared.error is not None:
            raise prepared.error
        self.statements[name.decode()] = prepared
        await self.send(_msg(b"1"))

    def bind(self, body: bytes) -> None:
        portal_name, rest = body.split(b"\0", 1)
        stmt_name, rest = rest.split(b"\0", 1)
        prepared = self.statements.get(stmt_name.decode())
        if prepared is None:
            raise XdmflowError(f"Prepared statement {stmt_name.decode()!r} does not exist")
        pos = 0
        (nfmt,) = struct.unpack_from("!h", rest, pos)
        pos += 2
        fmts = list(struct.unpack_from(f"!{nfmt}h", rest, pos))
        pos += 2 * nfmt
        (nparams,) = struct.unpack_from("!h", rest, pos)
        pos += 2
        params: list[Any] = []
        for i in range(nparams):
            (size,) = struct.unpack_from("!i", rest, pos)
            pos += 4
            raw = None if size < 0 else rest[pos : pos + size]
            pos += max(size, 0)
            binary = (fmts[i] if nfmt > 1 else fmts[0] if nfmt == 1 else 0) == 1
            oid = prepared.param_oids[i] if i < len(prepared.param_oids) else 0
            params.append(_decode_param(raw, oid, binary))
        (nres,) = struct.unpack_from("!h", rest, pos)
        pos += 2
        res_fmts = list(struct.unpack_from(f"!{nres}h", rest, pos))
        if any(f == 1 for f in res_fmts):
            raise XdmflowError("Binary result format is not supported; use text results")
        self.portals[portal_name.decode()] = Portal(prepared, params)

    async def describe(self, body: bytes) -> None:
        what, name = body[:1], body[1:].rstrip(b"\0").decode()
        if what == b"S":
            prepared = self.statements.get(name)
            if prepared is None:
                raise XdmflowError(f"Prepared statement {name!r} does not exist")
            n = max(len(prepared.param_oids), _count_params(prepared.sql))
            oids = [
                prepared.param_oids[i] if i < len(prepared.param_oids) and prepared.param_oids[i] else 25
                for i in range(n)
            ]
            msg = _msg(b"t", struct.pack(f"!h{n}i", n, *oids))
            if prepared.reply is not None and prepared.reply.column:
                await self.send(msg + row_description(pa.schema([(prepared.reply.column, pa.string())])))
                return
            if prepared.checked is None or prepared.checked.kind in ("ctas", "insert") or n:
                await self.send(msg + _msg(b"n"))
                return
            probe = Portal(prepared, [])
            await self.start(probe)
            await self.send(msg + (await self.schema_of(probe)))
            if probe.execution is not None:
                probe.execution.cancel()
            return
        found = self.portals.get(name)
        if found is None:
            raise XdmflowError(f"Portal {name!r} does not exist")
        portal = found
        portal.described = True
        p = portal.prepared
        if p.reply is not None:
            await self.send(
                row_description(pa.schema([(p.reply.column, pa.string())])) if p.reply.column else _msg(b"n")
            )
            return
        if p.checked is None or p.checked.kind in ("ctas", "insert"):
            await self.send(_msg(b"n"))
            return
        await self.start(portal)
        await self.send(await self.schema_of(portal))

    async def execute(self, body: bytes) -> None:
        name, rest = body.split(b"\0", 1)
        (max_rows,) = struct.unpack("!i", rest[:4])
        portal = self.portals.get(name.decode())
        if portal is None:
            raise XdmflowError(f"Portal {name.decode()!r} does not exist")
        await self.run_portal(portal, max_rows, describe=False)

    # -- running
    async def start(self, portal: Portal) -> None:
        """Submit the portal's query to the pool; rows arrive on ``portal.queue``."""
        if portal.started:
            return
        portal.started = True
        assert self.principal is not None and portal.prepared.checked is not None
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        portal.queue = queue
        # at most 4 items in flight: the pool thread waits for the connection to take one
        # (released by ``_next``), never for the event loop to run its hand-over
        portal.slots = threading.Semaphore(4)
        slots = portal.slots
        ex = queries.execution(self.ctx, self.principal, portal.prepared.checked, portal.params or None)
        portal.execution = ex
        self.current = ex

        def put(item: tuple[str, Any]) -> None:
            while not slots.acquire(timeout=1.0):
                if ex.cancelled or loop.is_closed():
                    raise XdmflowError("client gone")
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: the server stopped
                raise XdmflowError("client gone") from None

        def work() -> None:
            try:
                sent_schema = False
                for batch in ex.batches():
                    if not sent_schema:
                        put(("schema", row_description(batch.schema)))
                        sent_schema = True
                    put(("rows", data_rows(batch)))
                if not sent_schema:
                    assert ex.schema is not None
                    put(("schema", row_description(ex.schema)))
                note = f"The result was cut at {ex.row_count} rows (query_max_rows)" if ex.truncated else None
                put((_DONE, (ex.row_count, note)))
            except XdmflowError as exc:
                with contextlib.suppress(XdmflowError):
                    put(("error", exc))
            except Exception as exc:  # an engine bug: the client still gets an error
                log.exception("query failed")
                with contextlib.suppress(XdmflowError):
                    put(("error", XdmflowError(f"Internal error: {exc}")))

        self.server.track(self.server.engine.submit(work))

    async def _next(self, portal: Portal) -> tuple[str, Any]:
        """The next item of the portal's query; a client that went away meanwhile cancels it."""
        assert portal.queue is not None
        while True:
            try:
                item = await asyncio.wait_for(portal.queue.get(), timeout=0.25)
                if portal.slots is not None:
                    portal.slots.release()
                return item
            except TimeoutError:
                if self.reader.at_eof() or self.writer.is_closing():
                    if portal.execution is not None:
                        portal.execution.cancel()
                    raise ClientGone("client gone") from None

    async def schema_of(self, portal: Portal) -> bytes:
        if portal.schema_msg is None:
            kind, value = await self._next(portal)
            if kind == "error":
                portal.done = True
                raise value
            portal.schema_msg = value
        return portal.schema_msg

    async def run_portal(self, portal: Portal, max_rows: int, *, describe: bool) -> None:
        p = portal.prepared
        if p.error is not None:
            raise p.error
        if p.reply is not None:
            reply = b""
            if p.reply.column:
                if describe:
                    reply += row_description(pa.schema([(p.reply.column, pa.string())]))
                for v in p.reply.rows:
                    reply += _msg(b"D", struct.pack("!hi", 1, len(v.encode())) + v.encode())
            await self.send(reply + command_complete(p.reply.tag))
            return
        assert p.checked is not None and self.principal is not None
        if p.checked.kind in ("ctas", "insert"):
            principal = self.principal
            checked = p.checked
            params = portal.params or None
            fut = self.server.engine.submit(
                lambda: queries.write_statement(self.ctx, principal, checked, params)
            )
            result = await asyncio.wrap_future(fut)
            await self.send(command_complete(result.tag))
            return
        await self.start(portal)
        schema = await self.schema_of(portal)
        out: list[bytes] = [schema] if describe else []
        assert portal.queue is not None
        try:
            while True:
                while portal.rows and (max_rows <= 0 or portal.sent < max_rows):
                    out.append(portal.rows.popleft())
                    portal.sent += 1
                    if len(out) >= 512:
                        await self.send(b"".join(out))
                        out = []
                if max_rows > 0 and portal.sent >= max_rows and (portal.rows or not portal.done):
                    if not portal.rows and not portal.done:
                        # look ahead: the query may be finished
                        kind, value = await self._next(portal)
                        self._take(portal, kind, value)
                        if portal.done and not portal.rows:
                            break
                    portal.sent = 0
                    out.append(_msg(b"s"))
                    await self.send(b"".join(out))
                    return
                if portal.done:
                    break
                kind, value = await self._next(portal)
                self._take(portal, kind, value)
        except BaseException:
            if portal.execution is not None:
                portal.execution.cancel()
            raise
        if portal.notice:
            out.append(notice_response(portal.notice))
        out.append(command_complete(portal.tag or "SELECT 0"))
        await self.send(b"".join(out))

    def _take(self, portal: Portal, kind: str, value: Any) -> None:
        if kind == "rows":
            portal.rows.extend(value)
        elif kind == _DONE:
            portal.done = True
            count, note = value
            portal.notice = note
            portal.tag = f"SELECT {count}"
        elif kind == "error":
            portal.done = True
            raise value

    def cancel_running(self) -> None:
        for portal in self.portals.values():
            if portal.execution is not None:
                portal.execution.cancel()
        if self.current is not None:
            self.current.cancel()


def _state(exc: XdmflowError) -> str:
    if exc.status == 404:
        return "42P01"
    if exc.status == 409:
        return "42P07"
    if exc.status in (400, 422):
        return "22023"
    return "XX000"


def _split(sql: str) -> list[str]:
    """Statements of a simple query (DuckDB's parser; PostgreSQL-only text stays whole)."""
    if not sql.strip().strip(";").strip():
        return []
    if pgcompat.session_reply(sql) is not None:
        return [sql]
    try:
        parts = [s.query.strip() for s in _parser().extract_statements(pgcompat.rewrite(sql))]
    except Exception:
        return [sql]
    if len(parts) <= 1:
        return [sql]
    return [p for p in (_original_parts(sql) or parts) if p.strip()]


def _original_parts(sql: str) -> list[str] | None:
    """Split on top-level ``;`` outside quotes (keeps each statement's original spelling)."""
    out, buf, quote = [], [], ""
    for ch in sql:
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in ("'", '"'):
            quote = ch
        if ch == ";":
            out.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    out.append("".join(buf))
    return [p for p in out if p.strip()]


def _count_params(sql: str) -> int:
    found = [int(m) for m in re.findall(r"\$(\d+)", sql)]
    return max(found) if found else 0


class PgServer:
    """The PostgreSQL port, on its own event-loop thread (``start`` / ``stop``)."""

    def __init__(self, ctx: AppContext, host: str = "127.0.0.1", port: int = 5433) -> None:
        self.ctx = ctx
        self.host = host
        self.port = port
        self.engine = queries.query_engine(ctx)
        self.tls_context: ssl.SSLContext | None = None
        settings = ctx.settings
        if settings.pg_tls_cert and settings.pg_tls_key:
            tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            tls.load_cert_chain(str(settings.pg_tls_cert), str(settings.pg_tls_key))
            self.tls_context = tls
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: dict[int, Connection] = {}
        self._futures: set[Future[Any]] = set()

    def track(self, fut: Future[Any]) -> None:
        self._futures.add(fut)
        fut.add_done_callback(self._futures.discard)

    def cancel(self, pid: int, key: int) -> None:
        conn = self._connections.get(pid)
        if conn is not None and conn.secret == key:
            conn.cancel_running()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = Connection(self, reader, writer)
        try:
            if await conn.startup():
                self._connections[conn.pid] = conn
                await conn.serve()
        except (asyncio.IncompleteReadError, ConnectionError, ProtocolError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            # the server is stopping: end quietly (a handler task that ends cancelled makes
            # asyncio's stream protocol log its CancelledError as an error)
            pass
        except Exception:
            log.exception("PostgreSQL connection failed")
        finally:
            conn.cancel_running()  # the client went away: stop its query
            self._connections.pop(conn.pid, None)
            with contextlib.suppress(Exception):
                writer.close()

    def start(self) -> int:
        """Listen (in a background thread); returns the port (useful with port 0)."""
        started = threading.Event()
        error: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._handle, self.host, self.port)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:
                error.append(exc)
                started.set()
                loop.close()
                return
            started.set()
            try:
                loop.run_forever()
                # what stop() left (a handler still closing): cancelled and awaited, as asyncio.run does
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="xdmflow-pg", daemon=True)
        self._thread.start()
        started.wait()
        if error:
            raise error[0]
        return self.port

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        for conn in list(self._connections.values()):
            conn.cancel_running()

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            for conn in list(self._connections.values()):
                conn.writer.close()
            handlers = asyncio.all_tasks() - {asyncio.current_task()}
            for task in handlers:
                task.cancel()
            if handlers:
                await asyncio.gather(*handlers, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), loop).result(timeout=5)
        # the pool's queries of this port end (cancelled above) before their loop goes away
        futures.wait(list(self._futures), timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._loop = None


def pg_hooks(host: str) -> tuple[Callable[[AppContext], None], Callable[[AppContext], None]]:
    """Start / stop hooks of the app that open the PostgreSQL port (``settings.pg_port``; 0 = off)."""

    servers: list[PgServer] = []  # the open server, between start and stop

    def start(ctx: AppContext) -> None:
        if ctx.settings.pg_port:
            server = PgServer(ctx, host, ctx.settings.pg_port)
            try:
                server.start()
            except OSError as exc:  # the API still serves; the Query Service API says the port is off
                log.error("PostgreSQL port %s:%d not opened: %s", host, ctx.settings.pg_port, exc)
                print(f"xdmflow: PostgreSQL port {host}:{ctx.settings.pg_port} not opened: {exc}", flush=True)
                return
            servers.append(server)
            ctx.pg_port = server.port
            log.info("PostgreSQL port on %s:%d", host, server.port)

    def stop(ctx: AppContext) -> None:
        ctx.pg_port = 0
        while servers:
            servers.pop().stop()

    return start, stop
