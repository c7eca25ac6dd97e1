"""BSON documents as columns: the byte index and its compiled walks, decoding to Arrow, ObjectId ->
UUID, dates.
"""
