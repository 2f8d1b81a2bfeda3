"""``xdmflow lake``: operator maintenance of the lake on the server host."""

from __future__ import annotations

import json
from typing import Annotated

import typer

__all__ = ["lake_app"]

lake_app = typer.Typer(help="Lake maintenance (snapshots, metadata files).", no_args_is_help=True)


@lake_app.callback()
def _group() -> None:
    """Lake maintenance (snapshots, metadata files)."""


@lake_app.command("maintain")
def maintain(
    dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset id.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as JSON.")] = False,
) -> None:
    """Expire old snapshots (XDMFLOW_SNAPSHOT_RETENTION_HOURS, XDMFLOW_SNAPSHOT_KEEP_LAST) and delete
    metadata files nothing references, for every dataset (or one)."""
    from xdmflow.lake.lake import Lake
    from xdmflow.services.lake_maintenance import maintain_lake
    from xdmflow.settings import Settings
    from xdmflow.store.db import Database

    settings = Settings()
    db = Database(settings.resolved_database_url)
    lake = Lake.from_settings(settings)
    try:
        reports = maintain_lake(settings, db, lake, dataset_id=dataset)
    finally:
        lake.close()
        db.dispose()
    if as_json:
        typer.echo(json.dumps([r.__dict__ for r in reports]))
        return
    for r in reports:
        typer.echo(
            f"{r.dataset_id}: expired {r.expired_snapshots} snapshots, deleted {r.deleted_files} files; "
            f"{r.snapshots} snapshots and {r.metadata_files} metadata files left"
        )
    if dataset is not None and not reports:
        typer.echo(f"No lake table for dataset {dataset}.", err=True)
        raise typer.Exit(1)
