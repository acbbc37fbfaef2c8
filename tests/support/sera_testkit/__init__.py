"""Test and benchmark support: not part of the installed sera_rectify package.

`synthetic` generates deterministic SERA-shaped source rows (the embedded sample in data/sample/, the
benchmark's inputs) and `constants` holds the literals and repository paths several test files share.
pytest finds this package through `pythonpath = ["tests/support"]` (pyproject.toml); the bench/ and
scripts/ programs that use it run with PYTHONPATH=tests/support (see the Makefile).
"""
