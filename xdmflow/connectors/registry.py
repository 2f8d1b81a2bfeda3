"""Connector discovery through the ``xdmflow.connectors`` entry-point group.

Our own connectors are registered in ``pyproject.toml`` exactly as a third-party package
would register its own. Each entry point names a zero-argument factory (usually the
connector class) returning a ``Connector``.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import entry_points

from xdmflow.connectors.base import Connector
from xdmflow.errors import ConfigError, NotFoundError

__all__ = ["ENTRY_POINT_GROUP", "all_connectors", "get_connector"]

ENTRY_POINT_GROUP = "xdmflow.connectors"

log = logging.getLogger(__name__)

#: Entry points that failed to load, with the reason (shown by ``xdmflow connectors list``).
BROKEN: dict[str, str] = {}


@lru_cache(maxsize=1)
def _load() -> dict[str, Connector]:
    found: dict[str, Connector] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            factory = ep.load()
            connector = factory()
        except Exception as exc:  # a broken plugin must not take the service down
            BROKEN[ep.name] = f"{type(exc).__name__}: {exc}"
            log.warning("connector entry point %s (%s) failed to load: %s", ep.name, ep.value, exc)
            continue
        if not isinstance(connector, Connector):
            raise ConfigError(f"entry point {ep.name!r} of {ENTRY_POINT_GROUP} did not produce a Connector")
        spec_id = connector.spec.id
        if spec_id in found:
            raise ConfigError(
                f"two connectors claim connection spec {spec_id}: {found[spec_id].spec.name!r} and "
                f"{connector.spec.name!r} (entry point {ep.name!r}); uninstall one of them"
            )
        found[spec_id] = connector
    return found


def all_connectors() -> list[Connector]:
    """Every installed connector, ordered by spec name."""
    return sorted(_load().values(), key=lambda c: c.spec.name)


def get_connector(spec_id: str) -> Connector:
    """The connector serving ``spec_id``; ``NotFoundError`` (code 1413) when none does."""
    try:
        return _load()[spec_id]
    except KeyError:
        raise NotFoundError(
            f"Connection spec {spec_id} is not valid: no installed connector serves it. "
            "List the available ones with GET /connectionSpecs.",
            code="1413",
            status=400,
        ) from None
