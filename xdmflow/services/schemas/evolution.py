"""Schema evolution rules once a schema is in use (xdm.md §6.9, §11).

A schema that is enabled for Profile or backs a dataset only takes additive changes: every
field it had keeps its path and type (new fields, titles and descriptions are fine).
Whether the dataset holds data is not known here, so any dataset counts as use.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from xdmflow.errors import ValidationFailedError
from xdmflow.schema.compile import compile_schema
from xdmflow.schema.resolve import resolve_body
from xdmflow.services.document_stores import DATASETS
from xdmflow.services.schemas.repo import Json
from xdmflow.store.documents import Scope

__all__ = ["datasets_using", "breaking_changes", "check_evolution"]


def datasets_using(s: Session, scope: Scope, schema: Json) -> list[str]:
    """Ids of the scope's datasets whose ``schemaRef.id`` is the schema (``$id`` or altId)."""
    ids = (schema.get("$id"), schema.get("meta:altId"))
    return [
        d.id
        for d in DATASETS.query(s, scope)
        if isinstance(d.body.get("schemaRef"), dict) and d.body["schemaRef"].get("id") in ids
    ]


def breaking_changes(old_resolved: Json, new_resolved: Json) -> list[str]:
    """Fields of ``old_resolved`` that ``new_resolved`` removes or retypes."""
    old = {(f.path, f.xdm_type) for f in compile_schema(old_resolved).walk()}
    new_fields = list(compile_schema(new_resolved).walk())
    new = {(f.path, f.xdm_type) for f in new_fields}
    paths = {f.path: f.xdm_type for f in new_fields}
    out = []
    for path, typ in sorted(old - new):
        if path in paths:
            out.append(f"field '{path}' changes type from {typ} to {paths[path]}")
        else:
            out.append(f"field '{path}' is removed")
    return out


def check_evolution(
    s: Session, scope: Scope, schemas: list[Json], old: dict[str, Json], new: dict[str, Json]
) -> None:
    """Refuse a change that breaks a Profile-enabled or dataset-backed schema among ``schemas``."""
    for schema in schemas:
        before = old.get(schema["$id"])
        if before is None:
            continue
        reason = ""
        if "union" in before.get("meta:immutableTags", ()):
            reason = "it is enabled for Profile"
        else:
            used = datasets_using(s, scope, before)
            reason = f"dataset(s) {', '.join(used)} use it" if used else ""
        if not reason:
            continue
        problems = breaking_changes(resolve_body(before, old), resolve_body(new[schema["$id"]], new))
        if problems:
            raise ValidationFailedError(
                f"Only additive changes are allowed to schema '{before.get('title')}' ({schema['$id']}) "
                f"because {reason}: {'; '.join(problems[:5])}",
                details={"errors": problems},
            )
