"""Reads compiled into one SQL statement (plan.py), and run in its place of the resolvers (run.py)."""
