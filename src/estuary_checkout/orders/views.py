"""An order's public summary fields, from the order row and its lines (no queries): shared by the
history routes and the outbound events, so both always describe an order the same way."""

from __future__ import annotations

from collections.abc import Iterable

from estuary_checkout.orders.history_schemas import OrderLineView
from estuary_checkout.orders.models import Order, OrderLine


def summary_fields(order: Order, lines: Iterable[OrderLine]) -> dict[str, object]:
    return {
        "order_id": order.id,
        "status": order.status,
        "payment_status": order.payment_status,
        "checkout_type": order.checkout_type,
        "currency": order.currency,
        "total_cents": order.total_cents,
        "refunded_cents": order.refunded_cents,
        "created_at": order.created_at,
        "completed_at": order.completed_at,
        "lines": [
            OrderLineView(
                service_id=line.service_id,
                name=line.description,
                quantity=line.quantity,
                line_total_cents=line.line_total_cents,
            )
            for line in lines
        ],
    }
