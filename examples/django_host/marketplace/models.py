"""The host's own catalog (pushed to the checkout by external_id) and the events it receives."""

from __future__ import annotations

from django.db import models


class Practitioner(models.Model):
    external_id = models.SlugField(
        max_length=100, unique=True, help_text="the id the checkout knows it by; keep it once pushed"
    )
    name = models.CharField(max_length=200)
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA name, e.g. Europe/Berlin")
    # weekly windows in its time zone, as the checkout's admin API takes them:
    # [{"weekday": 0 (Monday)..6, "start": "09:00", "end": "17:00"}]
    availability = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    checkout_id = models.PositiveIntegerField(null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return self.name


class Service(models.Model):
    class Type(models.TextChoices):
        SESSION = "session"
        BUNDLE = "bundle"
        PACKAGE = "package"

    external_id = models.SlugField(
        max_length=100, unique=True, help_text="the id the checkout knows it by; keep it once pushed"
    )
    type = models.CharField(max_length=10, choices=Type.choices)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    practitioner = models.ForeignKey(Practitioner, on_delete=models.PROTECT, related_name="services")
    price_cents = models.PositiveIntegerField(
        null=True, blank=True, help_text="minor units; empty for a package priced from its children"
    )
    currency = models.CharField(max_length=3, default="usd")
    duration_minutes = models.PositiveIntegerField(null=True, blank=True, help_text="sessions")
    is_active = models.BooleanField(default=True)
    # bundles: a pass of sessions of one session service
    bundle_child = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sessions_included = models.PositiveIntegerField(null=True, blank=True)
    bonus_sessions = models.PositiveIntegerField(default=0)
    validity_days = models.PositiveIntegerField(null=True, blank=True)
    checkout_id = models.PositiveIntegerField(null=True, blank=True, editable=False)

    class Meta:
        permissions = [("checkout_admin", "Can use Estuary Checkout's admin API")]

    def __str__(self) -> str:
        return self.name


class PackageItem(models.Model):
    package = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="package_items")
    child = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(default=1)
    is_required = models.BooleanField(default=True)
    discount_percentage = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["package", "child"], name="package_item_unique_child")]


class ReceivedEvent(models.Model):
    """An outbound event of the checkout (SPEC 12.1), verified and stored once per webhook-id."""

    webhook_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100, db_index=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(null=True, help_text="when the checkout created the event")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.webhook_id}"
