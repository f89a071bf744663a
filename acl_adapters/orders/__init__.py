"""Orders across the seam: the monolith's order rows <-> the order document (contracts/orders.py)."""
