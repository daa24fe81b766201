"""The receiver room."""
