"""A run against StackOne: the workspace (the order in which every run changes the state
on disk), the applier of a plan, and the sender of each change."""
