"""Customers and PaymentMethods through the official SDK."""

from __future__ import annotations

import pytest
import stripe


def test_customer_create_retrieve_update_list(client: stripe.StripeClient) -> None:
    cus = client.v1.customers.create(
        params={"email": "ada@example.com", "name": "Ada", "metadata": {"user_id": "u1", "tier": "gold"}}
    )
    assert cus.id.startswith("cus_") and cus.object == "customer"
    assert cus.email == "ada@example.com" and cus.metadata.to_dict() == {"user_id": "u1", "tier": "gold"}
    assert cus.livemode is False

    got = client.v1.customers.retrieve(cus.id)
    assert got.id == cus.id and got.name == "Ada"

    upd = client.v1.customers.update(
        cus.id,
        params={"name": "Ada L.", "metadata": {"tier": "", "extra": "x"}, "address": {"city": "Paris"}},
    )
    assert upd.name == "Ada L."
    assert upd.metadata.to_dict() == {"user_id": "u1", "extra": "x"}  # "" unsets a key
    assert upd.address.city == "Paris" and upd.address.line1 is None
    assert client.v1.customers.retrieve(cus.id).name == "Ada L."

    other = client.v1.customers.create(params={"email": "bob@example.com"})
    listed = client.v1.customers.list()
    assert listed.object == "list" and listed.url == "/v1/customers"
    assert [c.id for c in listed.data] == [other.id, cus.id]  # newest first
    by_email = client.v1.customers.list(params={"email": "bob@example.com"})
    assert [c.id for c in by_email.data] == [other.id]


def test_list_pagination(client: stripe.StripeClient) -> None:
    ids = [client.v1.customers.create(params={"name": f"c{i}"}).id for i in range(5)]
    newest_first = list(reversed(ids))
    page1 = client.v1.customers.list(params={"limit": 2})
    assert [c.id for c in page1.data] == newest_first[:2] and page1.has_more is True
    page2 = client.v1.customers.list(params={"limit": 2, "starting_after": page1.data[-1].id})
    assert [c.id for c in page2.data] == newest_first[2:4] and page2.has_more is True
    page3 = client.v1.customers.list(params={"limit": 2, "starting_after": page2.data[-1].id})
    assert [c.id for c in page3.data] == newest_first[4:] and page3.has_more is False
    back = client.v1.customers.list(params={"limit": 2, "ending_before": page3.data[0].id})
    assert [c.id for c in back.data] == newest_first[2:4]
    # the SDK's auto-pagination walks every page
    assert [c.id for c in client.v1.customers.list(params={"limit": 2}).auto_paging_iter()] == newest_first
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.list(params={"limit": 101})
    assert exc.value.param == "limit"


def test_customer_errors(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.retrieve("cus_nope")
    assert exc.value.http_status == 404 and exc.value.code == "resource_missing"
    assert "No such customer: 'cus_nope'" in str(exc.value.user_message)

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.create(params={"email": "a@b.co", "favourite_color": "blue"})  # type: ignore[typeddict-unknown-key]
    assert exc.value.http_status == 400 and exc.value.code == "parameter_unknown"
    assert exc.value.param == "favourite_color"

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.create(params={"address": {"planet": "Mars"}})  # type: ignore[typeddict-unknown-key]
    assert exc.value.code == "parameter_unknown" and exc.value.param == "address[planet]"

    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.customers.create(params={"email": "not-an-email"})
    assert exc.value.code == "email_invalid"


def test_customer_delete(client: stripe.StripeClient) -> None:
    cus = client.v1.customers.create(params={"name": "gone"})
    deleted = client.v1.customers.delete(cus.id)
    assert deleted.deleted is True
    assert client.v1.customers.retrieve(cus.id).deleted is True
    assert cus.id not in [c.id for c in client.v1.customers.list().data]


@pytest.mark.parametrize(
    ("number", "brand", "last4"),
    [
        ("4242424242424242", "visa", "4242"),
        ("5555555555554444", "mastercard", "4444"),
        ("4000 0025 0000 3155", "visa", "3155"),
        ("378282246310005", "amex", "0005"),
    ],
)
def test_payment_method_from_card_number(
    client: stripe.StripeClient, number: str, brand: str, last4: str
) -> None:
    cvc = "1234" if brand == "amex" else "123"
    pm = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": number, "exp_month": 12, "exp_year": 2034, "cvc": cvc},
            "billing_details": {"name": "Ada", "email": "ada@example.com"},
        }
    )
    assert pm.id.startswith("pm_") and pm.type == "card" and pm.customer is None
    assert pm.card.brand == brand and pm.card.last4 == last4
    assert pm.card.exp_month == 12 and pm.card.exp_year == 2034
    assert pm.card.checks.cvc_check == "pass"
    assert pm.billing_details.name == "Ada"
    assert client.v1.payment_methods.retrieve(pm.id).card.fingerprint == pm.card.fingerprint


