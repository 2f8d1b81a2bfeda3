"""Accept headers of the Schema Registry (platform-api.md §2.2, xdm.md §7).

Decisions (the docs are strict, so are we):

* resource lists and lookups need an ``application/vnd.adobe.xed…+json`` Accept; a missing
  one (or ``*/*``, what HTTP clients send by default) is 406 "Accept header parameter is
  required"; an unknown media type is 406;
* lists take ``xed-id`` or ``xed`` without ``version`` (with it: XDM-1006-400); other
  ``xed`` formats on a list are 406;
* lookups need ``version=1`` (missing: XDM-1007-400); ``version=N`` for N != 1 is 404
  (only major 1 exists); ``xed-id`` on a lookup is 406;
* on lists and lookups of resources the ``xdm`` spellings (``xdm-id+json``, ``xdm+json``,
  ``xdm-full+json; version=1``...) name the same views as their ``xed`` twins, as the
  registry's own hint "application/vnd.adobe.{xed|xdm}+json" says and as clients send them
  (aepp's ``getClasses`` lists with ``xdm-id``, its ``getSchema`` asks for ``xdm-full``);
* descriptor lists reject ``xed`` headers (XDM-1008-400) and need ``xdm-id``, ``xdm-link``,
  ``xdm`` or their ``xdm-v2…`` paged variants; descriptor lookups need no Accept but reject
  ``xed`` ones (XDM-1009-400);
* POST/PUT/PATCH/DELETE ignore Accept (the tutorials send none) and answer in ``xed``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xdmflow.errors import BadRequestError, NotAcceptableError, NotFoundError
from xdmflow.services.schemas.views import LIST_FORMATS, LOOKUP_FORMATS

__all__ = [
    "Accept",
    "parse_accept",
    "list_format",
    "lookup_format",
    "descriptor_list_format",
    "check_descriptor_lookup",
]

_MEDIA = re.compile(r"^application/vnd\.adobe\.((?:xed|xdm)[a-z0-9-]*)\+json$")
DESCRIPTOR_LIST_FORMATS = ("xdm-id", "xdm-link", "xdm", "xdm-v2", "xdm-v2-id", "xdm-v2-link")


@dataclass(frozen=True)
class Accept:
    raw: str
    fmt: str  # xed-full, xdm-link...
    version: str | None


def _invalid(raw: str, code: str, hint: str) -> BadRequestError:
    msg = f"The supplied Accept header is not valid: {raw} - A valid Accept value should look like {hint}"
    return BadRequestError(msg, code=code, title="Accept header invalid")


def parse_accept(header: str | None) -> Accept | None:
    """The registry media type of an Accept header; ``None`` when absent or ``*/*``."""
    if not header:
        return None
    parts = [p.strip() for p in header.split(",") if p.strip()]
    chosen = next((p for p in parts if p.lower().startswith("application/vnd.adobe.")), None)
    if chosen is None:
        if all(p.split(";")[0].strip() in ("*/*", "") for p in parts):
            return None
        raise NotAcceptableError(f"Unknown Accept media supplied: {header}", code="1010")
    media, *params = [x.strip() for x in chosen.split(";")]
    m = _MEDIA.match(media.lower())
    if m is None:
        raise NotAcceptableError(f"Unknown Accept media supplied: {chosen}", code="1010")
    version = None
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "version":
            version = value.strip().strip('"')
    return Accept(chosen, m.group(1), version)


def _xed(fmt: str) -> str:
    """The ``xed`` twin of an ``xdm`` resource format (``xdm-full`` -> ``xed-full``)."""
    return "xed" + fmt[3:] if fmt.startswith("xdm") else fmt


def _required() -> NotAcceptableError:
    return NotAcceptableError(
        "Accept header parameter is required, e.g. application/vnd.adobe.xed-id+json for lists "
        "or application/vnd.adobe.xed-full+json; version=1 for a lookup",
        code="1010",
    )


def list_format(header: str | None) -> str:
    """The list format (``xed-id`` or ``xed``) of a list request's Accept header."""
    acc = parse_accept(header)
    if acc is None:
        raise _required()
    if acc.version is not None:
        raise _invalid(acc.raw, "1006", "application/vnd.adobe.{xed|xed-id}+json (no version on lists)")
    fmt = _xed(acc.fmt)
    if fmt not in LIST_FORMATS:
        raise NotAcceptableError(
            f"Accept {acc.raw} is not available for lists; use application/vnd.adobe.xed-id+json "
            "or application/vnd.adobe.xed+json",
            code="1010",
        )
    return fmt


def lookup_format(header: str | None, rid: str) -> str:
    """The lookup format (``xed``, ``xed-full``...) of a lookup's Accept header."""
    acc = parse_accept(header)
    if acc is None:
        raise _required()
    fmt = _xed(acc.fmt)
    if fmt not in LOOKUP_FORMATS:
        raise NotAcceptableError(
            f"Accept {acc.raw} is not available for a lookup; use one of "
            + ", ".join(f"application/vnd.adobe.{f}+json; version=1" for f in LOOKUP_FORMATS),
            code="1010",
        )
    if acc.version is None or not acc.version.split(".")[0].isdigit():
        raise _invalid(
            acc.raw,
            "1007",
            "application/vnd.adobe.{xed|xdm}+json; version=1 (Version should be specified)",
        )
    major = acc.version.split(".")[0]
    if major != "1":
        raise NotFoundError(
            f"Requested resource {rid} with version {acc.version} is not found (only version 1 exists)",
            code="1012",
            title="Resource Not Found",
        )
    return fmt


def descriptor_list_format(header: str | None) -> str:
    """``xdm-id``, ``xdm-link``, ``xdm`` or a ``xdm-v2…`` variant."""
    acc = parse_accept(header)
    if acc is None:
        raise NotAcceptableError(
            "Accept header parameter is required: application/vnd.adobe.xdm-id+json, "
            "xdm-link+json, xdm+json or xdm-v2+json",
            code="1010",
        )
    if acc.fmt.startswith("xed"):
        raise _invalid(acc.raw, "1008", "application/vnd.adobe.xdm-id+json")
    if acc.fmt not in DESCRIPTOR_LIST_FORMATS:
        raise NotAcceptableError(f"Unknown Accept media supplied: {acc.raw}", code="1010")
    return acc.fmt


def check_descriptor_lookup(header: str | None) -> None:
    """Descriptor lookups need no Accept but refuse ``xed`` ones (XDM-1009-400)."""
    try:
        acc = parse_accept(header)
    except NotAcceptableError:
        return
    if acc is not None and acc.fmt.startswith("xed"):
        raise _invalid(acc.raw, "1009", "application/vnd.adobe.xdm+json")
