"""Outbound events to the host platform (SPEC 12.1): written in the transaction of the change they
report, delivered by the worker to the admin-registered endpoints, signed per Standard Webhooks."""
