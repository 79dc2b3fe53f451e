"""Compliance exports for regulators: each a generator of text chunks, so that an export of a
million rows is written as it is read and memory stays flat."""
