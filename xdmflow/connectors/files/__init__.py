"""File sources: Local Files, Amazon S3 and SFTP (delimited, JSON and Parquet files).

Importing this package is cheap: pyarrow's csv/json/parquet/fs modules, fsspec and paramiko
are imported when a connector first touches a file.
"""

from __future__ import annotations

from xdmflow.connectors.files.connector import (
    FilesConnector,
    LocalFilesConnector,
    S3Connector,
    SftpConnector,
)
from xdmflow.connectors.files.specs import LOCALFILES_SPEC_ID, S3_SPEC_ID, SFTP_SPEC_ID

__all__ = [
    "FilesConnector",
    "LocalFilesConnector",
    "S3Connector",
    "SftpConnector",
    "LOCALFILES_SPEC_ID",
    "S3_SPEC_ID",
    "SFTP_SPEC_ID",
]
