"""Synchronous SQLite access: schema, writes and reads.

Inside the server only the journal actor calls these functions, from its one
worker thread; the command line calls them directly. Nothing here knows Trio.
"""
