"""Hand-built CompiledSchema objects and an expression runner for the mapping tests."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from xdmflow.mapping.evaluate import evaluate_array
from xdmflow.mapping.functions import EvalContext
from xdmflow.mapping.parser import parse_expression
from xdmflow.schema.compiled import CompiledSchema, XdmField


def leaf(path: str, xdm_type: str, **kw: Any) -> XdmField:
    return XdmField(path.split(".")[-1], path, xdm_type, **kw)  # type: ignore[arg-type]


def obj(path: str, *children: XdmField, **kw: Any) -> XdmField:
    return XdmField(path.split(".")[-1], path, "object", children=tuple(children), **kw)


def identity_map_field() -> XdmField:
    item = XdmField(
        "items",
        "identityMap",
        "object",
        children=(
            leaf("identityMap.authenticatedState", "string"),
            leaf("identityMap.id", "string"),
            leaf("identityMap.primary", "boolean"),
        ),
    )
    arr = XdmField("values", "identityMap", "array", items=item)
    return XdmField("identityMap", "identityMap", "map", values=arr)


def experience_event_schema() -> CompiledSchema:
    """ExperienceEvent + identityMap + a little commerce (xdm.md §5.2), compat names."""
    return CompiledSchema(
        id="https://ns.adobe.com/tenant/schemas/ee",
        version="1.0",
        title="Payments events",
        class_id="https://ns.adobe.com/xdm/context/experienceevent",
        fields=(
            leaf("_id", "string", format="uri-reference", required=True),
            obj(
                "commerce",
                obj(
                    "commerce.order",
                    leaf("commerce.order.currencyCode", "string"),
                    leaf("commerce.order.priceTotal", "number"),
                    leaf("commerce.order.purchaseID", "string"),
                ),
            ),
            leaf("eventType", "string"),
            identity_map_field(),
            obj(
                "person",
                obj(
                    "person.name",
                    leaf("person.name.firstName", "string"),
                    leaf("person.name.fullName", "string"),
                ),
                leaf("person.birthYear", "short"),
            ),
            XdmField(
                "productListItems",
                "productListItems",
                "array",
                items=XdmField(
                    "items",
                    "productListItems",
                    "object",
                    children=(
                        leaf("productListItems.SKU", "string", required=True),
                        leaf("productListItems.quantity", "int"),
                    ),
                ),
            ),
            XdmField("tags", "tags", "array", items=leaf("tags", "string")),
            leaf("timestamp", "date-time", required=True),
            obj(
                "_tenant",
                leaf("_tenant.active", "boolean"),
                leaf("_tenant.count", "long"),
                leaf("_tenant.small", "byte"),
                leaf("_tenant.signup", "date"),
                XdmField("attrs", "_tenant.attrs", "map", values=leaf("_tenant.attrs", "string")),
            ),
        ),
    )


def profile_schema() -> CompiledSchema:
    """The PayPal tutorial's target: Profile + person + personal contact details (no product)."""
    return CompiledSchema(
        id="https://ns.adobe.com/tenant/schemas/paypal",
        version="1.0",
        title="PayPal target XDM schema",
        class_id="https://ns.adobe.com/xdm/context/profile",
        fields=(
            leaf("_id", "string"),
            obj(
                "person",
                obj(
                    "person.name",
                    leaf("person.name.firstName", "string"),
                    leaf("person.name.lastName", "string"),
                ),
            ),
            obj("personalEmail", leaf("personalEmail.address", "string")),
        ),
    )


def run(expr: str, rows: int | None = None, **cols: Any) -> list[Any]:
    """Evaluate ``expr`` over the given columns (lists or arrays); returns Python values."""
    values, _ = run_with_failures(expr, rows, **cols)
    return values


def run_with_failures(expr: str, rows: int | None = None, **cols: Any) -> tuple[list[Any], list[int]]:
    arrays = {k: v if isinstance(v, pa.Array) else pa.array(v) for k, v in cols.items()}
    length = rows if rows is not None else (len(next(iter(arrays.values()))) if arrays else 1)
    ctx = EvalContext(length, arrays, now_us=1_571_829_875_000_000)
    out = evaluate_array(parse_expression(expr), ctx)
    failed: set[int] = set()
    for mask, _reason in ctx.failures:
        failed.update(i for i, v in enumerate(mask.to_pylist()) if v)
    return out.to_pylist(), sorted(failed)
