"""Benchmarks: `make bench` (`python -m bench`) prints each figure beside a baseline measured
in the same run. Not part of `make test`; needs the local PostgreSQL."""
