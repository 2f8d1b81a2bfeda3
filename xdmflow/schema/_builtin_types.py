"""Standard XDM data types of the global container (see :mod:`xdmflow.schema.builtins`).

Our own compact definitions (descriptions and enum labels are ours); field names, types
and constraints follow adobe/xdm (CC BY 4.0) as documented in xdm.md §4.
"""

from __future__ import annotations

from typing import Any

from xdmflow.schema._dsl import arr, b, defn, i, n, ref, resource, s
from xdmflow.schema.naming import XDM_BASE

Json = dict[str, Any]

AUDITABLE = f"{XDM_BASE}/common/auditable"
CORE = "http://ns.adobe.com/adobecloud/core/1.0"
GEO_COORDINATES = "http://schema.org/GeoCoordinates"
GEO = f"{XDM_BASE}/common/geo"
ADDRESS = f"{XDM_BASE}/common/address"
EMAIL = f"{XDM_BASE}/context/emailaddress"
PHONE = f"{XDM_BASE}/context/phonenumber"
PERSON = f"{XDM_BASE}/context/person"
PERSON_NAME = f"{XDM_BASE}/context/person-name"
IDENTITY_ITEM = f"{XDM_BASE}/context/identityitem"
COMMERCE = f"{XDM_BASE}/context/commerce"
ORDER = f"{XDM_BASE}/data/order"
PAYMENT_ITEM = f"{XDM_BASE}/data/paymentitem"
REFUND_ITEM = f"{XDM_BASE}/data/refunditem"
MEASURE = f"{XDM_BASE}/data/measure"
PRODUCT_LIST_ITEM = f"{XDM_BASE}/content/productlistitem"
PRODUCT_MEASUREMENT = f"{XDM_BASE}/mixins/product-measurement"
DT = f"{XDM_BASE}/datatypes"

_STATUS = "active incomplete pending_verification blacklisted blocked"
_PAY = "cash credit_card debit_card gift_card check paypal wire_transfer credit_card_reference other"
_CCY = "^[A-Z]{3}$"


def _contact_types() -> list[Json]:
    dates = {
        "repo:createDate": s("Create date", fmt="date-time", **{"meta:immutable": True}),
        "repo:modifyDate": s("Modify date", fmt="date-time"),
        "repo:discardDate": s("Discard date", fmt="date-time"),
        "repo:expires": s("Expires", fmt="date-time"),
        "repo:lastPublishedTime": s("Last published time"),
    }
    coords = {
        "coordinatesid": defn({"@id": s("Coordinates ID", fmt="uri-reference")}),
        "description": defn({"schema:description": s("Description")}),
        "latitude": defn({"schema:latitude": n("Latitude", lo=-90, hi=90)}),
        "longitude": defn({"schema:longitude": n("Longitude", lo=-180, hi=180)}),
        "elevation": defn({"schema:elevation": n("Elevation")}),
    }
    geo = {
        "countrycode": defn({"xdm:countryCode": s("Country code", pattern="^[A-Z]{2}$")}),
        "stateprovince": defn(
            {"xdm:stateProvince": s("State or province", pattern="([A-Z]{2}-[A-Z0-9]{1,3}|)")}
        ),
        "city": defn({"xdm:city": s("City")}),
        "postalcode": defn({"xdm:postalCode": s("Postal code")}),
        "dmaid": defn({"xdm:dmaID": i("Designated market area")}),
        "msaid": defn({"xdm:msaID": i("Metropolitan statistical area")}),
    }
    address = {
        "xdm:primary": b("Primary"),
        "xdm:label": s("Label"),
        "xdm:street1": s("Street 1"),
        "xdm:street2": s("Street 2"),
        "xdm:street3": s("Street 3"),
        "xdm:street4": s("Street 4"),
        "xdm:region": s("Region"),
        "xdm:postOfficeBox": s("Post office box", max_len=20),
        "xdm:country": s("Country"),
        "xdm:state": s("State"),
        "xdm:status": s("Status", default="active", soft=_STATUS),
        "xdm:statusReason": s("Status reason"),
        "xdm:lastVerifiedDate": s("Last verified date", fmt="date"),
    }
    email = {
        "xdm:primary": b("Primary"),
        "xdm:address": s("Address", fmt="email"),
        "xdm:label": s("Label"),
        "xdm:type": s("Type", soft="unknown personal work education"),
        "xdm:status": s("Status", default="active", soft=_STATUS),
        "xdm:statusReason": s("Status reason"),
    }
    phone = {
        "xdm:primary": b("Primary"),
        "xdm:countryCode": s("Country Calling Code", min_len=1, max_len=3, pattern="^[0-9]{1,3}?$"),
        "xdm:number": s("Number"),
        "xdm:extension": s("Extension"),
        "xdm:status": s("Status", default="active", soft="active incomplete blacklisted blocked"),
        "xdm:statusReason": s("Status reason"),
        "xdm:validity": s("Validity", soft="consistent inconsistent incomplete successfullyUsed"),
    }
    ext: dict[str, Any] = {"meta_extensible": True}
    return [
        resource(CORE, "datatypes", "Common Properties", "Repository dates (date-properties only).",
                 {"date-properties": defn(dates)}, own=()),
        resource(GEO_COORDINATES, "datatypes", "Geo Coordinates", "A point on Earth.", coords, **ext),
        resource(GEO, "datatypes", "Geo", "A geographic location.", geo, refs_before=(GEO_COORDINATES,),
                 meta_extends=[GEO_COORDINATES], **ext),
        resource(ADDRESS, "datatypes", "Postal address", "A postal address.", {"address": defn(address)},
                 refs_before=(GEO_COORDINATES, GEO, AUDITABLE), meta_extends=[GEO_COORDINATES, GEO]),
        resource(EMAIL, "datatypes", "Email address", "An email address.",
                 {"emailaddress": defn(email)}, **ext),
        resource(PHONE, "datatypes", "Phone number", "A phone number.", {"phonenumber": defn(phone)}, **ext),
    ]  # fmt: skip


