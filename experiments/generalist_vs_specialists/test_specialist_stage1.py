"""The 20-class detection specialist as a class-aware stage 1 of the embedded default (the embedded
detection study, section 10), through tools/train.py."""
from pathlib import Path

import pytest

from uniperceiver_v2.testing import write_small_run_config
from uniperceiver_v2.testing.entry_points import (EMBEDDED, STAGE1_SMALL, assert_finite, records,
                                                  train)

pytestmark = pytest.mark.integration
SPECIALIST = (Path(__file__).resolve().parent / 'configs' / 'specialists' /
              'maskdino_mobilenetv2_20cls_synthetic.py')
CLASS_SPECIFIC = '[bbox_head.cls_branches,dn_query_generator.label_embedding]'


def test_class_aware_stage1_starts_the_default_with_its_classes_skipped(run_dir):
    """A class-aware stage 1 (the 20-class detection specialist, experiments/embedded_detection/README.md
    section 10) hands over to the default through tools/train.py only with
    ``model.image_encoder.proposal_checkpoint_skip``; without it the run stops with an error that
    names that key."""
    train(run_dir, SPECIALIST, str(run_dir / 'w_stage1_20cls'), *STAGE1_SMALL)
    config = Path(write_small_run_config(
        str(run_dir / 'from_20cls.py'), str(EMBEDDED), str(run_dir / 'records_from_20cls'), 2, 2,
        proposal_checkpoint=str(run_dir / 'w_stage1_20cls' / 'iter_2.pth')))
    refused = train(run_dir, config, str(run_dir / 'w_from_20cls_refused'), check=False)
    assert refused.returncode != 0
    assert 'model.image_encoder.proposal_checkpoint_skip' in refused.stdout + refused.stderr
    done = train(run_dir, config, str(run_dir / 'w_from_20cls'), '--cfg-options',
                 f'model.image_encoder.proposal_checkpoint_skip={CLASS_SPECIFIC}')
    assert 'keeping' in done.stdout + done.stderr  # the loader's log line names what it skipped
    recs = records(run_dir, 'from_20cls')
    assert len(recs) == 2
    assert_finite(recs)
