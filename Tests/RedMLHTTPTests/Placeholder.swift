// RedMLHTTPTests: filled in by its own change.
