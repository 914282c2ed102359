// RedMLPostgres: filled in by its own change.
