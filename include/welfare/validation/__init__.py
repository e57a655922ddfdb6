"""Validation: every row of a file checked against the rules of its extract.

``rules`` derives each extract's rules from the contract and the business rules, each with its
SQL condition (the exact predicate of a failing row) and message; ``expressions`` gives each rule
its Polars form, evaluated on the file's columns; ``suites`` builds the Great Expectations suite
of each extract from the rules (one expectation per rule, committed under ``expectations/``) and
runs it; ``checks`` ties them together for one file: the rule flags, the rule-results table, the
suite run on it, and the two counts compared.
"""
