"""What the run store raises (re-exported by exporter/store.py)."""

from __future__ import annotations


class StoreError(Exception):
    """The run store cannot be used (not ours, corrupt, newer schema, I/O error)."""


class UnknownRunError(StoreError):
    """No run matches the given id or prefix."""


class AmbiguousRunError(StoreError):
    """More than one run matches the given prefix."""
