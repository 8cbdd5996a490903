"""Conformance: public recordings of Azure (the az CLI's scenario recordings, the REST specs' examples) replayed
against a live arm-sim; status codes and JSON shapes compared (see README.md here)."""
