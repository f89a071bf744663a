"""/api/v1 page-number pagination over the store, rendered exactly as the monolith's StandardPagination
(DRF PageNumberPagination over a Django Paginator) renders it: the same page/page_size validation and
messages, 404 page_not_found past the last page, `count`/`next`/`previous` links built the same way.

Unlike the monolith, one store query answers both the page and the total count."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rest_framework import serializers
from rest_framework.utils.urls import remove_query_param, replace_query_param

from contracts.errors import ApplicationError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
PAGE_PARAM = "page"
# The deepest offset a store can skip to: PostgreSQL's OFFSET and MongoDB's skip are signed 64-bit. No
# store holds more rows than that, so a page starting further is past the last page whatever the data.
MAX_OFFSET = 2**63 - 1


class PageParams(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, default=1)
    page_size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, default=DEFAULT_PAGE_SIZE)


@dataclass(frozen=True)
class PageRequest:
    page: int
    page_size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def page_request(query_params) -> PageRequest:
    """The validated page and page_size (400 validation_error like the monolith's)."""
    params = PageParams(data={key: query_params[key] for key in ("page", "page_size") if key in query_params})
    params.is_valid(raise_exception=True)
    return PageRequest(params.validated_data["page"], params.validated_data["page_size"])


def paginated_body(
    request,
    page: PageRequest,
    fetch: Callable[[int, int], tuple[int, list[Any]]],
    render: Callable[[Any], dict],
) -> dict:
    """`{count, next, previous, results}` for one page; `fetch(offset, limit)` returns (total, items)."""
    if page.offset > MAX_OFFSET:
        # Asking the store for it would overflow its OFFSET (a 500): count the matches alone.
        count, items = fetch(0, 0)[0], []
    else:
        count, items = fetch(page.offset, page.page_size)
    # Django's Paginator: an empty first page is allowed, any page past the last is not.
    num_pages = max(1, math.ceil(count / page.page_size))
    if page.page > num_pages:
        raise ApplicationError(
            "page_not_found",
            f"Page {page.page} is past the last page",
            extra={"page": page.page, "page_size": page.page_size},
            status=404,
        )
    url = request.build_absolute_uri()
    next_link = replace_query_param(url, PAGE_PARAM, page.page + 1) if page.page < num_pages else None
    if page.page <= 1:
        previous_link = None
    elif page.page - 1 == 1:
        previous_link = remove_query_param(url, PAGE_PARAM)
    else:
        previous_link = replace_query_param(url, PAGE_PARAM, page.page - 1)
    return {
        "count": count,
        "next": next_link,
        "previous": previous_link,
        "results": [render(i) for i in items],
    }
