"""Run a :class:`MappingPlan` over Arrow data: vectorised values, per-row rejects, nested output.

``apply`` evaluates every mapping over the whole batch, casts the result to the destination
type (``xdmflow.mapping.casts``), assembles nested structs from the dotted destination paths
and, for identity-flagged mappings, an ``identityMap``. Rows whose value could not be
produced go to ``rejects`` (or are nulled with ``allow_null_on_error``); only those rows are
ever visited one by one.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from xdmflow.mapping import casts
from xdmflow.mapping.ast import field_refs
from xdmflow.mapping.evaluate import ColumnNotFound, evaluate_array, resolve_column
from xdmflow.mapping.functions import EvalContext
from xdmflow.mapping.plan import CompiledMapping, MappingPlan
from xdmflow.schema.arrow import arrow_type
from xdmflow.schema.compiled import XdmField

__all__ = ["Reject", "MappedBatch", "apply", "conform"]


@dataclass(frozen=True)
class Reject:
    """A row that could not be mapped: ``row`` is its index in the input batch."""

    row: int
    destination: str
    source: str
    value: str | None
    reason: str


@dataclass
class MappedBatch:
    """The mapped rows (``good``, exactly the target's Arrow schema) and the rejects."""

    good: pa.Table
    rejects: list[Reject] = field(default_factory=list)

    @property
    def rejected_rows(self) -> list[int]:
        return sorted({r.row for r in self.rejects})


def _or(a: pa.Array | None, b: pa.Array | None) -> pa.Array | None:
    if a is None:
        return b
    if b is None:
        return a
    return pc.or_(a, b)


def conform(arr: pa.Array, f: XdmField) -> tuple[pa.Array, pa.Array | None]:
    """Cast ``arr`` to the Arrow type of ``f``; structs/lists/maps are matched by name recursively."""
    target = arrow_type(f)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type == target:
        return arr, None
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), target), None
    if f.xdm_type == "object" and pa.types.is_struct(arr.type):
        children: list[pa.Array] = []
        failed: pa.Array | None = None
        for c in f.children:
            idx = arr.type.get_field_index(c.name)
            if idx < 0:
                children.append(pa.nulls(len(arr), arrow_type(c)))
                continue
            child, bad = conform(pc.struct_field(arr, c.name), c)
            children.append(child)
            failed = _or(failed, bad)
        out = pa.StructArray.from_arrays(children, fields=list(target), mask=pc.is_null(arr))
        return out, failed
    if f.xdm_type == "object" and pa.types.is_map(arr.type):
        keys = list(f.children)
        parts = [pc.map_lookup(arr, pa.scalar(c.name), "first") for c in keys]
        children, failed = [], None
        for c, p in zip(keys, parts, strict=True):
            child, bad = conform(p, c)
            children.append(child)
            failed = _or(failed, bad)
        return pa.StructArray.from_arrays(children, fields=list(target), mask=pc.is_null(arr)), failed
    if (
        f.xdm_type == "array"
        and f.items is not None
        and (pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type))
    ):
        lst = arr if pa.types.is_list(arr.type) else arr.cast(pa.list_(arr.type.value_type))
        values, bad = conform(lst.values, f.items)
        out = pa.ListArray.from_arrays(lst.offsets, values, type=target, mask=pc.is_null(lst))
        failed = None
        if bad is not None and bad.true_count:
            parent = pc.list_parent_indices(lst)
            rows = pc.unique(pc.filter(parent, bad))
            failed = pc.is_in(pa.array(np.arange(len(arr))), rows)
        return out, failed
    if f.xdm_type == "map" and f.values is not None and pa.types.is_map(arr.type):
        values, bad = conform(arr.items, f.values)
        keys = arr.keys.cast(pa.string())
        out = pa.MapArray.from_arrays(arr.offsets, keys, values, type=target, mask=pc.is_null(arr))
        failed = None
        if bad is not None and bad.true_count:
            counts = pc.list_value_length(arr).to_numpy(zero_copy_only=False)
            parent = np.repeat(np.arange(len(arr)), np.nan_to_num(counts).astype(np.int64))
            failed = pc.is_in(
                pa.array(np.arange(len(arr))), pa.array(parent[bad.to_numpy(zero_copy_only=False)])
            )
        return out, failed
    if f.xdm_type in ("object", "array", "map"):
        bad_all = pc.is_valid(arr)
        return pa.nulls(len(arr), target), bad_all
    return casts.cast_to(arr, target)


