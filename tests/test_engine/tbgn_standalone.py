"""``engine/tbgn_optimizer.py`` loaded by path, without the package (torch only, no MMEngine)."""
import importlib.util
import os.path as osp
import sys
from types import ModuleType

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
TBGN_OPTIMIZER_PATH = osp.join(ROOT, 'projects', 'uniperceiver_v2', 'engine', 'tbgn_optimizer.py')


def load_tbgn_optimizer() -> ModuleType:
    """The module ``tbgn_optimizer`` (``TBGN``, ``global_grad_norm``) as a plain-PyTorch user
    who copied the file would import it."""
    name = 'standalone_tbgn_optimizer'
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, TBGN_OPTIMIZER_PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
