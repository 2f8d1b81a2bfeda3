"""The Stripe emulator's object store: resources kept in (created, id) order, events, clock.

Objects are plain dicts in Stripe's JSON shape. Each resource keeps its objects sorted by
``(created, id)`` so a list page is a bisect plus a short scan, even with a million charges.
Every change goes through :meth:`Store.put` / :meth:`Store.update`, which record the matching
event (``data.object`` = the state after the change, ``previous_attributes`` = the changed
fields before it).
"""

from __future__ import annotations

import bisect
import copy
import random
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RESOURCES", "Store", "Resource", "ALPHABET", "EVENT_WINDOW"]

ALPHABET = string.ascii_letters + string.digits
#: Events are listed (and retrievable) for 30 days.
EVENT_WINDOW = 30 * 86_400

#: resource name -> (object type, id prefix, event prefix)
RESOURCES: dict[str, tuple[str, str, str]] = {
    "charges": ("charge", "ch_", "charge"),
    "refunds": ("refund", "re_", "refund"),
    "customers": ("customer", "cus_", "customer"),
    "payment_intents": ("payment_intent", "pi_", "payment_intent"),
    "invoices": ("invoice", "in_", "invoice"),
    "subscriptions": ("subscription", "sub_", "customer.subscription"),
    "balance_transactions": ("balance_transaction", "txn_", "balance_transaction"),
    "disputes": ("dispute", "dp_", "charge.dispute"),
    "payouts": ("payout", "po_", "payout"),
    "products": ("product", "prod_", "product"),
    "prices": ("price", "price_", "price"),
    "events": ("event", "evt_", "event"),
}


@dataclass
class Resource:
    """One resource's objects, ordered by ``(created, id)``."""

    name: str
    keys: list[tuple[int, str]] = field(default_factory=list)
    by_id: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)

    def add(self, obj: dict[str, Any]) -> None:
        key = (int(obj["created"]), str(obj["id"]))
        if obj["id"] in self.by_id:
            raise ValueError(f"{obj['id']} exists")
        if not self.keys or key > self.keys[-1]:
            self.keys.append(key)
        else:
            bisect.insort(self.keys, key)
        self.by_id[obj["id"]] = obj

    def extend(self, ids: list[str], created: list[int], objs: list[dict[str, Any]]) -> None:
        """Add many new objects at once (``ids``/``created`` are theirs, in the same order): one
        dict update and one sort of the index instead of an insert each."""
        before = len(self.by_id)
        self.by_id.update(zip(ids, objs, strict=True))
        if len(self.by_id) != before + len(ids):
            raise ValueError("bulk objects repeat an id or reuse an existing one")
        self.keys.extend(zip(created, ids, strict=True))
        self.keys.sort()  # sorted runs: a linear merge

    def count(self) -> int:
        """Live (not deleted) objects."""
        return len(self.by_id) - len(self.deleted)


class Store:
    """All resources plus the event log, the movable clock and a deterministic id source."""

    def __init__(self, seed: int, now: int, api_version: str) -> None:
        self.rng = random.Random(seed)
        self._ids = random.Random(seed ^ 0x5EED)
        self._frozen: int | None = int(now)
        self._offset = 0.0
        self.api_version = api_version
        self.lock = threading.RLock()
        self.resources = {name: Resource(name) for name in RESOURCES}
        self._request_n = 0
        #: called with the new time whenever the clock is moved (balance transactions settle)
        self.on_clock: list[Callable[[int], object]] = []

    # -- clock and ids -------------------------------------------------------------------------

    @property
    def now_value(self) -> int:
        """The emulator's clock (Unix seconds): frozen, or real time plus an offset when ticking."""
        if self._frozen is not None:
            return self._frozen
        return int(time.time() + self._offset)

    @now_value.setter
    def now_value(self, value: int) -> None:
        if self._frozen is not None:
            self._frozen = int(value)
        else:
            self._offset = int(value) - time.time()
        for hook in self.on_clock:
            hook(int(value))

    def set_ticking(self, ticking: bool) -> None:
        """Ticking: the clock follows real time from its current value; else it stays put."""
        with self.lock:
            value = self.now_value
            if ticking:
                self._frozen = None
                self._offset = value - time.time()
            else:
                self._frozen = value

    def now(self) -> int:
        return self.now_value

    def advance(self, seconds: int) -> int:
        with self.lock:
            self.now_value += int(seconds)
            return self.now_value

    def new_id(self, prefix: str) -> str:
        return prefix + "".join(self._ids.choices(ALPHABET, k=24))

    def request_id(self) -> str:
        with self.lock:
            self._request_n += 1
            return "req_" + "".join(random.Random(self._request_n).choices(ALPHABET, k=14))

    # -- writes --------------------------------------------------------------------------------

    def put(self, resource: str, obj: dict[str, Any], *, event: str | None = "created") -> dict[str, Any]:
        """Add a new object (``id`` and ``created`` filled in when missing) and its event."""
        otype, prefix, eprefix = RESOURCES[resource]
        with self.lock:
            obj.setdefault("id", self.new_id(prefix))
            obj.setdefault("object", otype)
            obj.setdefault("created", self.now())
            obj.setdefault("livemode", False)
            self.resources[resource].add(obj)
            if event:
                self.event(f"{eprefix}.{event}", obj, created=int(obj["created"]))
            return obj

    def update(
        self, resource: str, obj_id: str, changes: dict[str, Any], event: str | None = "updated"
    ) -> dict[str, Any]:
        """Change fields of an object and record ``<prefix>.<event>`` with ``previous_attributes``."""
        _, _, eprefix = RESOURCES[resource]
        with self.lock:
            obj = self.get(resource, obj_id)
            if obj is None:
                raise KeyError(obj_id)
            previous = {k: copy.deepcopy(obj.get(k)) for k in changes if obj.get(k) != changes[k]}
            obj.update(changes)
            if event and previous:
                self.event(f"{eprefix}.{event}", obj, previous=previous)
            return obj

    def delete(self, resource: str, obj_id: str) -> dict[str, Any]:
        """Delete an object: lists skip it, retrieve answers ``{id, object, deleted: true}``."""
        _, _, eprefix = RESOURCES[resource]
        with self.lock:
            obj = self.get(resource, obj_id)
            if obj is None:
                raise KeyError(obj_id)
            self.resources[resource].deleted.add(obj_id)
            self.event(f"{eprefix}.deleted", {**obj, "deleted": True})
            return {"id": obj_id, "object": obj["object"], "deleted": True}

    def event(
        self,
        etype: str,
        obj: dict[str, Any],
        *,
        previous: dict[str, Any] | None = None,
        created: int | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = previous
        evt = {
            "id": self.new_id("evt_"),
            "object": "event",
            "api_version": self.api_version,
            "created": self.now() if created is None else created,
            "data": data,
            "livemode": False,
            "pending_webhooks": 0,
            "request": {"id": None, "idempotency_key": None},
            "type": etype,
        }
        self.resources["events"].add(evt)
        return evt

    # -- reads ---------------------------------------------------------------------------------

    def get(self, resource: str, obj_id: str) -> dict[str, Any] | None:
        return self.resources[resource].by_id.get(obj_id)

    def is_deleted(self, resource: str, obj_id: str) -> bool:
        return obj_id in self.resources[resource].deleted

    def all(self, resource: str) -> list[dict[str, Any]]:
        """Live (not deleted) objects, oldest first."""
        res = self.resources[resource]
        return [res.by_id[i] for _, i in res.keys if i not in res.deleted]
