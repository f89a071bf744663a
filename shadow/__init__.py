"""Shadow mode: the pairs the gateway captures (pairs.py), how they travel (transport.py), and the
comparator that diffs them, its store and its reports."""
