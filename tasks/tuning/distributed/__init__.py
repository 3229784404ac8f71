"""Distributed search: the role both sides share, the chief's, the worker's."""
