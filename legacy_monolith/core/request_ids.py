"""What a caller-supplied X-Request-ID may look like. No Django here: the gateway imports it too."""

import re

SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
