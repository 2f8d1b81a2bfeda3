"""Object storage for the lake and the upload area: S3 (and S3-compatible stores) through fsspec.

Every file of the lake — Parquet data files, Iceberg manifests and metadata, diagnostics — and
every uploaded batch file goes through fsspec, so ``s3://bucket/prefix`` works wherever a local
path does. :func:`configure_object_storage` applies the ``XDMFLOW_S3_*`` settings as the
process-wide defaults of fsspec's ``s3`` filesystem (one deployment per process), and
:func:`iceberg_properties` hands the same settings to pyiceberg, whose FileIO is switched to
fsspec's (``FsspecFileIO``: the same s3fs client for metadata as for data files).

Directory listings are not cached: several processes write the same prefixes.
Credentials are never logged; unset, the AWS SDK's own chain applies (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY``, profiles, instance roles).
"""

from __future__ import annotations

from typing import Any

import fsspec.config

from xdmflow.settings import Settings

__all__ = ["is_object_store", "s3_options", "configure_object_storage", "iceberg_properties"]

_FSSPEC_FILEIO = "pyiceberg.io.fsspec.FsspecFileIO"


def is_object_store(url: str) -> bool:
    """Whether ``url`` is on S3 (``s3://`` or ``s3a://``)."""
    return url.split("://", 1)[0].lower() in ("s3", "s3a") if "://" in url else False


def s3_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of ``s3fs.S3FileSystem`` from the settings."""
    opts: dict[str, Any] = {"use_listings_cache": False}
    client: dict[str, Any] = {}
    if settings.s3_endpoint_url:
        client["endpoint_url"] = settings.s3_endpoint_url
    if settings.s3_region:
        client["region_name"] = settings.s3_region
    if client:
        opts["client_kwargs"] = client
    if settings.s3_access_key_id is not None and settings.s3_secret_access_key is not None:
        opts["key"] = settings.s3_access_key_id.get_secret_value()
        opts["secret"] = settings.s3_secret_access_key.get_secret_value()
    return opts


def configure_object_storage(settings: Settings) -> None:
    """Make ``s3://`` URLs opened anywhere in this process use the deployment's S3 settings."""
    opts = s3_options(settings)
    for protocol in ("s3", "s3a"):
        fsspec.config.conf[protocol] = dict(opts)


def iceberg_properties(settings: Settings) -> dict[str, str]:
    """pyiceberg catalog properties for a lake on object storage (empty for a local lake)."""
    if not is_object_store(settings.resolved_lake_url):
        return {}
    props = {"py-io-impl": _FSSPEC_FILEIO}
    if settings.s3_endpoint_url:
        props["s3.endpoint"] = settings.s3_endpoint_url
    if settings.s3_region:
        props["s3.region"] = settings.s3_region
    if settings.s3_access_key_id is not None and settings.s3_secret_access_key is not None:
        props["s3.access-key-id"] = settings.s3_access_key_id.get_secret_value()
        props["s3.secret-access-key"] = settings.s3_secret_access_key.get_secret_value()
    return props
