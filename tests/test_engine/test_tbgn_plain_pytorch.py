"""TBGN in a plain PyTorch loop: torchvision ResNet-18 on two toy tasks, unmixed sampling, with
MMEngine made unimportable (the optimizer file is all a PyTorch user needs)."""
import os.path as osp
import subprocess
import sys

import pytest

from tbgn_standalone import TBGN_OPTIMIZER_PATH

LOOP = r'''
import importlib.util, sys
sys.modules['mmengine'] = None  # any MMEngine import in the training path fails
spec = importlib.util.spec_from_file_location('tbgn_optimizer', sys.argv[1])
tbgn_optimizer = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tbgn_optimizer)
TBGN = tbgn_optimizer.TBGN

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet18

torch.manual_seed(0)
backbone = resnet18(num_classes=16)                  # random init; 16-d shared features
heads = nn.ModuleDict(dict(shape=nn.Linear(16, 4), color=nn.Linear(16, 3)))
model = nn.ModuleDict(dict(backbone=backbone, heads=heads))
probs = dict(shape=0.7, color=0.3)                     # s_k: unmixed sampling probabilities
opt = TBGN(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05,
           task_weights=dict(shape=1.0, color=1.0), sampling_probs=probs)
rng = torch.Generator().manual_seed(0)
tasks = list(probs)
before = {n: p.detach().clone() for n, p in model.named_parameters()}
for it in range(4):
    task = tasks[int(torch.multinomial(torch.tensor([probs[t] for t in tasks]), 1, generator=rng))]
    images = torch.randn(4, 3, 32, 32, generator=rng)
    labels = torch.randint(0, heads[task].out_features, (4, ), generator=rng)
    loss = F.cross_entropy(heads[task](backbone(images)), labels)
    loss.backward()
    grad = backbone.conv1.weight.grad.clone()
    opt.step(task=task)
    assert torch.equal(backbone.conv1.weight.grad, grad)  # p.grad left as it was
    opt.zero_grad()
    assert torch.isfinite(loss), loss
assert sum(opt.task_steps.values()) == 4 and opt.skipped_steps == 0, opt.task_steps
assert opt.last_grad_norm > 0
moved = [n for n, p in model.named_parameters() if not torch.equal(p, before[n])]
assert any(n.startswith('backbone.') for n in moved)
assert all(n.split('.')[1] in opt.task_steps for n in moved if n.startswith('heads.'))
assert 'mmengine' not in [m.split('.')[0] for m in sys.modules if sys.modules[m] is not None]
print('task steps', opt.task_steps)
'''


@pytest.mark.integration
def test_resnet18_two_tasks_without_mmengine():
    proc = subprocess.run([sys.executable, '-c', LOOP, TBGN_OPTIMIZER_PATH],
                          capture_output=True, text=True, timeout=300,
                          cwd=osp.dirname(TBGN_OPTIMIZER_PATH))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'task steps' in proc.stdout
