"""The flow specs xdmflow serves: ``CRMToAEP`` (tables) and ``CloudStorageToAEP`` (files).

Bodies follow platform-api.md §1.9; their option, schedule, transformation and run specs are
draft-07 JSON Schemas that flow creation validates against.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from xdmflow.errors import NotFoundError
from xdmflow.services.query import parse_list_query

__all__ = ["CRM_TO_AEP", "CLOUD_STORAGE_TO_AEP", "FLOW_SPECS", "get_flow_spec", "list_flow_specs"]

CRM_TO_AEP = "14518937-270c-4525-bdec-c2ba7cce3860"
CLOUD_STORAGE_TO_AEP = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"
DATA_LAKE = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
PROVIDER = "0ed90a81-07f4-4586-8190-b40eccef1c5a"
LOCAL_FILES = "59bfba2a-ae6b-42ff-87cb-fb44f5e66700"

_DRAFT7 = "http://json-schema.org/draft-07/schema#"

_TABLE_SOURCES = [
    "3416976c-a9ca-4bba-901a-1f08f66978ff",
    "38ad80fe-8b06-4938-94f4-d4ee80266b07",
    "d771e9c1-4f26-40dc-8617-ce58c4b53702",
    "3c9b37f8-13a6-43d8-bad3-b863b941fedd",
    "cc6a4487-9e91-433e-a3a3-9cf6626c1806",
    "3000eb99-cd47-43f3-827c-43caf170f015",
    "26d738e0-8963-47ea-aadf-c60de735468a",
    "74a1c565-4e59-48d7-9d67-7c03b8a13137",
    "cfc0fee1-7dc0-40ef-b73e-d8b134c436f5",
    "4f63aa36-bd48-4e33-bb83-49fbcd11c708",
    "cb66ab34-8619-49cb-96d1-39b37ede86ea",
    "eb13cb25-47ab-407f-ba89-c0125281c563",
    "1f372ff9-38a4-4492-96f5-b9a4e4bd00ec",
    "37b6bf40-d318-4655-90be-5cd6f65d334b",
    "a49bcc7d-8038-43af-b1e4-5a7a089a7d79",
    "221c7626-58f6-4eec-8ee2-042b0226f03b",
    "a8b6a1a4-5735-42b4-952c-85dce0ac38b5",
    "6a8d82bc-1caf-45d1-908d-cadabc9d63a6",
    "aac9bbd4-6c01-46ce-b47e-51c6f0f6db3f",
    "8e6b41a8-d998-4545-ad7d-c6a9fff406c3",
    "ecde33f2-c56f-46cc-bdea-ad151c16cd69",
    "102706fb-a5cd-42ee-afe0-bc42f017ff43",
    "09182899-b429-40c9-a15a-bf3ddbc8ced7",
    "0479cc14-7651-4354-b233-7480606c2ac3",
    "d6b52d86-f0f8-475f-89d4-ce54c8527328",
    "a8f4d393-1a6b-43f3-931f-91a16ed857f4",
    "1fe283f6-9bec-11ea-bb37-0242ac130002",
    "fcad62f3-09b0-41d3-be11-449d5a621b69",
    "ea1c2a08-b722-11eb-8529-0242ac130003",
    "35d6c4d8-c9a9-11eb-b8bc-0242ac130003",
    "ff4274f2-c9a9-11eb-b8bc-0242ac130003",
    "ba5126ec-c9ac-11eb-b8bc-0242ac130003",
    "b2e08744-4f1a-40ce-af30-7abac3e23cf3",
    "929e4450-0237-4ed2-9404-b7e1e0a00309",
    "2acf109f-9b66-4d5e-bc18-ebb2adcff8d5",
    "cc2c31d6-7b8c-4581-b49f-5c8698aa3ab3",
    "2fa8af9c-2d1a-43ea-a253-f00a00c74412",
]

_FILE_SOURCES = [
    "b3ba5556-48be-44b7-8b85-ff2b69b46dc4",
    "ecadc60c-7455-4d87-84dc-2a0e293d997b",
    "b7829c2f-2eb0-4f49-a6ee-55e33008b629",
    "4c10e202-c428-4796-9208-5f1f5732b1cf",
    "fb2e94c9-c031-467d-8103-6bd6e0a432f2",
    "32e8f412-cdf7-464c-9885-78184cb113fd",
    "b7bf2577-4520-42c9-bae9-cad01560f7bc",
    "998b8ae3-cec0-43b7-8abe-40b1eb4ee069",
    "be5ec48c-5b78-49d5-b8fa-7c89ec4569b8",
    "54e221aa-d342-4707-bcff-7a4bceef0001",
    "c85f9425-fb21-426c-ad0b-405e9bd8a46c",
    "26f526f2-58f4-4712-961d-e41bf1ccc0e8",
    LOCAL_FILES,
]

_DELTA_COLUMN = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "dateFormat": {"type": "string"},
        "timezone": {"type": "string"},
    },
    "required": ["name"],
}

_OPTION_SPEC = {
    "name": "OptionSpec",
    "spec": {
        "$schema": _DRAFT7,
        "type": "object",
        "properties": {
            "errorDiagnosticsEnabled": {"title": "Error diagnostics.", "type": "boolean", "default": False},
            "partialIngestionPercent": {
                "title": "Partial ingestion threshold.",
                "type": "number",
                "exclusiveMinimum": 0,
            },
            "writeMode": {
                "title": "append keeps every row read; upsert keeps one row per key in its latest state.",
                "type": "string",
                "enum": ["append", "upsert"],
                "default": "append",
            },
            "keyColumns": {
                "title": "Dataset fields identifying a row in upsert mode (default: the table's key).",
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "minItems": 1,
            },
            "changedFiles": {
                "title": "File sources: an ingested file changed in place is read again whole "
                "(reread) or skipped and reported in the run (skip).",
                "type": "string",
                "enum": ["reread", "skip"],
                "default": "reread",
            },
        },
    },
}

_SCHEDULE_SPEC = {
    "name": "PeriodicSchedule",
    "type": "Periodic",
    "spec": {
        "$schema": _DRAFT7,
        "type": "object",
        "properties": {
            "startTime": {"description": "epoch time", "type": "integer"},
            "frequency": {"type": "string", "enum": ["once", "minute", "hour", "day", "week"]},
            "interval": {"type": "integer"},
            "backfill": {"type": "boolean", "default": True},
        },
        "required": ["startTime", "frequency"],
        "if": {"properties": {"frequency": {"const": "once"}}},
        "then": {"allOf": [{"not": {"required": ["interval"]}}, {"not": {"required": ["backfill"]}}]},
        "else": {
            "required": ["interval"],
            "if": {"properties": {"frequency": {"const": "minute"}}},
            "then": {"properties": {"interval": {"minimum": 15}}},
            "else": {"properties": {"interval": {"minimum": 1}}},
        },
    },
}

_MAPPING = {
    "name": "Mapping",
    "spec": {
        "$schema": _DRAFT7,
        "type": "object",
        "description": "defines various params required for different mapping from source to target",
        "properties": {"mappingId": {"type": "string"}, "mappingVersion": {"type": "string"}},
    },
}

_COPY = {
    "name": "Copy",
    "spec": {
        "$schema": _DRAFT7,
        "type": "object",
        "properties": {"deltaColumn": _DELTA_COLUMN},
        "required": ["deltaColumn"],
    },
}

_PERMISSIONS = {
    "view": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["read"]}],
    "manage": [{"@type": "lowLevel", "name": "EnterpriseSource", "permissions": ["write"]}],
}


def _spec(
    spec_id: str,
    name: str,
    sources: list[str],
    transformations: list[dict[str, Any]],
    run_required: list[str],
) -> dict[str, Any]:
    run_props: dict[str, Any] = {
        "startTime": {"type": "integer"},
        "windowStartTime": {"type": "integer"},
        "windowEndTime": {"type": "integer"},
    }
    if "deltaColumn" in run_required:
        run_props["deltaColumn"] = _DELTA_COLUMN
    return {
        "id": spec_id,
        "name": name,
        "providerId": PROVIDER,
        "version": "1.0",
        "attributes": {
            "isSourceFlow": True,
            "flacValidationSupported": True,
            "frequency": "batch",
            "notification": {"category": "sources", "flowRun": {"enabled": True}},
        },
        "sourceConnectionSpecIds": sources,
        "targetConnectionSpecIds": [DATA_LAKE],
        "permissionsInfo": _PERMISSIONS,
        "optionSpec": _OPTION_SPEC,
        "scheduleSpec": _SCHEDULE_SPEC,
        "transformationSpec": transformations,
        "transformationSpecs": transformations,
        "runSpec": {
            "name": "ProviderParams",
            "spec": {"$schema": _DRAFT7, "type": "object", "properties": run_props, "required": run_required},
        },
    }


FLOW_SPECS: dict[str, dict[str, Any]] = {
    CRM_TO_AEP: _spec(
        CRM_TO_AEP,
        "CRMToAEP",
        _TABLE_SOURCES,
        [_COPY, _MAPPING],
        ["startTime", "windowStartTime", "windowEndTime", "deltaColumn"],
    ),
    CLOUD_STORAGE_TO_AEP: _spec(
        CLOUD_STORAGE_TO_AEP,
        "CloudStorageToAEP",
        _FILE_SOURCES,
        [_MAPPING],
        ["startTime", "windowStartTime", "windowEndTime"],
    ),
}


def get_flow_spec(spec_id: str) -> dict[str, Any]:
    try:
        return copy.deepcopy(FLOW_SPECS[spec_id])
    except KeyError:
        raise NotFoundError(
            f"The requested flowSpecs resource {spec_id} is not found. Verify the resource ID before "
            "trying again; list them with GET /flowSpecs.",
            resource_type="flowSpecs",
            resource_id=spec_id,
            code="1101",
        ) from None


def list_flow_specs(params: Sequence[tuple[str, str]]) -> dict[str, Any]:
    q = parse_list_query(params, allow_paging=False)
    return {"items": q.apply([copy.deepcopy(s) for s in FLOW_SPECS.values()])}
