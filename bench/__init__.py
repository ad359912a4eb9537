"""The benchmark suite (issue 7): synthetic news site, extraction, indexing, end to end, re-poll
and peers. Run everything with `uv run python -m bench all`; each benchmark appends its figures
to `bench/RESULTS.md`. Never part of the test run (tests/test_bench*.py only check that each
benchmark runs and that its counts add up, at tiny sizes)."""
