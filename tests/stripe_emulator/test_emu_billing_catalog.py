"""Products and Prices: create, update, retrieve, list, and Stripe's errors for bad input."""

from __future__ import annotations

import pytest
import stripe

from .billing import event_types, events


def test_product_create_update_retrieve_list(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Monthly Flow", "metadata": {"plan_id": "p-1"}})
    assert product.id.startswith("prod_") and product.object == "product"
    assert product.name == "Monthly Flow" and product.active is True and product.default_price is None
    assert product.metadata.to_dict() == {"plan_id": "p-1"} and product.updated == product.created

    updated = client.v1.products.update(
        product.id, params={"name": "Monthly Flow+", "active": False, "metadata": {"tier": "gold"}}
    )
    assert updated.name == "Monthly Flow+" and updated.active is False
    assert updated.metadata.to_dict() == {"plan_id": "p-1", "tier": "gold"}
    assert client.v1.products.retrieve(product.id).name == "Monthly Flow+"

    other = client.v1.products.create(params={"name": "Yearly Flow"})
    assert [p.id for p in client.v1.products.list().data] == [other.id, product.id]
    assert [p.id for p in client.v1.products.list(params={"active": False}).data] == [product.id]
    assert [p.id for p in client.v1.products.list(params={"active": True}).data] == [other.id]

    assert event_types(client) == ["product.created", "product.updated", "product.created"]
    change = events(client, "product.updated")[0]
    assert change.data.previous_attributes.to_dict()["name"] == "Monthly Flow"
    assert change.data.previous_attributes.to_dict()["active"] is True
    assert change.data.previous_attributes.to_dict()["metadata"] == {"plan_id": "p-1"}


def test_product_errors(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.products.create(params={"metadata": {"a": "b"}})
    assert (
        exc.value.http_status == 400 and exc.value.code == "parameter_missing" and exc.value.param == "name"
    )
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.products.retrieve("prod_missing")
    assert exc.value.http_status == 404 and exc.value.code == "resource_missing"
    assert "No such product: 'prod_missing'" in str(exc.value.user_message)
    product = client.v1.products.create(params={"name": "Plan"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.products.update(product.id, params={"name": ""})
    assert exc.value.param == "name" and "cannot be unset" in str(exc.value.user_message)
    client.v1.prices.create(params={"product": product.id, "currency": "usd", "unit_amount": 100})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.products.delete(product.id)
    assert "has one or more user-created prices" in str(exc.value.user_message)
    bare = client.v1.products.create(params={"name": "Bare"})
    assert client.v1.products.delete(bare.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.products.retrieve(bare.id)


def test_price_create_update_retrieve_list(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "Monthly Flow"})
    monthly = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "USD",
            "unit_amount": 30000,
            "recurring": {"interval": "month"},
            "metadata": {"plan_id": "p-1"},
        }
    )
    assert monthly.id.startswith("price_") and monthly.currency == "usd" and monthly.unit_amount == 30000
    assert monthly.type == "recurring" and monthly.product == product.id and monthly.active is True
    assert monthly.recurring.interval == "month" and monthly.recurring.interval_count == 1
    assert monthly.recurring.usage_type == "licensed" and monthly.unit_amount_decimal == 30000
    yearly = client.v1.prices.create(
        params={
            "product": product.id,
            "currency": "jpy",
            "unit_amount": 36000,
            "recurring": {"interval": "year"},
        }
    )
    other_product = client.v1.products.create(params={"name": "Other"})
    elsewhere = client.v1.prices.create(
        params={
            "product": other_product.id,
            "currency": "eur",
            "unit_amount": 0,
            "recurring": {"interval": "month"},
        }
    )
    assert elsewhere.unit_amount == 0  # a free price is allowed

    archived = client.v1.prices.update(monthly.id, params={"active": False})
    assert archived.active is False
    assert client.v1.prices.retrieve(monthly.id).active is False
    assert (
        client.v1.prices.retrieve(monthly.id, params={"expand": ["product"]}).product.name == "Monthly Flow"
    )

    of_product = client.v1.prices.list(params={"product": product.id})
    assert [p.id for p in of_product.data] == [yearly.id, monthly.id]
    assert [p.id for p in client.v1.prices.list(params={"product": product.id, "active": True}).data] == [
        yearly.id
    ]
    assert [p.id for p in client.v1.prices.list(params={"active": False}).data] == [monthly.id]
    assert len(client.v1.prices.list().data) == 3
    assert event_types(client, "price.*") == ["price.created"] * 3 + ["price.updated"]
    assert events(client, "price.updated")[0].data.previous_attributes.to_dict() == {"active": True}


def test_product_with_default_price_data(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(
        params={
            "name": "Monthly Flow",
            "default_price_data": {
                "currency": "usd",
                "unit_amount": 30000,
                "recurring": {"interval": "month"},
            },
            "expand": ["default_price"],
        }
    )
    assert product.default_price.unit_amount == 30000 and product.default_price.product == product.id
    assert event_types(client) == ["product.created", "price.created"]


@pytest.mark.parametrize(
    ("params", "param", "code", "status", "message"),
    [
        (
            {"currency": "xyz", "unit_amount": 100},
            "currency",
            None,
            400,
            "Invalid currency: xyz. Stripe currently supports these currencies: usd, ",
        ),
        ({"unit_amount": 100}, "currency", "parameter_missing", 400, "Missing required param: currency."),
        (
            {"currency": "usd", "unit_amount": 100, "recurring": {"interval_count": 2}},
            "recurring[interval]",
            "parameter_missing",
            400,
            "Missing required param: recurring[interval].",
        ),
        (
            {"currency": "usd", "unit_amount": 100, "recurring": {"interval": "fortnight"}},
            "recurring[interval]",
            None,
            400,
            "Invalid recurring[interval]",
        ),
        (
            {"currency": "usd", "unit_amount": 100, "recurring": {"interval": "month", "interval_count": 37}},
            "recurring[interval_count]",
            None,
            400,
            "maximum billing interval is 3 years",
        ),
        (
            {"currency": "usd"},
            "unit_amount",
            "parameter_missing",
            400,
            "Missing required param: unit_amount.",
        ),
        (
            {"currency": "usd", "unit_amount": -1},
            "unit_amount",
            "parameter_invalid_integer",
            400,
            "greater than or equal to 0",
        ),
        (
            {"currency": "kwd", "unit_amount": 1005},
            "unit_amount",
            "invalid_charge_amount",
            400,
            "three-decimal currency",
        ),
        (
            {"currency": "usd", "unit_amount": 100_000_000},
            "unit_amount",
            "amount_too_large",
            400,
            "Amount must be no more than $999999.99 usd",
        ),
    ],
)
def test_price_bad_input(
    client: stripe.StripeClient,
    params: dict[str, object],
    param: str,
    code: str | None,
    status: int,
    message: str,
) -> None:
    product = client.v1.products.create(params={"name": "Plan"})
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.prices.create(params={"product": product.id, **params})
    assert exc.value.http_status == status and exc.value.param == param and exc.value.code == code
    assert message in str(exc.value.user_message)
    assert client.v1.prices.list().data == []


def test_price_of_unknown_product(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.prices.create(params={"product": "prod_nope", "currency": "usd", "unit_amount": 100})
    assert (
        exc.value.http_status == 400 and exc.value.code == "resource_missing" and exc.value.param == "product"
    )
    assert str(exc.value.user_message) == "No such product: 'prod_nope'"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.prices.create(params={"currency": "usd", "unit_amount": 100})
    assert exc.value.code == "parameter_missing" and exc.value.param == "product"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.prices.retrieve("price_nope")
    assert exc.value.http_status == 404 and str(exc.value.user_message) == "No such price: 'price_nope'"
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.prices.update("price_nope", params={"active": False})
    assert exc.value.http_status == 404


def test_price_with_product_data_and_lookup_keys(client: stripe.StripeClient) -> None:
    price = client.v1.prices.create(
        params={
            "currency": "eur",
            "unit_amount": 990,
            "product_data": {"name": "Inline"},
            "lookup_key": "flow-monthly",
        }
    )
    assert client.v1.products.retrieve(price.product).name == "Inline"
    assert client.v1.prices.list(params={"lookup_keys": ["flow-monthly"]}).data[0].id == price.id
    with pytest.raises(stripe.InvalidRequestError) as exc:
        client.v1.prices.create(
            params={
                "currency": "eur",
                "unit_amount": 1990,
                "product": price.product,
                "lookup_key": "flow-monthly",
            }
        )
    assert exc.value.param == "lookup_key" and price.id in str(exc.value.user_message)
    moved = client.v1.prices.create(
        params={
            "currency": "eur",
            "unit_amount": 1990,
            "product": price.product,
            "lookup_key": "flow-monthly",
            "transfer_lookup_key": True,
        }
    )
    assert client.v1.prices.retrieve(price.id).lookup_key is None
    assert client.v1.prices.list(params={"lookup_keys": ["flow-monthly"]}).data[0].id == moved.id
