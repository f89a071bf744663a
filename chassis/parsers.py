"""The request body parser: DRF's JSONParser, with a body nested too deeply to decode a 400 too.

Python's json decoder recurses once per nesting level and raises RecursionError (not a ValueError, which
DRF turns into a ParseError) past the interpreter's limit, so `[[[[...]]]]` a few thousand deep was a 500.
No contract of ours nests more than a few levels. The default parser of every service (chassis settings)
and of the monolith."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply") from None
