"""The service chassis: settings, tracing, logs, errors, health, metrics, internal auth, events, outbox."""
