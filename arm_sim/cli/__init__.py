"""The command line: argv -> commands."""
