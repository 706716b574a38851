"""The epoch-seeded length-grouped sampler (train/sampling.py): its order depends on (data seed, epoch) only, which is
what makes a mid-epoch resume exact (the integration check is tests/test_ops_pipeline.py's kill-and-resume)."""

from __future__ import annotations

import torch

from medtune.train.sampling import EpochSeededLengthGroupedSampler

LENGTHS = [((i * 37) % 23) + 1 for i in range(40)]


def _order(sampler, epoch, global_seed):
    sampler.set_epoch(epoch)
    torch.manual_seed(global_seed)  # whatever the global RNG holds (a restored checkpoint state, dropout draws ...)
    return list(sampler)


def test_the_order_depends_on_seed_and_epoch_not_on_the_global_rng():
    sampler = EpochSeededLengthGroupedSampler(batch_size=4, lengths=LENGTHS, data_seed=7)
    first = _order(sampler, 2, global_seed=0)
    assert _order(sampler, 2, global_seed=12345) == first
    assert _order(EpochSeededLengthGroupedSampler(4, LENGTHS, data_seed=7), 2, global_seed=1) == first  # a fresh process
    assert _order(sampler, 3, global_seed=0) != first
    assert _order(EpochSeededLengthGroupedSampler(4, LENGTHS, data_seed=8), 2, global_seed=0) != first
    assert sorted(first) == list(range(len(LENGTHS)))


def test_a_loop_that_never_calls_set_epoch_still_reshuffles():
    sampler = EpochSeededLengthGroupedSampler(batch_size=4, lengths=LENGTHS, data_seed=7)
    epoch0, epoch1 = list(sampler), list(sampler)
    assert epoch0 != epoch1 and sampler.epoch == 2
    assert _order(sampler, 1, global_seed=0) == epoch1


def test_batches_stay_length_grouped():
    """transformers' grouping is kept, e.g. its rule that the longest row comes first (out-of-memory fails early)."""
    order = list(EpochSeededLengthGroupedSampler(batch_size=4, lengths=LENGTHS, data_seed=7))
    assert LENGTHS[order[0]] == max(LENGTHS)
