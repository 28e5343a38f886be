"""Registered components; each submodule is imported here so that importing the package registers it."""
from . import backbones, region_proposal  # noqa: F401,E402
from .global_tokens import GlobalTokens  # noqa: F401,E402
from .image_encoder import ImageEncoder  # noqa: F401,E402
from .text_encoder import TextEncoder  # noqa: F401,E402
from .moe import AttributeMoEFFN  # noqa: F401,E402
from .unified_decoder import UnifiedDecoder  # noqa: F401,E402
from .likelihood_head import UnifiedLikelihoodHead  # noqa: F401,E402
from .data_preprocessor import UniPerceiverV2DataPreprocessor  # noqa: F401,E402
from .uniperceiver_v2 import UniPerceiverV2  # noqa: F401,E402
from .multi_task_ddp import MultiTaskDistributedDataParallel  # noqa: F401,E402
from . import tasks  # noqa: F401,E402
