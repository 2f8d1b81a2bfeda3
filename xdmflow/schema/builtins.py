"""The global container: standard XDM behaviors, classes, field groups and data types.

Our own compact definitions of the resources xdmflow ships (xdm.md §3-§5), built with
:mod:`xdmflow.schema._dsl` and served in the registry's raw (``xed``) compatibility-mode
shape: ``$id``, ``meta:altId``, ``meta:resourceType``, ``title``, ``description``,
``definitions`` + ``allOf``, ``meta:*`` and ``version``. Field names are compat names with
``meta:xdmField`` keeping the standard name; ``required`` lists keep standard names, as
the registry shows them.

Deliberate differences from the adobe/xdm files (checked by
``tests/schema/test_builtins_match_originals.py``):

* the JSON-LD ``extensible#/definitions/@context`` guard is not referenced (it is not part
  of compatibility-mode validation, xdm.md §12.2); ``xdm/common/extensible`` is not shipped;
* of ``http://ns.adobe.com/adobecloud/core/1.0`` only ``definitions/date-properties``
  (the ``_repo`` dates used by auditable) is shipped;
* descriptions and ``meta:enum`` labels are our own short texts, not the originals';
* ``auditable`` and ``product-measurement`` are typed as field groups (``mixins``); the
  ``adhoc`` behavior is written from the docs (its file is not in the reference set).
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from xdmflow.schema._builtin_types import (
    ADDRESS,
    AUDITABLE,
    COMMERCE,
    CORE,
    EMAIL,
    IDENTITY_ITEM,
    PERSON,
    PHONE,
    PRODUCT_LIST_ITEM,
    PRODUCT_MEASUREMENT,
    data_types,
)
from xdmflow.schema._dsl import arr, defn, ref, resource, s
from xdmflow.schema.naming import BEHAVIOR_ADHOC, BEHAVIOR_RECORD, BEHAVIOR_TIME_SERIES, XDM_BASE

__all__ = [
    "PROFILE",
    "EXPERIENCE_EVENT",
    "IDENTITY_MAP",
    "PERSON_DETAILS",
    "PERSONAL_DETAILS",
    "COMMERCE_DETAILS",
    "global_resources",
    "global_resource",
]

Json = dict[str, Any]

PROFILE = f"{XDM_BASE}/context/profile"
EXPERIENCE_EVENT = f"{XDM_BASE}/context/experienceevent"
IDENTITY_MAP = f"{XDM_BASE}/context/identitymap"
PERSON_DETAILS = f"{XDM_BASE}/context/profile-person-details"
PERSONAL_DETAILS = f"{XDM_BASE}/context/profile-personal-details"
COMMERCE_DETAILS = f"{XDM_BASE}/context/experienceevent-commerce"


_EVENT_TYPES = """
advertising.completes advertising.timePlayed advertising.federated advertising.clicks advertising.conversions
advertising.firstQuartiles advertising.impressions advertising.midpoints advertising.starts
advertising.thirdQuartiles application.close application.launch web.webpagedetails.pageViews
web.webinteraction.linkClicks web.formFilledOut commerce.checkouts commerce.productListAdds
commerce.productListOpens commerce.productListRemovals commerce.productListReopens commerce.productListViews
commerce.productViews commerce.purchases commerce.saveForLaters commerce.backofficeOrderPlaced
commerce.backofficeOrderCancelled commerce.backofficeOrderItemsShipped commerce.backofficeCreditMemoIssued
commerce.backofficeShipmentCompleted decisioning.propositionDisplay decisioning.propositionInteract
decisioning.propositionSend decisioning.propositionDismiss decisioning.propositionTrigger delivery.feedback
message.feedback message.tracking message.renderingData pushTracking.applicationOpened
pushTracking.customAction listOperation.removeFromList listOperation.addToList leadOperation.scoreChanged
leadOperation.revenueStageChanged leadOperation.statusInCampaignProgressionChanged
leadOperation.interestingMoment leadOperation.newLead leadOperation.convertLead leadOperation.callWebhook
leadOperation.changeEngagementCampaignCadence leadOperation.addToCampaign leadOperation.changeCampaignStream
leadOperation.mergeLeads directMarketing.emailBounced directMarketing.emailBouncedSoft
directMarketing.emailDelivered directMarketing.emailUnsubscribed directMarketing.emailOpened
directMarketing.emailClicked directMarketing.emailSent opportunityEvent.removeFromOpportunity
opportunityEvent.addToOpportunity opportunityEvent.opportunityUpdated inappmessageTracking.dismiss
inappmessageTracking.display inappmessageTracking.interact media.ping media.sessionStart media.play
media.bufferStart media.pauseStart media.chapterStart media.chapterSkip media.chapterComplete media.adStart
media.adSkip media.adComplete media.adBreakStart media.adBreakComplete media.bitrateChange media.error
media.sessionComplete media.sessionEnd media.statesUpdate media.downloaded media.customTracking
location.entry location.exit
"""

_ID = {"@id": s("Identifier", fmt="uri-reference")}


def _behaviors() -> list[Json]:
    ts = {
        **_ID,
        "xdm:timestamp": s("Timestamp", fmt="date-time"),
        "xdm:eventType": s("Event Type", soft=_EVENT_TYPES),
    }
    common: dict[str, Any] = {"meta_abstract": True, "meta_extensible": True}
    return [
        resource(BEHAVIOR_RECORD, "behaviors", "Record Schema", "Record data semantics.",
                 {"record": defn(_ID)}, **common),
        resource(BEHAVIOR_TIME_SERIES, "behaviors", "Time-series Schema", "Time-series data semantics.",
                 {"time-series": defn(ts)}, **common),
        resource(BEHAVIOR_ADHOC, "behaviors", "Ad Hoc Schema", "Fields scoped to a single dataset.",
                 {"adhoc": defn({})}, **common),
    ]  # fmt: skip


def _classes() -> list[Json]:
    ee = {
        "xdm:eventMergeId": s("ExperienceEvent merge ID"),
        "xdm:producedBy": s("Produced By", default="self", soft="self system salesRef customerRep"),
    }
    common: dict[str, Any] = {"meta_abstract": True, "meta_extensible": True}
    return [
        resource(PROFILE, "classes", "XDM Individual Profile", "Attributes of an individual.",
                 {"profile": defn({"xdm:personID": s("Person ID")})},
                 refs_before=(AUDITABLE, BEHAVIOR_RECORD),
                 meta_extends=[BEHAVIOR_RECORD, AUDITABLE], **common),
        resource(EXPERIENCE_EVENT, "classes", "XDM ExperienceEvent", "A time-stamped fact of what occurred.",
                 {"experienceevent": defn(ee)}, refs_before=(IDENTITY_MAP, BEHAVIOR_TIME_SERIES),
                 meta_extends=[BEHAVIOR_TIME_SERIES, IDENTITY_MAP],
                 required=["@id", "xdm:timestamp"], **common),
    ]  # fmt: skip


def _field_groups() -> list[Json]:
    both = [PROFILE, EXPERIENCE_EVENT]
    fg: dict[str, Any] = {"meta_abstract": True, "meta_extensible": True}
    idmap = {
        "type": "object",
        "meta:xdmType": "map",
        "additionalProperties": {"type": "array", "items": ref(IDENTITY_ITEM)},
    }
    personal = {
        "xdm:homeAddress": ref(ADDRESS, "Home Address"),
        "xdm:personalEmail": ref(EMAIL, "Personal Email"),
        "xdm:homePhone": ref(PHONE, "Home Phone"),
        "xdm:mobilePhone": ref(PHONE, "Mobile Phone"),
        "xdm:faxPhone": ref(PHONE, "Fax Phone"),
        "xdm:shippingAddressPhone": ref(PHONE, "Shipping Address Phone"),
        "xdm:billingAddressPhone": ref(PHONE, "Billing Address Phone"),
        "xdm:shippingAddress": ref(ADDRESS, "Shipping Address"),
        "xdm:billingAddress": ref(ADDRESS, "Billing Address"),
        "xdm:mailingAddress": ref(ADDRESS, "Mailing Address"),
    }
    audit = {
        "xdm:repositoryCreatedBy": s("Created by user identifier"),
        "xdm:repositoryLastModifiedBy": s("Modified by user identifier"),
        "xdm:createdByBatchID": s("Created by batch identifier", fmt="uri-reference"),
        "xdm:modifiedByBatchID": s("Modified by batch identifier", fmt="uri-reference"),
    }
    commerce = {
        "xdm:productListItems": arr("Product list items", ref(PRODUCT_LIST_ITEM)),
        "xdm:commerce": ref(COMMERCE, "Commerce"),
    }
    measurement = {
        "xdm:productSize": s("Product Size"),
        "xdm:unitOfMeasureName": s("Product Unit Of Measure Name"),
    }
    return [
        resource(AUDITABLE, "mixins", "Audit trail", "Who and which batch created or changed the record.",
                 {"auditlog": defn(audit)}, refs_after=(f"{CORE}#/definitions/date-properties",),
                 meta_abstract=True),
        resource(IDENTITY_MAP, "mixins", "IdentityMap", "Identities of the record, keyed by namespace code.",
                 {"identitymap": defn({"xdm:identityMap": idmap})}, meta_extensible=True,
                 meta_intendedToExtend=[]),
        resource(PERSON_DETAILS, "mixins", "Demographic Details", "Demographic facts about a person.",
                 {"profile-person-details": defn({"xdm:person": ref(PERSON, "Person")})},
                 meta_intendedToExtend=both, **fg),
        resource(PERSONAL_DETAILS, "mixins", "Personal Contact Details", "Addresses, emails, phones.",
                 {"profile-personal-details": defn(personal)}, meta_intendedToExtend=both, **fg),
        resource(COMMERCE_DETAILS, "mixins", "Commerce Details", "Commerce activity of an event.",
                 {"experienceevent-commerce": defn(commerce)},
                 meta_intendedToExtend=[EXPERIENCE_EVENT], **fg),
        resource(PRODUCT_MEASUREMENT, "mixins", "Product Measurement", "Product size and unit of measure.",
                 {"product-measurement": defn(measurement),
                  "uomcode": defn({"xdm:unitOfMeasureCode": s("Product Unit Of Measure Code")})},
                 meta_intendedToExtend=[f"{XDM_BASE}/classes/product"], **fg),
    ]  # fmt: skip


@lru_cache(maxsize=1)
def _build() -> tuple[dict[str, Json], dict[str, str]]:
    items = _behaviors() + _classes() + _field_groups() + data_types()
    by_id = {r["$id"]: r for r in items}
    by_alt = {r["meta:altId"]: r["$id"] for r in items}
    return by_id, by_alt


def global_resources() -> dict[str, Json]:
    """Every global resource keyed by ``$id`` (a fresh deep copy; callers may mutate it)."""
    return copy.deepcopy(_build()[0])


def global_resource(id_or_alt: str) -> Json | None:
    """One global resource by ``$id`` or ``meta:altId`` (deep copy), ``None`` when unknown."""
    by_id, by_alt = _build()
    rid = by_alt.get(id_or_alt, id_or_alt)
    found = by_id.get(rid)
    return copy.deepcopy(found) if found is not None else None


def _global_index() -> tuple[dict[str, Json], dict[str, str]]:
    """The shared (not copied) index; for read-only use inside this package."""
    return _build()
