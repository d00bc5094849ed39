"""supportctl: the operators' command line."""
