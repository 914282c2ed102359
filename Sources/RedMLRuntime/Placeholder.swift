// RedMLRuntime: filled in by its own change.
