"""The sender room."""
