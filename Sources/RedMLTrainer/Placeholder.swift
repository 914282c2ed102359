// RedMLTrainer: filled in by its own change.
