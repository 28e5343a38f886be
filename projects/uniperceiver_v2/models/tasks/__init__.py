"""Registered components; each submodule is imported here so that importing the package registers it."""
from .classification import ClassificationTask  # noqa: F401,E402
