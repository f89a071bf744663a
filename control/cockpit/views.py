"""The status page and its JSON API, staff-only: the monolith mounts them (`/ops/migration/`) with its own
authentication (a session from its login, a legacy API token, or the gateway's identity header for a JWT
with a staff role), so they are DRF views judged by the user's role.

- `/ops/migration/`: the page (one HTML file with its CSS and script inline: no external asset, works
  offline); it reads `api/status` every 2 s and draws each route's split over time.
- `/ops/migration/api/status`: collect.migration_status() as JSON.
- `/ops/migration/shadow-report`: the shadow comparator's HTML report (`shadow report`), live.
- `/ops/migration/runbooks/<name>`: a runbook as a person reads it."""

from __future__ import annotations

from pathlib import Path

from django.db import DatabaseError
from django.http import HttpResponse
from django.utils.html import escape
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from chassis.openapi import ERROR
from control.cockpit.collect import migration_status
from control.errors import ControlError

PAGE = Path(__file__).with_name("page.html")
STAFF_ROLES = frozenset({"staff", "admin"})
HTML = "text/html; charset=utf-8"
# The pages are HTML documents: their schema says so (a string of text/html), the API's is an object.
PAGE_RESPONSE = OpenApiResponse(response=OpenApiTypes.STR, description="an HTML page (text/html)")


class IsStaff(BasePermission):
    """Staff and admins (the monolith's roles, read by name: control imports nothing of the monolith)."""

    message = "Staff role required"

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, "role", None) in STAFF_ROLES)


class StaffView(APIView):
    permission_classes = [IsStaff]


class StatusPage(StaffView):
    @extend_schema(responses={(200, "text/html"): PAGE_RESPONSE})
    def get(self, request):
        return HttpResponse(PAGE.read_bytes(), content_type=HTML, headers={"Cache-Control": "no-store"})


class StatusApi(StaffView):
    @extend_schema(responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="migration status")})
    def get(self, request):
        return Response(migration_status(), headers={"Cache-Control": "no-store"})


class ShadowReportPage(StaffView):
    @extend_schema(responses={(200, "text/html"): PAGE_RESPONSE, 503: ERROR})
    def get(self, request):
        from django.conf import settings

        from shadow.commands.report import build_report
        from shadow.html import render_html
        from shadow.rules_file import load_rules

        try:
            report = build_report(rules=load_rules(settings.SHADOW_RULES))
        except DatabaseError as exc:  # the shadow store is down or not migrated: say so, never a 500
            message = f"the shadow store cannot be read ({type(exc).__name__}: {str(exc)[:200]})"
            return Response({"code": "shadow_store_unavailable", "message": message, "extra": {}}, status=503)
        return HttpResponse(render_html(report), content_type=HTML)


class RunbookPage(StaffView):
    @extend_schema(responses={(200, "text/html"): PAGE_RESPONSE})
    def get(self, request, name: str):
        from control.runbooks.cli import runbook_view
        from control.runbooks.model import runbook_load

        try:
            view = runbook_view(runbook_load(name))
        except ControlError as exc:
            return Response({"code": exc.code, "message": exc.message, "extra": {}}, status=404)
        rows = []
        for check in view["preconditions"]:
            rows.append(f"<li>precondition: <code>{escape(check['describe'])}</code></li>")
        for index, step in enumerate(view["steps"], start=1):
            checks = "".join(f"<li>check: <code>{escape(c['describe'])}</code></li>" for c in step["checks"])
            undo = step["rollback"]
            undo_text = (
                "none needed (reads only)" if undo is None else (undo["run"] or f"none: {undo['none']}")
            )
            rows.append(
                f"<li><b>{index}. {escape(step['id'])}</b>: {escape(step['say'])}<ul>"
                f"<li>run: <code>{escape(step['run'])}</code></li>{checks}"
                f"<li>rollback: <code>{escape(undo_text)}</code></li></ul></li>"
            )
        last = view["last_run"] or {}
        html = (
            "<!doctype html><html><head><meta charset='utf-8'><title>runbook "
            f"{escape(view['name'])}</title></head><body style='font:14px system-ui,sans-serif;margin:20px'>"
            f"<h1>{escape(view['name'])}: {escape(view['title'])}</h1><p>{escape(view['kind'])}"
            f"{' · stage ' + str(view['stage']) if view['stage'] else ''} · last run: "
            f"{escape(last.get('status', 'never'))} {escape(last.get('at', ''))}</p>"
            f"<pre>{escape(view['description'])}</pre>"
            f"<ol style='list-style:none;padding:0'>{''.join(rows)}</ol>"
            f"<p>Run it: <code>manage.py runbook run {escape(view['name'])}</code> "
            f"(<code>--dry-run</code> first). <a href='../'>back to the status</a></p></body></html>"
        )
        return HttpResponse(html, content_type=HTML)
