"""``xdmflow lake``: operator maintenance of the lake on the server host."""

from __future__ import annotations

import json
from typing import Annotated

import typer

__all__ = ["lake_app"]

lake_app = typer.Typer(help="Lake maintenance (snapshots, files, compaction).", no_args_is_help=True)


@lake_app.callback()
def _group() -> None:
    """Lake maintenance (snapshots, files, compaction)."""


@lake_app.command("maintain")
def maintain(
    dataset: Annotated[str | None, typer.Option("--dataset", help="Only this dataset id.")] = None,
    compact: Annotated[
        bool,
        typer.Option(
            "--compact/--no-compact",
            help="Compact small files of expired batches (XDMFLOW_COMPACT_TARGET_BYTES, "
            "XDMFLOW_COMPACT_MIN_FILES).",
        ),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as JSON.")] = False,
) -> None:
    """Expire old snapshots (XDMFLOW_SNAPSHOT_RETENTION_HOURS, XDMFLOW_SNAPSHOT_KEEP_LAST), delete the
    data and metadata files nothing references and compact small files, for every dataset (or one)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from xdmflow.lake.lake import Lake
    from xdmflow.services.lake_maintenance import maintain_lake
    from xdmflow.settings import Settings
    from xdmflow.store.db import Database

    settings = Settings()
    db = Database(settings.resolved_database_url)
    lake = Lake.from_settings(settings)
    err = Console(stderr=True)
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=as_json or not err.is_terminal,
        ) as progress:
            task = progress.add_task("maintaining the lake", total=None)

            def on_table(ds_id: str, index: int, total: int) -> None:
                progress.update(task, description=f"dataset {ds_id}", completed=index, total=total)

            reports = maintain_lake(
                settings, db, lake, dataset_id=dataset, compact=compact, on_table=on_table
            )
    finally:
        lake.close()
        db.dispose()
    if as_json:
        typer.echo(json.dumps([r.__dict__ for r in reports]))
    elif reports:
        table = Table(
            "dataset",
            "expired snapshots",
            "deleted data files",
            "deleted metadata files",
            "compacted",
            "snapshots",
            "data files",
            "metadata files",
        )
        for r in reports:
            compacted = f"{r.compacted_files} → {r.compacted_into}" if r.compacted_files else "-"
            if r.compaction_skipped:
                compacted = f"skipped ({r.compaction_skipped})"
            table.add_row(
                r.dataset_id,
                str(r.expired_snapshots),
                str(r.deleted_data_files),
                str(r.deleted_files),
                compacted,
                str(r.snapshots),
                str(r.data_files),
                str(r.metadata_files),
            )
        Console().print(table)
    if dataset is not None and not reports:
        typer.echo(f"No lake table for dataset {dataset}.", err=True)
        raise typer.Exit(1)
