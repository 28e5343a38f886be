"""Registered components; each submodule is imported here so that importing the package registers it."""
from . import synthetic_scenes  # noqa: F401
