"""Chassis test session: settings = the chassis_service (nothing but the chassis) on CHASSIS_DATABASE_URL.

Run as its own session: `pytest --ds=tests.extracted.common.chassis_service.settings
--confcutdir=tests/extracted/common tests/extracted/common` (what `make test` does).
"""

import pytest
from rest_framework.test import APIClient


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()
