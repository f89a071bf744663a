"""Transactional outbox for services: `outbox_write` inside the business transaction, a relay publishes.

- `chassis.outbox.writer.outbox_write(type, data, trace_id=None)`: the service-side writer.
- `chassis.outbox.relay.OutboxRelay(source, publisher)`: the generic relay loop (no Django models;
  the monolith's trigger-written outbox plugs in its own source).
- `chassis.outbox.source.ServiceOutboxSource`: the source over this app's OutboxEvent rows.
"""
