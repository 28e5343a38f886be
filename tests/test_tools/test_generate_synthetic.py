"""Tests of the ``tools/data/generate_synthetic.py`` command line (``synthetic_scenes.cli``)."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from uniperceiver_v2.datasets.synthetic_scenes import cli

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(REPO_ROOT, 'tools', 'data', 'generate_synthetic.py')


@pytest.mark.integration
def test_cli_writes_dataset(tmp_path):
    out_dir = tmp_path / 'synthetic'
    proc = subprocess.run(
        [sys.executable, SCRIPT, '--out-dir', str(out_dir), '--num-train', '3', '--num-val', '2',
         '--num-test', '2', '--image-size', '32', '--seed', '1'],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert 'wrote 7 images' in proc.stdout + proc.stderr
    assert sorted(os.listdir(out_dir)) == ['annotations', 'meta', 'refcoco', 'semseg', 'test',
                                           'train', 'val']
    with open(out_dir / 'annotations' / 'instances_train.json') as f:
        assert len(json.load(f)['images']) == 3
    with open(out_dir / 'meta' / 'generation.json') as f:
        assert json.load(f)['seed'] == 1


@pytest.mark.parametrize('argv, flag', [
    (['--num-train', '-5'], '--num-train'),
    (['--num-val', '0'], '--num-val'),
    (['--num-test', '-1'], '--num-test'),
    (['--image-size', '8'], '--image-size'),
    (['--seed', '-1'], '--seed'),
])
def test_cli_rejects_bad_flags(tmp_path, capsys, argv, flag):
    with pytest.raises(SystemExit) as exc:
        cli.main(['--out-dir', str(tmp_path / 'out'), *argv])
    assert exc.value.code == 2
    assert flag in capsys.readouterr().err
    assert not osp.exists(tmp_path / 'out')


def test_cli_rejects_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / 'blocker'
    blocker.write_text('a file, not a folder')
    status = cli.main(['--out-dir', str(blocker / 'sub'), '--num-train', '1', '--num-val', '1',
                       '--num-test', '1', '--image-size', '32', '--no-progress'])
    assert status == 1
    err = capsys.readouterr().err
    assert '--out-dir' in err and str(blocker / 'sub') in err


@pytest.mark.skipif(hasattr(os, 'geteuid') and os.geteuid() == 0,
                    reason='root can write into read-only folders')
def test_cli_rejects_read_only_output(tmp_path, capsys):
    read_only = tmp_path / 'read_only'
    read_only.mkdir()
    read_only.chmod(0o500)
    try:
        status = cli.main(['--out-dir', str(read_only), '--num-train', '1', '--num-val',
                                   '1', '--num-test', '1', '--image-size', '32'])
    finally:
        read_only.chmod(0o700)
    assert status == 1 and str(read_only) in capsys.readouterr().err
