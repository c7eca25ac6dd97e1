"""What an app declares: its models, fields, junctions and enums, the facts of each value kind, and
the limits values must respect.
"""
