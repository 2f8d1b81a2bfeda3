"""Hashing, checksum and URL functions."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pyarrow as pa

from xdmflow.errors import InvalidValueError
from xdmflow.mapping import casts
from xdmflow.mapping.functions._base import (
    EvalContext,
    Value,
    as_str,
    register,
    rowwise,
)

CHARSETS = {"utf-8": "utf-8", "utf-16": "utf-16-be", "iso-8859-1": "latin-1", "us-ascii": "ascii"}


def _hasher(algo: str) -> Callable[[str | None, str | None], str | None]:
    def fn(v: str | None, charset: str | None = "UTF-8") -> str | None:
        if v is None:
            return None
        enc = CHARSETS.get((charset or "UTF-8").lower())
        if enc is None:
            raise InvalidValueError(f"unsupported charset {charset!r}")
        data = v.encode(enc)
        if algo == "crc32":
            return format(zlib.crc32(data), "x")
        return hashlib.new(algo, data).hexdigest()

    return fn


def _register_hash(algo: str) -> None:
    @register(
        algo,
        "Hashing",
        [("input", "string"), ("charset", "string")],
        "string",
        min_args=1,
        description=f"{algo.upper()} hash (hex) of the string encoded with CHARSET "
        "(UTF-8, UTF-16, ISO-8859-1, US-ASCII; default UTF-8).",
        example=f'{algo}("my text", "UTF-8")',
    )
    def impl(ctx: EvalContext, args: list[Value]) -> Value:
        vals = [as_str(ctx, a) for a in args]
        return rowwise(ctx, _hasher(algo), vals, pa.string(), reason="hashing failed")


for _algo in ("sha1", "sha256", "sha512", "md5", "crc32"):
    _register_hash(_algo)

# -- URL -----------------------------------------------------------------------------------

_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "sftp": 22, "ssh": 22, "ws": 80, "wss": 443}
U = "URL parsing"


def _url(
    name: str,
    fn: Callable[..., Any],
    out: pa.DataType,
    params: list[tuple[str, str]],
    example: str,
    result: str,
    desc: str,
    min_args: int | None = None,
) -> None:
    @register(
        name,
        U,
        params,
        casts.el_type(out) if casts.el_type(out) != "any" else "map",
        min_args=min_args,
        description=desc,
        example=example,
        result=result,
    )
    def impl(ctx: EvalContext, args: list[Value]) -> Value:
        vals: list[Value] = [as_str(ctx, args[0]), *args[1:]]
        return rowwise(ctx, fn, vals, out, reason=f"{name} failed")


def _port(u: str | None) -> int | None:
    if u is None:
        return None
    p = urlsplit(u)
    return p.port if p.port is not None else _DEFAULT_PORTS.get(p.scheme.lower())


def _path(u: str | None, full: bool | None = False) -> str | None:
    if u is None:
        return None
    p = urlsplit(u)
    if not full:
        return p.path
    out = p.path
    if p.query:
        out += "?" + p.query
    if p.fragment:
        out += "#" + p.fragment
    return out


def _query(u: str | None, anchor: str | None = "retain") -> list[tuple[str, str]] | None:
    if u is None:
        return None
    p = urlsplit(u)
    mode = (anchor or "retain").lower()
    query = p.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if mode == "retain" and p.fragment and pairs:
        k, v = pairs[-1]
        pairs[-1] = (k, v + "#" + p.fragment)
    elif mode == "append" and p.fragment:
        pairs.append(("_anchor_", p.fragment))
    elif mode not in ("retain", "remove", "append"):
        raise InvalidValueError(f"anchor must be retain, remove or append, not {anchor!r}")
    return pairs


_url(
    "get_url_protocol",
    lambda u: None if u is None else urlsplit(u).scheme or None,
    pa.string(),
    [("url", "string")],
    'get_url_protocol("https://platform.adobe.com/home")',
    '"https"',
    "The scheme of a URL.",
)
_url(
    "get_url_host",
    lambda u: None if u is None else urlsplit(u).hostname,
    pa.string(),
    [("url", "string")],
    'get_url_host("https://platform.adobe.com/home")',
    '"platform.adobe.com"',
    "The host of a URL.",
)
_url(
    "get_url_port",
    _port,
    pa.int64(),
    [("url", "string")],
    'get_url_port("sftp://example.com//home/joe")',
    "22",
    "The port of a URL (the scheme's default port when absent).",
)
_url(
    "get_url_path",
    _path,
    pa.string(),
    [("url", "string"), ("full_path", "boolean")],
    'get_url_path("https://platform.adobe.com/home/index.html")',
    '"/home/index.html"',
    "The path of a URL (with query and fragment when FULL_PATH).",
    min_args=1,
)
_url(
    "get_url_query_str",
    _query,
    pa.map_(pa.string(), pa.string()),
    [("url", "string"), ("anchor", "string")],
    'get_url_query_str("foo://example.com:8042/over/there?name=ferret#nose", "append")',
    '{"name": "ferret", "_anchor_": "nose"}',
    "Query parameters as a map; ANCHOR retain|remove|append.",
    min_args=1,
)
_url(
    "get_url_encoded",
    lambda u: None if u is None else quote(u, safe=""),
    pa.string(),
    [("url", "string")],
    'get_url_encoded("https://example.com/a b")',
    '"https%3A%2F%2Fexample.com%2Fa%20b"',
    "Percent-encodes a URL.",
)
_url(
    "get_url_decoded",
    lambda u: None if u is None else unquote(u),
    pa.string(),
    [("url", "string")],
    'get_url_decoded("https%3A%2F%2Fexample.com")',
    '"https://example.com"',
    "Decodes a percent-encoded URL.",
)
