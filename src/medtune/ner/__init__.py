"""GLiNER2 entity extraction: base building, training, saving/reloading, inference (seed 000's `ner`)."""
