"""What survives between runs and through a crash: the state file, the write-ahead
journal beside it, the recovery that folds the journal into the state, and the lock."""