def _value(cm: CompiledMapping, ctx: EvalContext) -> tuple[pa.Array, list[tuple[pa.Array, str]]]:
    if cm.kind == "attribute":
        try:
            return resolve_column(ctx.columns, cm.source_path), []
        except ColumnNotFound:
            return pa.nulls(ctx.n, pa.null()), []
    if cm.kind == "static":
        return pa.repeat(pa.scalar(cm.static), ctx.n) if ctx.n else pa.array([], pa.string()), []
    assert cm.expr is not None
    sub = EvalContext(ctx.n, ctx.columns, ctx.now_us)
    try:
        out = evaluate_array(cm.expr, sub)
    except (ValueError, TypeError, pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
        # a constant sub-expression failed: every row fails the same way
        return pa.nulls(ctx.n, pa.null()), [(pa.repeat(pa.scalar(True), ctx.n), f"expression failed: {e}")]
    return out, sub.failures


def _field_for(plan: MappingPlan, cm: CompiledMapping) -> XdmField:
    f = cm.dest_field or plan.target.field(cm.destination)
    assert f is not None
    return f


def _build(
    fields: tuple[XdmField, ...], prefix: tuple[str, ...], leaves: dict[tuple[str, ...], pa.Array], n: int
) -> list[pa.Array]:
    out: list[pa.Array] = []
    for f in fields:
        path = (*prefix, f.name)
        t = arrow_type(f)
        if path in leaves:
            out.append(leaves[path])
        elif (
            f.xdm_type == "array"
            and f.items is not None
            and any(len(p) > len(path) and p[: len(path)] == path for p in leaves)
        ):
            out.append(_build_array(f, path, leaves, n))
        elif f.xdm_type == "object" and any(p[: len(path)] == path for p in leaves):
            kids = _build(f.children, path, leaves, n)
            valid: pa.Array | None = None
            for k in kids:
                valid = _or(valid, pc.is_valid(k))
            mask = pc.invert(valid) if valid is not None else None
            out.append(pa.StructArray.from_arrays(kids, fields=list(t), mask=mask))
        else:
            out.append(pa.nulls(n, t))
    return out


def _struct_of(
    f: XdmField, path: tuple[str, ...], leaves: dict[tuple[str, ...], pa.Array], n: int
) -> pa.Array:
    kids = _build(f.children, path, leaves, n)
    valid: pa.Array | None = None
    for k in kids:
        valid = _or(valid, pc.is_valid(k))
    return pa.StructArray.from_arrays(
        kids, fields=list(arrow_type(f)), mask=pc.invert(valid) if valid else None
    )


def _build_array(
    f: XdmField, path: tuple[str, ...], leaves: dict[tuple[str, ...], pa.Array], n: int
) -> pa.Array:
    """An array destination written element by element (``items[0].sku``, ``tags[1]``).

    Each row's list runs up to its last non-null element (holes stay null); a row with no
    element is null.
    """
    assert f.items is not None
    indexes = sorted(
        {int(p[len(path)][1:-1]) for p in leaves if len(p) > len(path) and p[: len(path)] == path}
    )
    k = indexes[-1] + 1
    item_type = arrow_type(f.items)
    elements: list[pa.Array] = []
    for i in range(k):
        step = (*path, f"[{i}]")
        if f.items.xdm_type == "object":
            elements.append(_struct_of(f.items, step, leaves, n))
        else:
            elements.append(leaves.get(step, pa.nulls(n, item_type)))
    valid = np.stack([e.is_valid().to_numpy(zero_copy_only=False) for e in elements], axis=1)
    positions = np.where(valid, np.arange(1, k + 1), 0)
    lengths = positions.max(axis=1)
    keep = np.arange(k)[None, :] < lengths[:, None]
    order = (np.arange(k)[None, :] * n + np.arange(n)[:, None]).ravel()
    values = pc.take(pa.concat_arrays(elements), pa.array(order[keep.ravel()]))
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    return pa.ListArray.from_arrays(offsets, values, type=arrow_type(f), mask=pa.array(lengths == 0))


def _identity_map(plan: MappingPlan, values: dict[int, pa.Array], n: int) -> pa.Array:
    f = plan.target.field("identityMap")
    assert f is not None and f.values is not None
    map_type = arrow_type(f)
    list_type = arrow_type(f.values)
    item_type = list_type.value_type
    namespaces: list[str] = []
    for spec in plan.identities:
        if spec.namespace not in namespaces:
            namespaces.append(spec.namespace)
    rows = np.arange(n, dtype=np.int64)
    ns_lists: list[pa.Array] = []
    for ns in namespaces:
        specs = [s for s in plan.identities if s.namespace == ns]
        ids = [casts.to_string(values[s.mapping_index])[0] for s in specs]
        ids = [pc.if_else(pc.equal(i, ""), pa.scalar(None, pa.string()), i) for i in ids]
        k = len(specs)
        order = (np.tile(np.arange(k, dtype=np.int64), n) * n + np.repeat(rows, k)) if k > 1 else rows
        stacked_ids = pc.take(pa.concat_arrays(ids), pa.array(order))
        prim = pc.take(pa.concat_arrays([pa.repeat(pa.scalar(s.primary), n) for s in specs]), pa.array(order))
        state = pc.take(
            pa.concat_arrays([pa.repeat(pa.scalar(s.authenticated_state), n) for s in specs]), pa.array(order)
        )
        keep = pc.is_valid(stacked_ids)
        by_name = {"id": stacked_ids, "primary": prim, "authenticatedState": state}
        kids = [
            by_name.get(item_type.field(j).name, pa.nulls(len(stacked_ids), item_type.field(j).type))
            for j in range(item_type.num_fields)
        ]
        kids = [k_.cast(item_type.field(j).type) for j, k_ in enumerate(kids)]
        items = pc.filter(pa.StructArray.from_arrays(kids, fields=list(item_type)), keep)
        counts = keep.to_numpy(zero_copy_only=False).reshape(n, k).sum(axis=1)
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
        ns_lists.append(pa.ListArray.from_arrays(pa.array(offsets), items, type=list_type))
    m = len(namespaces)
    order = np.tile(np.arange(m, dtype=np.int64), n) * n + np.repeat(rows, m)
    all_lists = pc.take(pa.concat_arrays(ns_lists), pa.array(order))
    keys = pc.take(pa.array(namespaces * 1), pa.array(np.tile(np.arange(m), n)))
    nonempty = pc.greater(pc.list_value_length(all_lists), 0)
    counts = nonempty.to_numpy(zero_copy_only=False).reshape(n, m).sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    mask = pa.array(counts == 0)
    return pa.MapArray.from_arrays(
        pa.array(offsets), pc.filter(keys, nonempty), pc.filter(all_lists, nonempty), type=map_type, mask=mask
    )


def _input_text(ctx: EvalContext, path: tuple[str, ...], row: int) -> str | None:
    try:
        return _text(resolve_column(ctx.columns, path), row)
    except ColumnNotFound:
        return None


def _text(arr: pa.Array, row: int) -> str | None:
    v = arr[row].as_py() if len(arr) > row else None
    return None if v is None else str(v)


_POOLS: dict[int, ThreadPoolExecutor] = {}
_POOLS_LOCK = threading.Lock()


def _forget_pools() -> None:  # a forked child has the pools' objects but not their threads
    global _POOLS_LOCK
    _POOLS.clear()
    _POOLS_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools)


