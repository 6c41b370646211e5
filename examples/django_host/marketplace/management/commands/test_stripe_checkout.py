"""python manage.py test_stripe_checkout --user-email E --checkout-type session|bundle|package

One purchase against the running checkout, as this platform's front end makes it: the host mints
the user's checkout token, then price → create → pay at Stripe (the emulator in dev, with the
publishable key and client_secret, as Stripe.js does) → confirm → status. Sells the host's own
services (run push_catalog first).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from host import checkout_tokens
from marketplace.catalog_push import API
from marketplace.models import Service

CHECKOUT_TYPES = {"session": "single_session", "bundle": "bundle", "package": "package"}


def _money(cents: int, currency: str) -> str:
    return f"{cents / 100:,.2f} {currency.upper()}"


def _fail(step: str, r: httpx.Response) -> CommandError:
    try:
        body = r.json()
    except ValueError:
        body = {"error": r.text[:200]}
    return CommandError(f"{step}: {r.status_code} {body.get('code')}: {body.get('error')}")


class Command(BaseCommand):
    help = "Buy one of this platform's services through the running checkout and print the outcome."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--user-email", required=True, help="the Django user (created if missing)")
        parser.add_argument("--checkout-type", choices=sorted(CHECKOUT_TYPES), default="session")
        parser.add_argument(
            "--service", help="external_id of the service (default: the first pushed one of the type)"
        )
        parser.add_argument("--card", default="pm_card_visa", help="a Stripe test payment method")
        parser.add_argument("--base-url", default=settings.CHECKOUT_BASE_URL, help="the checkout service")
        parser.add_argument("--json", action="store_true", help="print the responses as one JSON document")

    def handle(self, *args, **opts: Any) -> None:
        user = self._user(opts["user_email"])
        service = self._service(opts["checkout_type"], opts["service"])
        token, _ = checkout_tokens.for_user(user)
        with httpx.Client(
            base_url=opts["base_url"], headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as api:
            result = self._purchase(api, service, opts["checkout_type"], opts["card"])
        if opts["json"]:
            self.stdout.write(json.dumps(result, indent=2, default=str))
            return
        self._summary(user, service, result)

    @staticmethod
    def _user(email: str) -> Any:
        users = get_user_model()
        user = users.objects.filter(email__iexact=email).order_by("pk").first()
        if user is None:
            user = users(username=email, email=email)
            user.set_unusable_password()
            user.save()
        return user

    @staticmethod
    def _service(kind: str, external_id: str | None) -> Service:
        rows = Service.objects.filter(type=kind, is_active=True, checkout_id__isnull=False)
        if external_id:
            rows = rows.filter(external_id=external_id)
        service = rows.select_related("practitioner").order_by("pk").first()
        if service is None or service.practitioner.checkout_id is None:
            raise CommandError(f"no active {kind} service pushed to the checkout: run push_catalog first")
        return service

    def _purchase(self, api: httpx.Client, service: Service, kind: str, card: str) -> dict[str, Any]:
        config = api.get(f"{API}/config")
        if config.status_code != 200:
            raise _fail("config", config)
        cfg = config.json()
        item: dict[str, Any] = {
            "service_id": service.checkout_id,
            "practitioner_id": service.practitioner.checkout_id,
        }
        slots: list[dict[str, Any] | None] = [None]
        if kind == "session":
            slots = [*self._free_slots(api, item)]
        quote = created = None
        for slot in slots:
            body = {"checkout_type": CHECKOUT_TYPES[kind], "items": [{**item, **(slot or {})}]}
            q = api.post(f"{API}/checkout/calculate-price", json=body)
            if q.status_code != 200:
                raise _fail("calculate-price", q)
            r = api.post(f"{API}/checkout/create", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
            if r.status_code == 409 and r.json().get("code") == "SLOT_UNAVAILABLE":
                continue  # taken since the listing: the next one
            if r.status_code != 201:
                raise _fail("create", r)
            quote, created = q.json(), r.json()
            break
        if quote is None or created is None:
            raise CommandError("no free slot in the next 14 days")
        paid = None
        if created["requires_payment"]:
            paid = self._pay(cfg, created, card)
        confirmed = None
        if created["payment_intent_id"]:
            c = api.post(
                f"{API}/payment/confirm",
                json={"payment_intent_id": created["payment_intent_id"]},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            if c.status_code != 200:
                raise _fail("payment/confirm", c)
            confirmed = c.json()
        s = api.post(f"{API}/checkout/status", json={"order_id": created["order_id"]})
        if s.status_code != 200:
            raise _fail("checkout/status", s)
        status = s.json()
        result = {"quote": quote, "created": created, "paid": paid, "confirmed": confirmed, "status": status}
        if status["status"] != "completed":
            raise CommandError(
                f"order {created['order_id']} ended {status['status']}: {json.dumps(result, default=str)}"
            )
        return result

    @staticmethod
    def _free_slots(api: httpx.Client, item: dict[str, Any]) -> list[dict[str, str]]:
        since = datetime.now(UTC) + timedelta(days=1)
        r = api.get(
            f"{API}/catalog/availability",
            params={
                "service_id": item["service_id"],
                "practitioner_id": item["practitioner_id"],
                "from": since.isoformat(),
                "to": (since + timedelta(days=14)).isoformat(),
            },
        )
        if r.status_code != 200:
            raise _fail("catalog/availability", r)
        return [{"start_time": s["start_time"], "end_time": s["end_time"]} for s in r.json()["slots"]]

    @staticmethod
    def _pay(cfg: dict[str, Any], created: dict[str, Any], card: str) -> dict[str, Any]:
        """What Stripe.js does in the browser: confirm the PaymentIntent with the publishable key
        and the client_secret. In dev the checkout's /config names the emulator to use."""
        stripe_base = cfg.get("stripe_api_base") or "https://api.stripe.com"
        pi_id = created["payment_intent_id"]
        with httpx.Client(base_url=stripe_base, auth=(cfg["publishable_key"], ""), timeout=30) as stripe:
            r = stripe.post(
                f"/v1/payment_intents/{pi_id}/confirm",
                data={"client_secret": created["client_secret"], "payment_method": card},
            )
            pi = r.json()
            if r.status_code >= 400:
                err = pi.get("error", {})
                raise CommandError(
                    f"card declined: {err.get('message')} (decline_code {err.get('decline_code')})"
                )
            if pi.get("status") == "requires_action":
                # the emulator's stand-in for the customer passing the 3-D Secure challenge
                done = stripe.post(
                    f"/_emulator/payment_intents/{pi_id}/three_d_secure", json={"outcome": "complete"}
                )
                done.raise_for_status()
                pi = done.json()
            return {"payment_intent_id": pi_id, "status": pi.get("status"), "payment_method": card}

    def _summary(self, user: Any, service: Service, result: dict[str, Any]) -> None:
        quote, created, status = result["quote"], result["created"], result["status"]
        cur = quote["currency"]
        lines = [
            ("user", f"{user.email} (Django user {user.pk})"),
            ("service", f"{service.name} ({service.external_id}, checkout id {service.checkout_id})"),
            (
                "price",
                f"subtotal {_money(quote['subtotal_cents'], cur)}, discount {_money(quote['discount_cents'], cur)}, "
                f"tax {_money(quote['tax_cents'], cur)}, total {_money(quote['total_cents'], cur)}",
            ),
            ("order", f"{created['order_id']} (PaymentIntent {created['payment_intent_id'] or 'none'})"),
        ]
        if result["paid"]:
            lines.append(
                ("paid", f"at Stripe with {result['paid']['payment_method']}: {result['paid']['status']}")
            )
        if result["confirmed"]:
            lines.append(("confirmed", result["confirmed"]["status"]))
        lines.append(("bookings", ", ".join(map(str, status["booking_ids"])) or "none (a pass was granted)"))
        for label, value in lines:
            self.stdout.write(f"{label:<10} {value}")
        self.stdout.write(
            self.style.SUCCESS(f"status     {status['status']} (payment {status['payment_status']})")
        )
