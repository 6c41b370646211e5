"""push_catalog: the host's practitioners and services into the checkout catalog by external_id."""

from __future__ import annotations

import io
from typing import Any

import httpx
from django.core.management import call_command

from marketplace.catalog_push import CheckoutAdmin, push_catalog
from marketplace.models import Service
from tests.conftest import ALL_DAY, API, HostCatalog, Stack, admin_headers, make_host_catalog, unique


def _admin(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.url, headers=admin_headers(), timeout=30)


def _outcomes(stack: Stack) -> dict[str, tuple[str, int]]:
    with _admin(stack) as http:
        report = push_catalog(CheckoutAdmin(http))
    return {external_id: (outcome, checkout_id) for _kind, external_id, outcome, checkout_id in report.rows}


def test_push_creates_each_row_with_its_references(stack: Stack) -> None:
    catalog = make_host_catalog()
    out = io.StringIO()
    call_command("push_catalog", base_url=stack.url, stdout=out)
    rows = {
        line.split()[1]: line.split()[2]
        for line in out.getvalue().splitlines()
        if line.split()[:1] in (["service"], ["practitioner"])
    }
    for row in (
        catalog.practitioner,
        catalog.session,
        catalog.bundle,
        catalog.package,
        catalog.optional_child,
    ):
        assert rows[row.external_id] == "created"
        row.refresh_from_db()
    with _admin(stack) as http:
        p = http.get(f"{API}/admin/practitioners/{catalog.practitioner.checkout_id}").json()
        assert (p["external_id"], p["name"], p["timezone"]) == (
            catalog.practitioner.external_id,
            "Ana Ruiz",
            "UTC",
        )
        assert len(p["availability"]) == 7
        bundle = http.get(f"{API}/admin/services/{catalog.bundle.checkout_id}").json()
        assert bundle["practitioner_id"] == catalog.practitioner.checkout_id
        assert bundle["bundle"] == {
            "child_service_id": catalog.session.checkout_id,
            "sessions_included": 5,
            "bonus_sessions": 1,
            "validity_days": 90,
        }
        package = http.get(f"{API}/admin/services/{catalog.package.checkout_id}").json()
        assert package["price_cents"] is None
        assert sorted(package["package"]["children"], key=lambda c: c["quantity"]) == [
            {
                "service_id": catalog.optional_child.checkout_id,
                "quantity": 1,
                "is_required": False,
                "discount_percentage": 0,
            },
            {
                "service_id": catalog.session.checkout_id,
                "quantity": 2,
                "is_required": True,
                "discount_percentage": 10,
            },
        ]


def test_a_second_push_changes_nothing(stack: Stack, pushed_catalog: HostCatalog) -> None:
    outcomes = _outcomes(stack)
    for row in (
        pushed_catalog.practitioner,
        pushed_catalog.session,
        pushed_catalog.bundle,
        pushed_catalog.package,
    ):
        assert outcomes[row.external_id] == ("unchanged", row.checkout_id)


def test_a_changed_row_is_updated_in_place(stack: Stack) -> None:
    catalog = make_host_catalog()
    first = _outcomes(stack)
    Service.objects.filter(pk=catalog.session.pk).update(
        price_cents=9500, name="Host Yoga (75 min)", duration_minutes=75
    )
    catalog.practitioner.availability = ALL_DAY[:5]
    catalog.practitioner.save()
    second = _outcomes(stack)
    assert second[catalog.session.external_id] == ("updated", first[catalog.session.external_id][1])
    assert second[catalog.practitioner.external_id] == ("updated", first[catalog.practitioner.external_id][1])
    assert second[catalog.bundle.external_id][0] == "unchanged"
    with _admin(stack) as http:
        s = http.get(f"{API}/admin/services/{second[catalog.session.external_id][1]}").json()
        assert (s["price_cents"], s["name"], s["duration_minutes"]) == (9500, "Host Yoga (75 min)", 75)
        p = http.get(f"{API}/admin/practitioners/{second[catalog.practitioner.external_id][1]}").json()
        assert [w["weekday"] for w in p["availability"]] == [0, 1, 2, 3, 4]


def test_a_row_the_checkout_already_has_is_adopted_not_duplicated(stack: Stack) -> None:
    """A practitioner created at the checkout first (an import, an operator) under the host's
    external id: the push updates that row instead of failing or making a second one."""
    from marketplace.models import Practitioner

    external_id = unique("pract")
    with _admin(stack) as http:
        made = http.post(
            f"{API}/admin/practitioners",
            json={"name": "Old Name", "timezone": "UTC", "external_id": external_id},
        )
        assert made.status_code == 201, made.text
        # the checkout refuses a second row with that external id
        again = http.post(
            f"{API}/admin/practitioners",
            json={"name": "Other", "timezone": "UTC", "external_id": external_id},
        )
        assert (again.status_code, again.json()["code"]) == (409, "EXTERNAL_ID_TAKEN")
    Practitioner.objects.create(
        external_id=external_id, name="New Name", timezone="Europe/Berlin", availability=ALL_DAY
    )
    outcomes = _outcomes(stack)
    assert outcomes[external_id] == ("updated", made.json()["id"])
    with _admin(stack) as http:
        found: Any = http.get(f"{API}/admin/practitioners", params={"external_id": external_id}).json()[
            "data"
        ]
    assert [(p["id"], p["name"], p["timezone"]) for p in found] == [
        (made.json()["id"], "New Name", "Europe/Berlin")
    ]
