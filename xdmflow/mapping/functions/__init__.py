"""The expression-language function library; importing it fills :data:`REGISTRY`."""

from xdmflow.mapping.functions import arrays, collections, dates, hashing_urls, logic, strings
from xdmflow.mapping.functions._base import REGISTRY, EvalContext, FunctionSpec, Param, lookup

__all__ = [
    "REGISTRY",
    "EvalContext",
    "FunctionSpec",
    "Param",
    "lookup",
    "arrays",
    "collections",
    "dates",
    "hashing_urls",
    "logic",
    "strings",
]
