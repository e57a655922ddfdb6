"""Synthetic source systems: a believable Nakhon Sawan in contract-exact nightly drops.

``geography`` and ``province`` build the areas, villages, authorities and people (calibrated to
the published figures, which ``calibration`` measures again on the files); ``registry``,
``msdhs`` and ``systems`` build each source system's records, named; ``drops`` writes them night
by night, ``sink`` renders and writes the files and manifests, and ``defects`` plants the defects
the loader and the warehouse must find, recorded in ``ground_truth.json``. The generator uses
only the contract: it shares nothing with the loader's checking, so one bug cannot hide on both
sides.
"""

from welfare.generate.drops import GenerateOptions, generate

__all__ = ["GenerateOptions", "generate"]
