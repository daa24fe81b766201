"""The conformance room."""
