"""Page-number pagination of every /api/v1 listing, the monolith's and the services':
?page=N&page_size=M (max 100).

Strict, unlike DRF's default: a bad page or page_size is a 400 validation_error, a page past the end a
404 page_not_found, instead of silent clamping and a generic "Invalid page.".
"""

from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination

from contracts.errors import ApplicationError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


class PageParams(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE)


class StandardPagination(PageNumberPagination):
    page_size = DEFAULT_PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

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
