"""Linux ABI facts (constants, struct layouts) the sentry relies on; see linux.py."""
