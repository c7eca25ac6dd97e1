"""Generated data for demos, tests and the bench: the sample/bad datasets and the large columnar
dump.
"""
