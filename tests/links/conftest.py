"""Payment-link fixtures: the checkout battery's users and replicas, an admin."""

import pytest
from tests.checkout.conftest import factory, new_user, replicas  # noqa: F401


@pytest.fixture
def admin(make_token) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {make_token('admin|links', roles=['admin'])}"}
