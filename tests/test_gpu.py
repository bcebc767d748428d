"""The GPU path (`trainer=gpu`, 16-mixed): a few streamed batches on CUDA. Runs only where a CUDA
device is present (`make test-all`, scripts/gpu_check.sh); elsewhere it says it was skipped."""

from __future__ import annotations

import math

import pytest
import torch
from featuretable import make_feature_table
from trainconfig import train_config

from desivoid_ml.training import train

pytestmark = pytest.mark.gpu


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_trainer_gpu_trains_a_few_batches_in_mixed_precision(db, tmp_path) -> None:
    make_feature_table(db, rows=20_000)
    cfg = train_config(
        db,
        tmp_path,
        ["trainer=gpu", "trainer.max_epochs=1", "+trainer.limit_train_batches=5", "test=false"],
    )
    assert math.isfinite(train(cfg))
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == 5
