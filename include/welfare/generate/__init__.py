"""Synthetic source systems: a believable Nakhon Sawan in contract-exact nightly drops."""

from welfare.generate.drops import GenerateOptions, generate

__all__ = ["GenerateOptions", "generate"]
