"""Registered components; each submodule is imported here so that importing the package registers it."""
from . import backbones, region_proposal  # noqa: F401,E402
from .global_tokens import GlobalTokens  # noqa: F401,E402
from .image_encoder import ImageEncoder  # noqa: F401,E402
