"""Domain rules with no I/O: state machines and money arithmetic."""
