// RedMLHTTP: filled in by its own change.
