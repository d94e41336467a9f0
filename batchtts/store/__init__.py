"""State on disk: the ledger, whole-or-nothing files, and the output folder's lock."""
