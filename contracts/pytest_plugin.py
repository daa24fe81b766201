"""Pytest plugin (entry point ``pytest11``): fixtures for the real MLflow server and the stub site.

Imports nothing heavy at import time: every pytest run of any project with this package
installed loads this module.
"""

from __future__ import annotations
