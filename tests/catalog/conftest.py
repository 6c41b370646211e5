"""The checkout battery's fixtures (users, API replicas) and the reliability report, reused."""

from tests.checkout.conftest import factory, new_user, replicas  # noqa: F401
from tests.reliability.conftest import report  # noqa: F401
