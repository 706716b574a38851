"""Length-grouped batches whose order depends on (data seed, epoch) only, so a run resumed mid-epoch trains on the
same batches as the uninterrupted run.

transformers' `LengthGroupedSampler` draws each epoch's order from torch's global RNG when the epoch's iterator is
created. On a resume mid-epoch, `Trainer` creates that iterator (then skips the finished batches) *before* it restores
the checkpoint's RNG state, so the resumed epoch gets another order (measured: the pipeline test's reranker run killed
at step 40 of 23-step epochs ended with eval loss 4.8636 against 4.8660 uninterrupted). accelerate solves this for
plain random sampling with `SeedableRandomSampler` (seed = data seed + epoch, `set_epoch` called by the Trainer); it
has no length-grouped counterpart, so this is one, on the same contract: the Trainer's `set_epoch(epoch)` reaches
it through accelerate's `DataLoaderShard.set_epoch`, also through `skip_first_batches` and, in multi-process runs,
`BatchSamplerShard` (every rank draws the same order from the same seed and takes its shard).
"""

from __future__ import annotations

import torch
from transformers.trainer_pt_utils import LengthGroupedSampler

from medtune.train import weighting


class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
    def __init__(self, batch_size: int, lengths: list[int], data_seed: int):
        super().__init__(batch_size, lengths=lengths)
        self.data_seed, self.epoch = data_seed, 0

    @classmethod
    def replacing(cls, sampler: LengthGroupedSampler, data_seed: int) -> "EpochSeededLengthGroupedSampler":
        """The same batches' grouping (size, lengths) as the Trainer's sampler, with the epoch-seeded order."""
        return cls(sampler.batch_size, list(sampler.lengths), data_seed)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        self.generator = torch.Generator().manual_seed(self.data_seed + self.epoch)
        yield from super().__iter__()
        self.epoch += 1  # as accelerate's SeedableRandomSampler: a loop that never calls set_epoch still reshuffles


def seeded_sft_trainer():
    """TRL's `SFTTrainer` with the epoch-seeded length-grouped sampler (imported lazily: trl is heavy)."""
    from trl import SFTTrainer

    class SeededSFTTrainer(SFTTrainer):
        def _get_train_sampler(self, train_dataset=None):
            sampler = super()._get_train_sampler(train_dataset)
            if isinstance(sampler, LengthGroupedSampler):
                seed = self.args.data_seed if self.args.data_seed is not None else self.args.seed
                return EpochSeededLengthGroupedSampler.replacing(sampler, seed)
            return sampler  # random sampling: accelerate's SeedableRandomSampler already seeds by epoch

        # Per-token loss weights (train/weighting.py): keep their column through TRL's dataset preparation, then take
        # each batch's weights off the inputs (the model takes no such argument) and apply them to TRL's own loss.
        def _set_signature_columns_if_needed(self):
            super()._set_signature_columns_if_needed()
            if weighting.COLUMN not in self._signature_columns:
                self._signature_columns = [*self._signature_columns, weighting.COLUMN]

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            weights = inputs.pop(weighting.COLUMN, None)
            if weights is not None:
                if self.args.loss_type != "nll":
                    raise ValueError(f"train.decision_weight needs TRL's nll loss, not {self.args.loss_type!r}")
                model = weighting.WeightedLogProbs(model, weights)
            return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)

    return SeededSFTTrainer
