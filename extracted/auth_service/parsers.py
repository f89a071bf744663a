"""The JSON body parser of this service's DRF views: DRF's own, except that a body nested deeper than
Python's recursion limit (`[[[[...]]]]`, a few hundred KB) is a 400 parse error, not a RecursionError."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply") from None
