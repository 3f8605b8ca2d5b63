"""The other way round: what an account already holds, written as files to review and
commit: its tickets as ticket files (export) and its names as the directory file (pull)."""
