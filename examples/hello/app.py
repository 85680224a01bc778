"""An ordinary HTTP API function, with no trace of chaos-layer in its code.

The SAM template and `make demo` put it under experiment with the layer's zero-code mode
(AWS_LAMBDA_EXEC_WRAPPER=/opt/chaos-layer).
"""

import json
from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    name = (event.get("queryStringParameters") or {}).get("name", "world")
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": f"hello, {name}"}),
    }
