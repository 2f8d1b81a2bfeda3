"""docs/query.md's recipe for other engines: a separate process opens the tables through pyiceberg's
SQL catalog with only the settings the doc gives (catalog name, metadata database URL, warehouse)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.query.qhelp import add_batch, csv_dataset

SCRIPT = """
import hashlib, json, sys
from pyiceberg.catalog.sql import SqlCatalog
db_url, warehouse, org, sandbox, dataset_id = sys.argv[1:]
catalog = SqlCatalog("xdmflow", uri=db_url, warehouse=warehouse)
namespace = "org_" + hashlib.sha256(org.encode()).hexdigest()[:12] + "__" + sandbox
table = catalog.load_table((namespace, dataset_id))
rows = table.scan().to_arrow().to_pylist()
print(json.dumps({"tables": [t[1] for t in catalog.list_tables(namespace)], "rows": rows,
                  "snapshots": len(table.metadata.snapshots)}, default=str))
"""


def test_a_separate_process_reads_the_tables_through_the_sql_catalog(api: Any) -> None:
    ds, ns = csv_dataset(api)
    add_batch(api, ds, b"name,amount,qty\ncy,3.5,3\n", "second.csv")
    settings = api.ctx.settings
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            settings.resolved_database_url,
            settings.resolved_lake_url,
            api.creds["org_id"],
            "prod",
            ds,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd="/",
    )
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["tables"] == [ds] and got["snapshots"] == 2
    assert sorted(r[ns]["name"] for r in got["rows"]) == ["ann", "bob", "cy"]
