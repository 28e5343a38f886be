"""Registered components; each submodule is imported here so that importing the package registers it."""
from .maskdino_head import MaskDINOHead  # noqa: F401,E402
from .pixel_embedding import MaskDINOPixelEmbedding  # noqa: F401,E402
from .maskdino_proposal_detector import MaskDINOProposalDetector  # noqa: F401,E402
from .proposal_tokens import ProposalTokens  # noqa: F401,E402
