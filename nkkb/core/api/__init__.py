"""The API machinery every app's API builds on, a module per concern."""