def test_payment_method_card_validation(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_methods.create(
            params={"type": "card", "card": {"number": "4242424242424241", "exp_month": 1, "exp_year": 2040}}
        )
    assert exc.value.code == "incorrect_number" and exc.value.http_status == 402
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_methods.create(
            params={"type": "card", "card": {"number": "4242424242424242", "exp_month": 1, "exp_year": 2001}}
        )
    assert exc.value.code == "invalid_expiry_year"
    with pytest.raises(stripe.CardError) as exc:
        client.v1.payment_methods.create(
            params={"type": "card", "card": {"number": "4242424242424242", "exp_month": 13, "exp_year": 2040}}
        )
    assert exc.value.code == "invalid_expiry_month"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_methods.create(params={"type": "card", "card": {"number": "4242424242424242"}})
    assert exc.value.code == "parameter_missing" and exc.value.param == "card[exp_month]"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_methods.create(
            params={
                "type": "card",
                "card": {"number": "4242424242424242", "exp_month": "soon", "exp_year": 2040},
            }  # type: ignore[typeddict-item]
        )
    assert exc.value.code == "parameter_invalid_integer" and exc.value.param == "card[exp_month]"


def test_test_tokens_resolve_to_fresh_payment_methods(client: stripe.StripeClient) -> None:
    cus = client.v1.customers.create()
    first = client.v1.payment_methods.attach("pm_card_visa", params={"customer": cus.id})
    second = client.v1.payment_methods.attach("pm_card_visa", params={"customer": cus.id})
    assert first.id != second.id and first.id.startswith("pm_") and second.id.startswith("pm_")
    assert first.card.last4 == "4242" and first.customer == cus.id
    assert client.v1.payment_methods.retrieve("pm_card_mastercard").card.brand == "mastercard"
    assert client.v1.payment_methods.retrieve("pm_card_amex").card.brand == "amex"


def test_attach_detach_and_list(client: stripe.StripeClient) -> None:
    cus = client.v1.customers.create()
    other = client.v1.customers.create()
    pm = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 5, "exp_year": 2035, "cvc": "314"},
        }
    )
    attached = client.v1.payment_methods.attach(pm.id, params={"customer": cus.id})
    assert attached.customer == cus.id
    # attaching again to the same customer is a no-op, to another customer an error
    assert client.v1.payment_methods.attach(pm.id, params={"customer": cus.id}).customer == cus.id
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_methods.attach(pm.id, params={"customer": other.id})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.payment_methods.attach(pm.id, params={"customer": "cus_missing"})
    assert exc.value.code == "resource_missing" and exc.value.param == "customer"

    mc = client.v1.payment_methods.attach("pm_card_mastercard", params={"customer": cus.id})
    listed = client.v1.payment_methods.list(params={"customer": cus.id, "type": "card"})
    assert [p.id for p in listed.data] == [mc.id, pm.id]
    via_customer = client.v1.customers.payment_methods.list(cus.id, params={"type": "card"})
    assert [p.id for p in via_customer.data] == [mc.id, pm.id]
    assert via_customer.url == f"/v1/customers/{cus.id}/payment_methods"
    assert client.v1.customers.payment_methods.retrieve(cus.id, pm.id).id == pm.id
    assert client.v1.customers.payment_methods.list(other.id).data == []

    cus_upd = client.v1.customers.update(
        cus.id, params={"invoice_settings": {"default_payment_method": pm.id}}
    )
    assert cus_upd.invoice_settings.default_payment_method == pm.id
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.update(other.id, params={"invoice_settings": {"default_payment_method": pm.id}})

    detached = client.v1.payment_methods.detach(pm.id)
    assert detached.customer is None
    assert [p.id for p in client.v1.payment_methods.list(params={"customer": cus.id}).data] == [mc.id]
    assert client.v1.customers.retrieve(cus.id).invoice_settings.default_payment_method is None
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.payment_methods.detach(pm.id)
    with pytest.raises(stripe.InvalidRequestError):  # a detached PaymentMethod cannot be reused
        client.v1.payment_methods.attach(pm.id, params={"customer": other.id})


def test_customer_created_with_payment_method(client: stripe.StripeClient) -> None:
    cus = client.v1.customers.create(
        params={
            "payment_method": "pm_card_visa",
            "invoice_settings": {"default_payment_method": "pm_card_visa"},
        }
    )
    pms = client.v1.customers.payment_methods.list(cus.id).data
    assert len(pms) == 1 and pms[0].customer == cus.id
    assert cus.invoice_settings.default_payment_method == pms[0].id
