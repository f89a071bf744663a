"""Request id propagation, a body-size guard and HEAD bodies; one copy, in chassis.middleware."""

from chassis.middleware import BodySizeLimitMiddleware, HeadResponseMiddleware, RequestIdMiddleware

__all__ = [
    "BodySizeLimitMiddleware",
    "HeadResponseMiddleware",
    "RequestIdMiddleware",
    "RetiredEndpointsMiddleware",
]


class RetiredEndpointsMiddleware:
    """410 Gone, with the standard error body, on the URLconf entries a decommission retired
    (`manage.py decommission apply ROUTE`; `restore` brings them back): decided after URL resolution, by
    the entry's name and the method, from the control database (control/decommission/retired.py)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        from django.http import JsonResponse

        from chassis.exceptions import error_body
        from control.decommission.retired import RETIRED

        match = request.resolver_match
        if match is None or not match.view_name:
            return None
        route = RETIRED.route_of(match.view_name, request.method)
        if route is None:
            return None
        body = error_body(
            "route_retired",
            f"{request.method} {request.path} is no longer served here: route {route} was decommissioned.",
            {"route": route},
        )
        return JsonResponse(body, status=410)
