"""medtune: reproducible fine-tuning pipelines for clinical-trial matching."""
__version__ = "0.1.0"
