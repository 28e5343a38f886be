"""check_checkpoint_matches: clear errors for a missing, corrupt or foreign checkpoint."""
import pytest
import torch
from torch import nn

from uniperceiver_v2.utils.checkpoint import check_checkpoint_matches


def _model():
    return nn.Sequential(nn.Linear(4, 8), nn.Linear(8, 2))


def test_own_checkpoint_passes(tmp_path):
    model = _model()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, tmp_path / 'ok.pth')
    check_checkpoint_matches(str(tmp_path / 'ok.pth'), model)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        check_checkpoint_matches(str(tmp_path / 'nope.pth'), _model())


def test_corrupt_file(tmp_path):
    model = _model()
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'full.pth')
    data = (tmp_path / 'full.pth').read_bytes()
    (tmp_path / 'cut.pth').write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match='cut.pth is not a readable checkpoint'):
        check_checkpoint_matches(str(tmp_path / 'cut.pth'), model)


def test_checkpoint_of_another_model(tmp_path):
    other = nn.Sequential(nn.Linear(4, 16), nn.Linear(16, 2))
    torch.save({'state_dict': other.state_dict()}, tmp_path / 'other.pth')
    with pytest.raises(ValueError, match='does not fit the model of this config'):
        check_checkpoint_matches(str(tmp_path / 'other.pth'), _model())
