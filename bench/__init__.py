"""Province-scale benchmarks (``make bench``): not part of the product package or of ``make test``."""
