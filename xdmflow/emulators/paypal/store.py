"""The emulator's mutable state: a sorted transaction index, status flips and rendering."""

from __future__ import annotations

import bisect
import random
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from xdmflow.emulators.paypal.data import CURRENCY_DECIMALS, Dataset, Txn, format_money, new_transaction_id

__all__ = ["TransactionStore", "render_time", "render_transaction", "SECTIONS"]

SECTIONS = (
    "transaction_info",
    "payer_info",
    "shipping_info",
    "cart_info",
    "store_info",
    "auction_info",
    "incentive_info",
)

_EDITABLE = {
    "status": str,
    "initiation": int,
    "updated": int,
    "currency": str,
    "amount": int,
    "fee": int,
    "balance_affecting": bool,
    "reference_id": str,
    "reference_type": str,
    "invoice_id": str,
    "custom_field": str,
    "subject": str,
    "payer": int,
}


def render_time(epoch: int) -> str:
    """PayPal's reporting date format: ``2014-07-11T04:03:52+0000``."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(epoch))


def _money(minor: int, currency: str) -> dict[str, str]:
    return {"currency_code": currency, "value": format_money(minor, currency)}


class TransactionStore:
    """Transactions sorted by (initiation, id, event code) with an index by (id, event code)."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset = dataset
        self._lock = threading.RLock()
        self._rng = random.Random(seed + 7919)
        self._taken = {t.transaction_id for t in dataset.transactions}
        self._by_key: dict[tuple[str, str], Txn] = {}
        self._order: list[tuple[int, str, str]] = []
        self._rows: list[Txn] = []
        for txn in sorted(dataset.transactions, key=lambda t: (t.initiation, *t.key)):
            self._by_key[txn.key] = txn
            self._order.append((txn.initiation, *txn.key))
            self._rows.append(txn)
        self._flips = list(dataset.pending_flips)

    def __len__(self) -> int:
        return len(self._rows)

    def apply_flips(self, now: int) -> int:
        """Pending rows whose flip time has passed become ``S`` (updated date = flip time)."""
        applied = 0
        with self._lock:
            while self._flips and self._flips[0][0] <= now:
                when, tid, code = self._flips.pop(0)
                txn = self._by_key.get((tid, code))
                if txn is not None and txn.status == "P":
                    txn.status, txn.updated = "S", when
                    applied += 1
        return applied

    def search(self, start: int, end: int, *, balance_only: bool, filters: Mapping[str, str]) -> list[Txn]:
        """Rows with ``start <= initiation <= end`` matching the filters, in index order."""
        with self._lock:
            lo = bisect.bisect_left(self._order, (start, "", ""))
            hi = bisect.bisect_right(self._order, (end, "\U0010ffff", ""))
            rows = self._rows[lo:hi]
        if balance_only:
            rows = [t for t in rows if t.balance_affecting]
        if tid := filters.get("transaction_id"):
            rows = [t for t in rows if t.transaction_id == tid]
        if code := filters.get("transaction_type"):
            rows = [t for t in rows if t.event_code == code]
        if status := filters.get("transaction_status"):
            rows = [t for t in rows if t.status == status]
        if currency := filters.get("transaction_currency"):
            rows = [t for t in rows if t.currency == currency]
        return rows

    def upsert(self, changes: Mapping[str, Any], now: int) -> Txn:
        """Add a row or change one (admin API); a change without ``updated`` stamps ``now``.

        ``changes`` uses the :class:`Txn` field names (``transaction_id``, ``event_code``,
        ``initiation``/``updated`` as epoch seconds, ``amount``/``fee`` in minor units...).
        """
        unknown = set(changes) - set(_EDITABLE) - {"transaction_id", "event_code"}
        if unknown:
            raise ValueError(f"unknown transaction fields: {', '.join(sorted(unknown))}")
        with self._lock:
            code = str(changes.get("event_code") or "T0006")
            tid = changes.get("transaction_id")
            txn = self._by_key.get((str(tid), code)) if tid else None
            if txn is None:
                txn = self._new(str(tid) if tid else None, code, changes, now)
                self._insert(txn)
                return txn
            if "initiation" in changes and int(changes["initiation"]) != txn.initiation:
                self._remove(txn)
                txn.initiation = int(changes["initiation"])
                self._insert(txn)
            for name, kind in _EDITABLE.items():
                if name in changes and name != "initiation":
                    setattr(txn, name, None if changes[name] is None else kind(changes[name]))
            if "updated" not in changes:
                txn.updated = max(now, txn.initiation)
            return txn

    def _new(self, tid: str | None, code: str, changes: Mapping[str, Any], now: int) -> Txn:
        if tid is None:
            tid = new_transaction_id(self._rng, self._taken)
        self._taken.add(tid)
        currency = str(changes.get("currency", "USD"))
        if currency not in CURRENCY_DECIMALS:
            raise ValueError(f"unsupported currency {currency!r}")
        amount = int(changes.get("amount", 1999))
        init = int(changes.get("initiation", now))
        txn = Txn(
            tid,
            code,
            init,
            max(init, int(changes.get("updated", init))),
            "S",
            currency,
            amount,
            -(round(abs(amount) * 0.029) + 30),
            payer=0,
        )
        for name, kind in _EDITABLE.items():
            if name in changes and name not in ("initiation", "updated"):
                setattr(txn, name, None if changes[name] is None else kind(changes[name]))
        return txn

    def _insert(self, txn: Txn) -> None:
        pos = bisect.bisect_left(self._order, (txn.initiation, *txn.key))
        self._order.insert(pos, (txn.initiation, *txn.key))
        self._rows.insert(pos, txn)
        self._by_key[txn.key] = txn

    def _remove(self, txn: Txn) -> None:
        pos = bisect.bisect_left(self._order, (txn.initiation, *txn.key))
        del self._order[pos]
        del self._rows[pos]

    def balances(self, as_of: int) -> dict[str, tuple[int, int]]:
        """Per currency: (total, withheld) as of ``as_of``."""
        totals = dict(self.dataset.opening_balances)
        withheld = dict.fromkeys(totals, 0)
        with self._lock:
            hi = bisect.bisect_right(self._order, (as_of, "\U0010ffff", ""))
            rows = self._rows[:hi]
        for t in rows:
            if not t.balance_affecting or t.status == "D":
                continue
            if t.status == "P":
                withheld[t.currency] = withheld.get(t.currency, 0) + t.amount
            totals[t.currency] = totals.get(t.currency, 0) + t.amount + t.fee
        return {c: (totals[c], withheld.get(c, 0)) for c in totals}