def _person_types() -> list[Json]:
    name = {f"xdm:{k}": s(t) for k, t in [("firstName", "First name"), ("lastName", "Last name"),
            ("middleName", "Middle name"), ("courtesyTitle", "Courtesy title"), ("suffix", "Suffix"),
            ("fullName", "Full name")]}  # fmt: skip
    person = {
        "xdm:name": ref(PERSON_NAME, "Full name"),
        "xdm:birthDate": s("Birth date(YYYY-MM-DD)", fmt="date"),
        "xdm:birthDayAndMonth": s("Birth date (MM-DD)", pattern="[0-1][0-9]-[0-9][0-9]"),
        "xdm:birthYear": i("Birth year", lo=1, hi=32767),
        "xdm:gender": s("Gender", enum="male female not_specified non_specific", default="not_specified"),
        "xdm:maritalStatus": s(
            "Marital Status", enum="married single divorced widowed not_specified", default="not_specified"
        ),
        "xdm:nationality": s("Nationality", pattern="^[A-Z]{2}$"),
        "xdm:type": s("Type"),
        "xdm:taxId": s("Tax ID", status="deprecated"),
    }
    ident = {
        "xdm:id": s("Identifier"),
        "xdm:authenticatedState": s(
            "Authenticated state", default="ambiguous", enum="ambiguous authenticated loggedOut"
        ),
        "xdm:primary": b("Primary", default=False),
    }
    ext: dict[str, Any] = {"meta_extensible": True}
    return [
        resource(PERSON_NAME, "datatypes", "Person name", "The name of a person.",
                 {"personname": defn(name)}, **ext),
        resource(PERSON, "datatypes", "Person", "An individual person.", {"person": defn(person)}, **ext),
        resource(IDENTITY_ITEM, "datatypes", "Identity item", "One identity in a namespace.",
                 {"identityitem": defn(ident)}, **ext),
    ]  # fmt: skip


