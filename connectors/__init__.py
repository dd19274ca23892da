"""The edges: HTTP gateway, bulk import, channel pushers."""
