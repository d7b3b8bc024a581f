"""Contract tooling: generation from the specs, spec checks and breaking-change checks.

Every script takes ``--root`` (default: the repository) so the same code runs on the real specs
and on the small fixture specs under ``tests/spec/fixtures``.
"""