def _commerce_types() -> list[Json]:
    measures = ["cartAbandons", "checkouts", "productListAdds", "productListOpens", "productListRemovals",
                "productListReopens", "productListViews", "productViews", "purchases", "saveForLaters",
                "inStorePurchase", "instantPurchase", "requisitionListOpens", "requisitionListDeletes",
                "requisitionListAdds", "requisitionListRemovals"]  # fmt: skip
    commerce: Json = {f"xdm:{m}": ref(MEASURE) for m in measures}
    commerce.update({
        "xdm:order": ref(ORDER, "Order"), "xdm:promotionID": s("Promotion ID"), "xdm:cart": ref(f"{DT}/cart"),
        "xdm:shipping": ref(f"{DT}/shipping"), "xdm:billing": ref(f"{DT}/billing"),
        "xdm:requisitionList": ref(f"{DT}/requisitionlist", "Requisition List"),
        "xdm:commerceScope": ref(f"{DT}/commercescope", "Scope"),
    })  # fmt: skip
    order = {
        "xdm:purchaseID": s("Purchase ID"),
        "xdm:purchaseOrderNumber": s("Purchase Order Number"),
        "xdm:payments": arr("Payment List", ref(PAYMENT_ITEM)),
        "xdm:refunds": arr("Refunds List", ref(REFUND_ITEM)),
        "xdm:returns": ref(f"{DT}/return", "Return Info"),
        "xdm:currencyCode": s("Currency", pattern=_CCY),
        "xdm:taxAmount": n("Tax Amount"),
        "xdm:discountAmount": n("Discount Amount"),
        "xdm:priceTotal": n("Price Total"),
        "xdm:orderType": s("Order Type", enum="checkout instant_purchase"),
        "xdm:lastUpdatedDate": s("Last Updated Date", fmt="date-time"),
        "xdm:createdDate": s("Created Date", fmt="date-time"),
        "xdm:cancelDate": s("Cancel Date", fmt="date-time"),
        "xdm:refundTotal": n("Total Amount Refunded"),
    }
    payment = {
        "xdm:transactionID": s("Transaction ID"),
        "xdm:paymentAmount": n("Payment Amount"),
        "xdm:paymentType": s("Payment Type", default="other", soft=_PAY),
        "xdm:currencyCode": s("Currency Code", pattern=_CCY),
    }
    refund = {
        "xdm:transactionID": s("Transaction ID"),
        "xdm:refundAmount": n("Refund Amount"),
        "xdm:refundReason": s("Refund Reason", default="other", enum="return price_adjustment"),
        "xdm:refundPaymentType": s("Refund Payment Type", default="other", enum=_PAY),
        "xdm:currencyCode": s("Currency Code", pattern=_CCY),
    }
    return [
        resource(COMMERCE, "datatypes", "Commerce", "Commerce activity.", {"commerce": defn(commerce)},
                 meta_extensible=True),
        resource(ORDER, "datatypes", "Order", "An order.", {"order": defn(order)}),
        resource(PAYMENT_ITEM, "datatypes", "Payment Item", "One payment of an order.",
                 {"paymentitem": defn(payment)}),
        resource(REFUND_ITEM, "datatypes", "Refund Item", "One refund of an order.",
                 {"refunditem": defn(refund)}),
        resource(MEASURE, "datatypes", "Measure", "A quantified measure.",
                 {"measure": defn({"xdm:id": s("Unique Identifier"), "xdm:value": n("Value")})},
                 required=["xdm:value"], meta_extensible=False),
    ]  # fmt: skip


