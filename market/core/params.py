"""Integer parameters bounded by what their columns hold. An integer beyond them reached
PostgreSQL and came back as a driver error, a 500 (found by the API fuzz test); bounded,
it is refused as a bad parameter (400) and the schema states the range."""

from __future__ import annotations

from typing import Annotated

from litestar.params import Parameter

# Row ids are INTEGER. Amounts in fen and log sizes are BIGINT; 10**18 stands for its
# limit because the schema writes bounds as floats, and 2**63 - 1 is not exact as one.
ROW_ID_LIMIT = 2**31
BIG_LIMIT = 10**18

RowId = Annotated[int, Parameter(ge=-ROW_ID_LIMIT, le=ROW_ID_LIMIT - 1)]
OptionalBigInt = Annotated[int | None, Parameter(ge=-BIG_LIMIT, le=BIG_LIMIT)]
