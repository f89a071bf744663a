"""Checkout as an orchestrated saga: steps.py (what runs, what undoes it), engine.py (the state machine),
local.py (this service's own steps), participants.py (commands to the stock and payment ports), consumers.py
(the two consumers), metrics.py."""
