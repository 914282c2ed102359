// RedMLRuntimeTests: filled in by its own change.