def render_transaction(
    t: Txn, sections: Iterable[str], payers: list[dict[str, Any]], products: list[dict[str, Any]]
) -> dict[str, Any]:
    """One ``transaction_detail``; sections not asked for come back as ``{}``."""
    wanted = set(sections)
    out: dict[str, Any] = {s: {} for s in SECTIONS}
    info: dict[str, Any] = {
        "transaction_id": t.transaction_id,
        "transaction_event_code": t.event_code,
        "transaction_initiation_date": render_time(t.initiation),
        "transaction_updated_date": render_time(t.updated),
        "transaction_amount": _money(t.amount, t.currency),
        "fee_amount": _money(t.fee, t.currency),
        "transaction_status": t.status,
        "protection_eligibility": "01" if t.amount > 0 else "02",
        "instrument_type": t.instrument,
    }
    payer = payers[t.payer] if 0 <= t.payer < len(payers) else None
    if payer:
        info["paypal_account_id"] = payer["account_id"]
    optional = {
        "paypal_reference_id": t.reference_id,
        "paypal_reference_id_type": t.reference_type,
        "invoice_id": t.invoice_id,
        "custom_field": t.custom_field,
        "transaction_subject": t.subject,
    }
    info.update({k: v for k, v in optional.items() if v is not None})
    if t.shipping:
        info["shipping_amount"] = _money(t.shipping, t.currency)
    out["transaction_info"] = info
    if "payer_info" in wanted and payer:
        out["payer_info"] = {
            "account_id": payer["account_id"],
            "email_address": payer["email"],
            "address_status": "Y",
            "payer_status": payer["payer_status"],
            "payer_name": {
                "given_name": payer["given_name"],
                "surname": payer["surname"],
                "alternate_full_name": f"{payer['given_name']} {payer['surname']}",
            },
            "country_code": payer["country_code"],
        }
    if "shipping_info" in wanted and payer and t.items:
        out["shipping_info"] = {
            "name": f"{payer['given_name']}, {payer['surname']}",
            "address": {
                "line1": "1 Main St",
                "city": payer["city"],
                "country_code": payer["country_code"],
                "postal_code": payer["postal_code"],
            },
        }
    if "cart_info" in wanted and t.items:
        out["cart_info"] = {"item_details": _items(t, products)}
    return {s: (out[s] if s in wanted else {}) for s in SECTIONS}


def _items(t: Txn, products: list[dict[str, Any]]) -> list[dict[str, Any]]:
    share, rest = divmod(t.amount, len(t.items))
    details = []
    for n, (idx, qty) in enumerate(t.items):
        product = products[idx % len(products)]
        details.append(
            {
                "item_code": product["id"],
                "item_name": product["name"],
                "item_quantity": str(qty),
                "item_amount": _money(share + (rest if n == 0 else 0), t.currency),
            }
        )
    return details
