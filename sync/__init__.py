"""Signed, encrypted change-log shipping between branches and the hub."""
