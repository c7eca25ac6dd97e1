"""The folder the stages meet on: its layout, file contracts (sizes and digests), atomic writes and
its lock.
"""
