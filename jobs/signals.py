"""Signals of the jobs app, for readers that must act inside a store's transaction."""

from django.dispatch import Signal

# Sent by jobs.ingest right after it writes JobChange rows, inside the
# transaction that stored the change (``changes``: the JobChange rows). A
# receiver's writes commit or roll back with the change itself; an exception
# in a receiver rolls the store back, so receivers must be small and tested.
changes_recorded = Signal()
