"""Names and ids of XDM resources: compatibility-mode renaming, altIds, tenant ids.

Pure helpers shared by the built-in definitions, the resolver and the HTTP service
(xdm.md §1, §2; platform-api.md §0.5).
"""

from __future__ import annotations

import re

from xdmflow.errors import InvalidValueError

__all__ = [
    "XDM_BASE",
    "BEHAVIOR_RECORD",
    "BEHAVIOR_TIME_SERIES",
    "BEHAVIOR_ADHOC",
    "BEHAVIORS",
    "compat_path",
    "compat_name",
    "alt_id",
    "make_tenant_id",
    "tenant_namespace",
    "adhoc_namespace",
    "RESOURCE_KINDS",
]

XDM_BASE = "https://ns.adobe.com/xdm"
BEHAVIOR_RECORD = f"{XDM_BASE}/data/record"
BEHAVIOR_TIME_SERIES = f"{XDM_BASE}/data/time-series"
BEHAVIOR_ADHOC = f"{XDM_BASE}/data/adhoc"
#: The three behaviors a class may extend.
BEHAVIORS = (BEHAVIOR_RECORD, BEHAVIOR_TIME_SERIES, BEHAVIOR_ADHOC)

#: ``meta:resourceType`` -> path segment of a tenant ``$id`` (field groups keep ``mixins``).
RESOURCE_KINDS = {"schemas": "schemas", "classes": "classes", "mixins": "mixins", "datatypes": "datatypes"}

_HEX_RE = re.compile(r"^[0-9a-f]{32,48}$")


def compat_path(std_name: str) -> tuple[str, ...]:
    """The compatibility-mode path of a standard-notation property name.

    ``xdm:foo`` -> ``("foo",)``; ``@id`` -> ``("_id",)``; ``repo:createDate`` ->
    ``("_repo", "createDate")``; names without a prefix (already compat) are unchanged.
    """
    if std_name == "@id":
        return ("_id",)
    if std_name.startswith("@"):
        return ("_" + std_name[1:],)
    prefix, sep, rest = std_name.partition(":")
    if not sep or not prefix or not rest or "/" in prefix or rest.startswith("/"):
        return (std_name,)
    if prefix == "xdm":
        return (rest,)
    return ("_" + prefix, rest)


def compat_name(std_name: str) -> str:
    """The dotted compat path of a standard name (``repo:createDate`` -> ``_repo.createDate``)."""
    return ".".join(compat_path(std_name))


def alt_id(resource_id: str) -> str:
    """The ``meta:altId`` (dot form) of a ``$id``.

    ``https://ns.adobe.com/xdm/context/profile`` -> ``_xdm.context.profile``;
    ``https://ns.adobe.com/acme/schemas/ab12`` -> ``_acme.schemas.ab12``; other hosts keep
    their host (``http://schema.org/GeoCoordinates`` -> ``_schema.org.GeoCoordinates``).
    """
    rest = re.sub(r"^[a-z]+://", "", resource_id)
    if rest.startswith("ns.adobe.com/"):
        rest = rest[len("ns.adobe.com/") :]
    return "_" + rest.strip("/").replace("/", ".")


def make_tenant_id(tenant_id: str, resource_type: str, hex_id: str) -> str:
    """The ``$id`` of a tenant resource: ``https://ns.adobe.com/{tenant}/{kind}/{hex}``.

    ``resource_type`` is the ``meta:resourceType`` (``schemas``, ``classes``, ``mixins``,
    ``datatypes``; ``fieldgroups`` is accepted as ``mixins``).
    """
    kind = "mixins" if resource_type == "fieldgroups" else resource_type
    if kind not in RESOURCE_KINDS:
        raise InvalidValueError(f"unknown resource type {resource_type!r}")
    if not _HEX_RE.match(hex_id):
        raise InvalidValueError(f"resource id must be 32-48 lowercase hex digits, got {hex_id!r}")
    return f"https://ns.adobe.com/{tenant_id}/{kind}/{hex_id}"


def tenant_namespace(tenant_id: str) -> str:
    """The tenant's namespace object name, ``_{TENANT_ID}``."""
    return "_" + tenant_id


def adhoc_namespace(guid: str) -> str:
    """The dataset namespace of an ad-hoc class: ``_`` + the 32-hex guid."""
    guid = guid.replace("-", "").lower()
    if not re.fullmatch(r"[0-9a-f]{32}", guid):
        raise InvalidValueError(f"ad-hoc guid must be 32 hex digits, got {guid!r}")
    return "_" + guid
