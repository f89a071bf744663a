"""sync payments: migrations_data/payments/command.py."""
