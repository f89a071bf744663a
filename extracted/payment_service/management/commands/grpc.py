"""`grpc`: serve the PaymentService (Authorize, Status) and the gRPC health service on PAYMENT_GRPC_PORT or
--bind (chassis.grpc_command: --threads, --processes; mutual TLS with INTERNAL_TLS_*)."""

from chassis.grpc_command import GrpcCommand


class Command(GrpcCommand):
    registrations = "extracted.payment_service.rpc.registrations"
    port_setting = "PAYMENT_GRPC_PORT"
