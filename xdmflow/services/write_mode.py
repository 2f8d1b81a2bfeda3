"""A flow's write mode: ``options.writeMode`` (``append`` | ``upsert``) and its key columns.

``append`` (the default) adds every row a run reads, keeping the full history. ``upsert`` keeps
one row per key in its latest state: each run's commit deletes the rows whose key appears in the
run's batch and appends the batch, in one lake transaction. The key is ``options.keyColumns``
(dataset field paths, e.g. ``_tenant.stripe.id``) or, when absent, the source table's primary
key (``Connector.primary_key``) carried through the flow's mapping to the dataset field it lands in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from xdmflow.connectors.base import Connector, ReadRequest
from xdmflow.errors import BadRequestError
from xdmflow.mapping.plan import MappingPlan
from xdmflow.schema.compiled import CompiledSchema, XdmField

__all__ = ["write_options", "WRITE_MODES"]

WRITE_MODES = ("append", "upsert")


def _paths(fields: tuple[XdmField, ...]) -> Iterator[str]:
    for f in fields:
        yield f.path
        yield from _paths(tuple(f.children or ()))


def _auto_path(schema: CompiledSchema, name: str) -> str:
    """Where a flow without a Mapping step puts column ``name`` (as the pipeline's auto plan does)."""
    for prefix in ("", schema.dataset_namespace, schema.tenant_namespace):
        if prefix is None:
            continue
        path = f"{prefix}.{name}" if prefix else name
        if schema.field(path) is not None:
            return path
    return name


def write_options(
    options: Mapping[str, Any],
    connector: Connector,
    read: ReadRequest,
    plan: MappingPlan | None,
    schema: CompiledSchema,
) -> tuple[str, tuple[str, ...]]:
    """``(mode, key columns)`` for a run; ``BadRequestError`` when upsert has no usable key."""
    mode = str(options.get("writeMode") or "append")
    if mode not in WRITE_MODES:
        raise BadRequestError(f"options.writeMode must be one of {', '.join(WRITE_MODES)} (got {mode!r})")
    if mode == "append":
        return mode, ()
    known = set(_paths(schema.fields))
    given = options.get("keyColumns")
    if given:
        keys = tuple(str(k) for k in given)
    else:
        source = connector.primary_key(read)
        if not source:
            raise BadRequestError(
                "options.writeMode upsert needs options.keyColumns: the source table declares no primary key"
            )
        by_source = {
            ".".join(m.source_path): m.destination
            for m in (plan.mappings if plan is not None else ())
            if m.kind == "attribute"
        }
        keys = tuple(by_source.get(k, k) if plan is not None else _auto_path(schema, k) for k in source)
        missing = [k for k, dest in zip(source, keys, strict=True) if dest not in known]
        if missing:
            raise BadRequestError(
                f"options.writeMode upsert: the key column(s) {', '.join(missing)} of the source are not "
                "mapped to a dataset field; map them or set options.keyColumns"
            )
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise BadRequestError(
            f"options.keyColumns names {', '.join(unknown)}, not field(s) of the dataset's schema"
        )
    return mode, keys
