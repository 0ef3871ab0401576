"""Red flags: patterns in the market's own records that a supervisor should look at.

``rules`` holds each kind as a pure function over plain data, ``service`` reads that data
from the database, ``web`` shows the flags to supervisors and administrators (pages and JSON).
"""
