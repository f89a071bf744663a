"""Settings of the chassis test service: nothing but the chassis (database: CHASSIS_DATABASE_URL; default
port: CHASSIS_SERVICE_PORT, so a test can serve it without --bind on a free port)."""

import os

from chassis.settings import service_settings

globals().update(
    service_settings(
        "chassis_service",
        database_env="CHASSIS_DATABASE_URL",
        root_urlconf="tests.chassis.chassis_service.urls",
        default_port=int(os.environ.get("CHASSIS_SERVICE_PORT", "8199")),
        apps=["tests.chassis.chassis_service"],  # its tasks.py (Celery discovers installed apps' tasks)
        consumers=["tests.chassis.chassis_service.consumers.WidgetConsumer"],
    )
)
READINESS_CHECKS = {"probe": "tests.chassis.chassis_service.views.probe_check"}
CELERY_BEAT_SCHEDULE = {
    "widget-heartbeat": {"task": "tests.chassis.chassis_service.tasks.widget_heartbeat", "schedule": 0.5},
}
