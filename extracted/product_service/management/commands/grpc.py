"""`grpc`: serve the StockService (and the gRPC health service) on PRODUCT_GRPC_PORT or --bind
(chassis.grpc_command: --threads, --processes; mutual TLS with INTERNAL_TLS_*)."""

from chassis.grpc_command import GrpcCommand


class Command(GrpcCommand):
    registrations = "extracted.product_service.rpc.registrations"
    port_setting = "PRODUCT_GRPC_PORT"
