"""Benchmarks: each prints its figures as a table and one final JSON line, and keeps them under var/bench/."""
