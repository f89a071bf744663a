"""Cart endpoints: GET/DELETE /cart, POST /cart/items, PUT/DELETE /cart/items/<product_id>."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from chassis.orders_v1 import CartItemAddInput, CartItemSetInput
from legacy_monolith.core.errors import NotFoundError

from ..selectors import cart_get, cart_summary
from ..services import cart_clear, cart_item_add, cart_item_remove, cart_item_update
from .fields import MAX_BIGINT
from .schema import ERROR
from .serializers import CartOut


def _cart_response(cart, status_code=status.HTTP_200_OK) -> Response:
    return Response(CartOut(cart_summary(cart=cart)).data, status=status_code)


def _path_product_id(product_id: int) -> int:
    if product_id > MAX_BIGINT:
        raise NotFoundError("cart_item", product_id)
    return product_id


class CartApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(operation_id="orders_cart_get", responses={200: CartOut})
    def get(self, request):
        return Response(CartOut(cart_get(user=request.user)).data)

    @extend_schema(operation_id="orders_cart_clear", responses={204: None})
    def delete(self, request):
        cart_clear(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CartItemsApi(APIView):
    permission_classes = [IsAuthenticated]

    CartItemAddInput = CartItemAddInput

    @extend_schema(
        operation_id="orders_cart_item_add",
        request=CartItemAddInput,
        responses={201: CartOut, 400: ERROR, 404: ERROR, 409: ERROR},
    )
    def post(self, request):
        data = self.CartItemAddInput(data=request.data)
        data.is_valid(raise_exception=True)
        cart = cart_item_add(user=request.user, **data.validated_data)
        return _cart_response(cart, status.HTTP_201_CREATED)


class CartItemApi(APIView):
    permission_classes = [IsAuthenticated]

    CartItemSetInput = CartItemSetInput

    @extend_schema(
        operation_id="orders_cart_item_set",
        request=CartItemSetInput,
        responses={200: CartOut, 400: ERROR, 404: ERROR, 409: ERROR},
    )
    def put(self, request, product_id: int):
        data = self.CartItemSetInput(data=request.data)
        data.is_valid(raise_exception=True)
        cart = cart_item_update(
            user=request.user,
            product_id=_path_product_id(product_id),
            quantity=data.validated_data["quantity"],
        )
        return _cart_response(cart)

    @extend_schema(operation_id="orders_cart_item_remove", responses={200: CartOut, 404: ERROR})
    def delete(self, request, product_id: int):
        cart = cart_item_remove(user=request.user, product_id=_path_product_id(product_id))
        return _cart_response(cart)
