"""Catalog listings paginate strictly: a bad page or page_size is a 400, a page past the end a 404
page_not_found, instead of DRF's silent clamping and generic "Invalid page."."""

from rest_framework import serializers
from rest_framework.exceptions import NotFound

from legacy_monolith.core.errors import ApplicationError
from legacy_monolith.core.pagination import StandardPagination


class PageParams(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, default=1)
    page_size = serializers.IntegerField(
        min_value=1, max_value=StandardPagination.max_page_size, default=StandardPagination.page_size
    )


class StrictPagination(StandardPagination):
    def paginate_queryset(self, queryset, request, view=None):
        params = PageParams(
            data={
                key: request.query_params[key] for key in ("page", "page_size") if key in request.query_params
            }
        )
        params.is_valid(raise_exception=True)
        self.validated_page_size = params.validated_data["page_size"]
        self.validated_page = params.validated_data["page"]
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound as exc:
            raise ApplicationError(
                "page_not_found",
                f"Page {self.validated_page} is past the last page",
                extra={"page": self.validated_page, "page_size": self.validated_page_size},
                status=404,
            ) from exc

    def get_page_size(self, request):
        return self.validated_page_size

    def get_page_number(self, request, paginator):
        return self.validated_page
