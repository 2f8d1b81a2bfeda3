"""The lake: datasets as Apache Iceberg tables, batches as snapshots, error diagnostics.

Modules (import them directly; this package stays cheap to import):

* :mod:`xdmflow.lake.lake` - :class:`~xdmflow.lake.lake.Lake` (catalog, tables, commits, scans);
* :mod:`xdmflow.lake.batch` - :class:`~xdmflow.lake.batch.BatchWriter`, ``CommitResult``;
* :mod:`xdmflow.lake.files` - Parquet files of a batch (``write_parquet_files``, ``DataFileInfo``);
* :mod:`xdmflow.lake.evolution` - the additive-only schema evolution rule;
* :mod:`xdmflow.lake.diagnostics` - :class:`~xdmflow.lake.diagnostics.ErrorStore` (rejected rows).
"""
