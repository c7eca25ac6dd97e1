"""What every command runs on: worker processes, interrupts, progress bars, redaction, errors,
embedded servers, checks before writing.
"""
