"""Order history and detail: GET /orders/, GET /orders/<number>."""

from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from legacy_monolith.core.pagination import StandardPagination

from ..selectors import order_get, order_list
from .serializers import OrderOut


class OrdersApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        paginator = StandardPagination()
        page = paginator.paginate_queryset(order_list(user=request.user), request, view=self)
        return paginator.get_paginated_response(OrderOut(page, many=True).data)


class OrderApi(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request, number: str):
        return Response(OrderOut(order_get(user=request.user, number=number)).data)
