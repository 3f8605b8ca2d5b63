"""What a project declares, read and checked offline: its config, its projects and ticket
files, YAML with positions, the JSON schemas, templates, and names resolved through the
directory file. Nothing here talks to StackOne or reads the state."""
