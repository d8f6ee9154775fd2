"""Benchmarks of Beacon Mail against Postfix and Dovecot; see bench/README.md. Not tests."""
