"""Catalog rules that do not depend on an order: purchasability and availability."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from estuary_checkout.catalog.models import Practitioner, Service


def is_purchasable(service: Service, now: datetime) -> bool:
    if not service.is_active:
        return False
    if service.available_from is not None and now < service.available_from:
        return False
    return not (service.available_until is not None and now >= service.available_until)


def within_availability(practitioner: Practitioner, start: datetime, end: datetime) -> bool:
    """True if [start, end) lies inside one weekly window (in the practitioner's timezone).

    A session may not straddle two windows or local midnight; windows are checked on the local
    calendar day of the start.
    """
    tz = ZoneInfo(practitioner.timezone or "UTC")
    local_start = start.astimezone(tz)
    local_end = end.astimezone(tz)
    if local_end.date() != local_start.date() and not (
        local_end.date() == local_start.date() + timedelta(days=1)
        and local_end.hour == 0
        and local_end.minute == 0
    ):
        return False
    start_min = local_start.hour * 60 + local_start.minute
    end_min = start_min + int((end - start).total_seconds() // 60)
    weekday = local_start.weekday()
    return any(
        w.weekday == weekday and w.start_minute <= start_min and end_min <= w.end_minute
        for w in practitioner.availability
    )
