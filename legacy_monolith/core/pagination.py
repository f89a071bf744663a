"""Page-number pagination of every /api/v1 listing; one copy, shared with the services
(chassis.pagination)."""

from chassis.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageParams, StandardPagination

__all__ = ["DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "PageParams", "StandardPagination"]
