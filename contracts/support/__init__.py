"""Plumbing the rooms share and the contract does not speak of.

The sender, the receiver and the conformance checks each build on the core; what they all need
beyond it lives here, once: one SQLite file shared by threads and processes, names exported on
first use, HTTP requests bounded in total time and answer size, and a WSGI app served over real
HTTP. Nothing here knows the contract's rules.
"""