def _pool(workers: int) -> ThreadPoolExecutor:
    """The process's pool of ``workers`` threads, started on first use and kept.

    A pool per batch cost a thread start and join per ``apply``; these threads idle between
    batches instead. One pool per size, so ``threads=`` is still the concurrency a call gets
    (in practice one size is used: ``_workers`` caps it at 4).
    """
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"xdmflow-mapping-{workers}")
            _POOLS[workers] = pool
        return pool


def _workers(threads: int | None, n: int, n_mappings: int) -> int:
    if threads is not None:
        return max(1, threads)
    if n < 20_000 or n_mappings < 2:
        return 1
    return max(1, min(4, os.cpu_count() or 1, n_mappings))


def apply(plan: MappingPlan, batch: pa.RecordBatch | pa.Table, *, threads: int | None = None) -> MappedBatch:
    """Map ``batch`` with ``plan``. ``good`` has exactly ``to_arrow_schema(plan.target)``.

    ``threads`` evaluates mappings concurrently (default: up to 4 threads for batches of
    20k rows or more; ``1`` = serial).

    A value that cannot be cast/evaluated rejects its row (or is nulled when the plan has
    ``allow_null_on_error``); the batch itself never fails because of one value.
    """
    columns: dict[str, pa.Array] = {}
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        if isinstance(col, pa.ChunkedArray):
            col = (
                col.chunk(0)
                if col.num_chunks == 1
                else (col.combine_chunks() if col.num_chunks else pa.array([], col.type))
            )
        columns[name] = col
    n = batch.num_rows
    ctx = EvalContext(n, columns, time.time_ns() // 1000)
    leaves: dict[tuple[str, ...], pa.Array] = {}
    raw: dict[int, pa.Array] = {}
    problems: list[tuple[CompiledMapping, pa.Array, pa.Array, str]] = []
    bad_rows: pa.Array | None = None

    def run_one(
        cm: CompiledMapping,
    ) -> tuple[pa.Array, list[tuple[pa.Array, str]], pa.Array, pa.Array | None]:
        value, failures = _value(cm, ctx)
        out, cast_failed = conform(value, _field_for(plan, cm))
        return value, failures, out, cast_failed

    workers = _workers(threads, n, len(plan.mappings))
    if workers > 1:  # pyarrow kernels release the GIL: mappings run side by side
        results = list(_pool(workers).map(run_one, plan.mappings))
    else:
        results = [run_one(cm) for cm in plan.mappings]
    for cm, (value, failures, out, cast_failed) in zip(plan.mappings, results, strict=True):
        raw[cm.index] = value
        fail_mask: pa.Array | None = None
        for mask, reason in failures:
            problems.append((cm, mask, value, reason))
            fail_mask = _or(fail_mask, mask)
        if cast_failed is not None and cast_failed.true_count:
            problems.append((cm, cast_failed, value, f"cannot convert value to {cm.dest_type}"))
            fail_mask = _or(fail_mask, cast_failed)
        if fail_mask is not None:
            bad_rows = _or(bad_rows, fail_mask)
            if plan.allow_null_on_error:
                out = pc.if_else(fail_mask, pa.scalar(None, out.type), out)
        leaves[cm.dest_path] = out
    if plan.identities:
        leaves[("identityMap",)] = _identity_map(plan, raw, n)
    arrays = _build(plan.target.fields, (), leaves, n)
    good = pa.Table.from_arrays(arrays, schema=plan.arrow_schema)
    rejects: list[Reject] = []
    for cm, mask, value, reason in problems:
        refs = field_refs(cm.expr) if cm.expr is not None else []
        for row in pc.indices_nonzero(mask).to_pylist():
            text = _text(value, row)
            if refs:  # show the inputs of a failing expression, not its (null) output
                text = ", ".join(f"{r.dotted}={_input_text(ctx, r.path, row)}" for r in refs)
            rejects.append(Reject(int(row), cm.destination, cm.source, text, reason))
    rejects.sort(key=lambda r: (r.row, r.destination))
    if bad_rows is not None and not plan.allow_null_on_error and bad_rows.true_count:
        good = good.filter(pc.invert(bad_rows))
    return MappedBatch(good=good, rejects=rejects)
