"""Shared leaf package: errors, the registry, settings read from the environment, versions.

Nothing in here imports any other part of the SDK.
"""
