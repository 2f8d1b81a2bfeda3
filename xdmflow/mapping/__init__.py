"""Data Prep mapping: mapping-set model, expression language, compiler and vectorised engine.

Typical use::

    mappings = normalize_mappings(body)                 # both request dialects
    plan = compile_mapping(mappings, target_schema, source_arrow_schema)
    result = apply(plan, record_batch)                  # result.good / result.rejects
"""

from xdmflow.mapping.engine import MappedBatch, Reject, apply
from xdmflow.mapping.function_catalog import functions_catalog, operators_catalog, validate_expression
from xdmflow.mapping.model import (
    Mapping,
    normalize_mapping,
    normalize_mappings,
    render_request_mapping,
    render_stored_mapping,
    render_stored_mappings,
)
from xdmflow.mapping.parser import ExpressionSyntaxError, parse_expression
from xdmflow.mapping.plan import CompiledMapping, IdentitySpec, MappingPlan, compile_mapping

__all__ = [
    "Mapping",
    "normalize_mapping",
    "normalize_mappings",
    "render_request_mapping",
    "render_stored_mapping",
    "render_stored_mappings",
    "ExpressionSyntaxError",
    "parse_expression",
    "CompiledMapping",
    "IdentitySpec",
    "MappingPlan",
    "compile_mapping",
    "MappedBatch",
    "Reject",
    "apply",
    "functions_catalog",
    "operators_catalog",
    "validate_expression",
]
