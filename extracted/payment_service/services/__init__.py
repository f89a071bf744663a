"""Writes of the Payment service: charges (charges.py, cards.py), the state machine every change goes
through (state.py), refunds, webhooks, compensation (capture/cancel requests), the reconciler."""