def _product_types() -> list[Json]:
    item = {
        "xdm:SKU": s("SKU"),
        "@id": s("Line item ID.", fmt="uri-reference"),
        "xdm:product": s("Product", fmt="uri"),
        "xdm:name": s("Name"),
        "xdm:productImageUrl": s("Product Image URL"),
        "xdm:productAddMethod": s("Product add method"),
        "xdm:currencyCode": s("Currency code", pattern=_CCY),
        "xdm:quantity": i("Quantity"),
        "xdm:priceTotal": n("Price total"),
        "xdm:selectedOptions": arr("Selected Options", ref("#/definitions/selectedOption")),
        "xdm:discountAmount": n("Discount Amount"),
        "xdm:refundAmount": n("Refund Amount"),
        "xdm:productCategories": arr("Product categories", ref(f"{DT}/categorydata")),
        "xdm:returnItem": ref(f"{DT}/returnitem", "Return Item"),
    }
    option = defn({"xdm:attribute": s("Configurable attribute name"),
                   "xdm:value": s("Selected option value")},
                  ["xdm:attribute", "xdm:value"], title="Selected option", type="object")  # fmt: skip
    qty = ["Requested", "Authorized", "Received", "Approved"]
    ret_item: Json = {"xdm:returnStatus": s("Return Status"), "xdm:returnReason": s("Return Reason"),
                      "xdm:returnItemCondition": s("Return Item Condition"),
                      "xdm:returnResolution": s("Return Resolution")}  # fmt: skip
    ret_item.update({f"xdm:returnQuantity{q}": i(f"Return Quantity {q}") for q in qty})
    ret_item["xdm:returnQuanitityAuthorized"] = i("Return Quantity Authorized", status="deprecated")
    shipping = {
        "xdm:shippingMethod": s("Shipping Method"),
        "xdm:shippingAmount": n("Shipping Amount"),
        "xdm:currencyCode": s("Currency code", pattern=_CCY),
        "xdm:shippingDestination": s("Shipping Destination", enum="home store"),
        "xdm:shipDate": s("Ship Date", fmt="date-time"),
        "xdm:address": ref(ADDRESS, "Shipping Address"),
        "xdm:trackingNumber": n("Tracking Number"),
        "xdm:trackingURL": s("Tracking URL"),
    }

    def simple(rid: str, title: str, dname: str, fields: dict[str, str], **meta: Any) -> Json:
        props = {f"xdm:{k}": s(t) for k, t in fields.items()}
        return resource(rid, "datatypes", title, f"{title} data type.", {dname: defn(props)}, **meta)

    return [
        resource(PRODUCT_LIST_ITEM, "datatypes", "Product list item", "A line of a product list.",
                 {"productlistitem": defn(item, ["xdm:SKU"]), "selectedOption": option},
                 own=("productlistitem",),
                 refs_after=(f"{PRODUCT_MEASUREMENT}#/definitions/uomcode",)),
        simple(f"{DT}/categorydata", "Category data", "categorydata",
               {"categoryID": "Category identifier.", "categoryName": "Category name",
                "categoryPath": "Category path"}, meta_extensible=True),
        resource(f"{DT}/returnitem", "datatypes", "Return Item", "A returned line item.",
                 {"returnitem": defn(ret_item)}),
        simple(f"{DT}/return", "Return", "return",
               {"returnID": "Return ID", "returnStatus": "Return Status", "purchaseID": "Order Purchase ID"}),
        resource(f"{DT}/shipping", "datatypes", "Shipping", "Shipping of an order.",
                 {"shipping": defn(shipping)}),
        resource(f"{DT}/billing", "datatypes", "Billing", "Billing of an order.",
                 {"billing": defn({"xdm:address": ref(ADDRESS, "Billing Address")})},
                 meta_status="experimental"),
        simple(f"{DT}/cart", "Cart", "cart", {"cartID": "Cart ID", "cartSource": "Cart Source"}),
        simple(f"{DT}/requisitionlist", "Requisition List", "requisitionList",
               {"ID": "Requisition List ID", "name": "Requisition List Name",
                "description": "Requisition List Description"}),
        simple(f"{DT}/commercescope", "Commerce Scope", "commerce-scope",
               {"environmentID": "Environment ID", "websiteCode": "Website Code", "storeCode": "Store Code",
                "storeViewCode": "Store View Code"}, meta_extensible=True),
        resource(f"{DT}/currency", "datatypes", "Currency", "An amount of money.",
                 {"currency": defn({"xdm:amount": n("Amount"),
                                    "xdm:currencyCode": s("Currency Code", pattern=_CCY),
                                    "xdm:conversionDate": s("Conversion Date", fmt="date-time")})},
                 meta_extensible=True),
    ]  # fmt: skip


def data_types() -> list[Json]:
    """Every standard data type (and the adobecloud core date fragment)."""
    return _contact_types() + _person_types() + _commerce_types() + _product_types()
