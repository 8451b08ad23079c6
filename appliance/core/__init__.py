"""The domain and its storage. Imports no Flask, no sockets, no device library."""
