"""Benchmarks and what they need: the synthetic-trial generator (`manage.py generate_synthetic`),
the Datasette comparison and the load test. Nothing in the project imports it."""
