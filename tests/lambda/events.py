"""Lambda event payloads, built from AWS's documented formats, and a fake context.

- HTTP API payload 2.0 and Lambda function URLs ("Create AWS Lambda proxy
  integrations for HTTP APIs", "Lambda function URL request and response payloads"):
  ``version``/``rawPath``/``rawQueryString``, lower-case ``headers``, ``cookies``,
  ``requestContext.http``; a named stage appears in the path, ``$default`` does not.
- REST API proxy integration, payload 1.0 ("Input format of a Lambda function for
  proxy integration"): ``resource``/``path``/``httpMethod``, ``headers`` and
  ``multiValueHeaders``, nulls for absent maps; ``path`` never carries the stage,
  ``requestContext.path`` does on the execute-api domain.
- HTTP API payload 1.0 (the same page as 2.0): the REST API 1.0 shape plus
  ``version: "1.0"``; unlike REST APIs, a named stage is part of ``path`` (and
  ``requestContext.path``), ``$default`` adds nothing.
- ALB targets ("Lambda functions as targets"): ``requestContext.elb``, either
  ``headers``/``queryStringParameters`` or, with multi-value headers enabled on
  the target group, ``multiValueHeaders``/``multiValueQueryStringParameters``.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"
SOURCE_IP = "203.0.113.7"
USER_AGENT = "lambda-tests/1.0"
API_ID = "a1b2c3d4e5"
URL_ID = "abcdefghijklmnopqrstuvwxyz012345"
TARGET_GROUP_ARN = (
    f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:targetgroup/app-tg/6d0ecf831eec9f09"
)

HTTP_API = "http-api"
FUNCTION_URL = "function-url"
REST_API = "rest-api"
ALB = "alb"
ALB_MULTI = "alb-multi-value"
# The four front ends the handler serves (ALB in both of its header modes).
# HTTP API with payloadFormatVersion 1.0, on the $default stage and on a named one.
HTTP_API_V1 = "http-api-v1"
HTTP_API_V1_STAGE = "http-api-v1-stage"
NAMED_STAGE = "v1"

SOURCES = (HTTP_API, HTTP_API_V1, HTTP_API_V1_STAGE, FUNCTION_URL, REST_API, ALB, ALB_MULTI)

Query = Mapping[str, str | list[str]]


@dataclass
class FakeContext:
    """The attributes of the Lambda context object that code may read."""

    function_name: str = "fastapi-on-aws-dev"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/fastapi-on-aws-dev"
    log_stream_name: str = "2026/11/23/[$LATEST]0123456789abcdef"

    @property
    def invoked_function_arn(self) -> str:
        """The ARN the function was invoked by."""
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Plenty: these tests never race the timeout."""
        return 30_000


def _body(body: Any, base64_body: bool) -> tuple[str | None, bool]:
    if body is None:
        return None, False
    text = body if isinstance(body, str) else json.dumps(body)
    if base64_body:
        return base64.b64encode(text.encode()).decode(), True
    return text, False


def _request_headers(
    host: str, headers: Mapping[str, str] | None, body: Any, *, lower: bool
) -> dict[str, str]:
    merged = {
        "Host": host,
        "User-Agent": USER_AGENT,
        "Accept": "application/json",
        "X-Forwarded-For": SOURCE_IP,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
        "X-Amzn-Trace-Id": "Root=1-67890abc-0123456789abcdef01234567",
    }
    if body is not None and not isinstance(body, str):
        merged["Content-Type"] = "application/json"
    merged.update(headers or {})
    return {k.lower(): v for k, v in merged.items()} if lower else merged


def _single_values(query: Query | None) -> dict[str, str] | None:
    if not query:
        return None
    return {k: v[-1] if isinstance(v, list) else v for k, v in query.items()}


def _multi_values(query: Query | None) -> dict[str, list[str]] | None:
    if not query:
        return None
    return {k: list(v) if isinstance(v, list) else [v] for k, v in query.items()}


def _now() -> tuple[str, int]:
    epoch_ms = int(time.time() * 1000)
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_ms / 1000)), epoch_ms


def http_api_event(
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    query: Query | None = None,
    body: Any = None,
    base64_body: bool = False,
    stage: str = "$default",
    function_url: bool = False,
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) or function URL event for ``method path``."""
    domain = (
        f"{URL_ID}.lambda-url.{REGION}.on.aws"
        if function_url
        else f"{API_ID}.execute-api.{REGION}.amazonaws.com"
    )
    prefix = "" if stage == "$default" else f"/{stage}"
    raw_path = prefix + path
    request_headers = _request_headers(domain, headers, body, lower=True)
    text, encoded = _body(body, base64_body)
    when, epoch_ms = _now()
    route_key = "$default"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": urlencode(query or {}, doseq=True),
        "headers": request_headers,
        "requestContext": {
            "accountId": "anonymous" if function_url else ACCOUNT_ID,
            "apiId": URL_ID if function_url else API_ID,
            "domainName": domain,
            "domainPrefix": domain.split(".", 1)[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": SOURCE_IP,
                "userAgent": USER_AGENT,
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": stage,
            "time": when,
            "timeEpoch": epoch_ms,
        },
        "isBase64Encoded": encoded,
    }
    if query:
        # Duplicate keys arrive comma-joined in this format.
        event["queryStringParameters"] = {
            k: ",".join(v) if isinstance(v, list) else v for k, v in query.items()
        }
    if "cookie" in request_headers:
        event["cookies"] = [c.strip() for c in request_headers.pop("cookie").split(";")]
    if text is not None:
        event["body"] = text
    if function_url:
        event["pathParameters"] = None
        event["stageVariables"] = None
    return event


def function_url_event(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """A Lambda function URL event (the HTTP API 2.0 format on a lambda-url domain)."""
    return http_api_event(method, path, function_url=True, **kwargs)


def rest_api_event(
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    query: Query | None = None,
    body: Any = None,
    base64_body: bool = False,
    stage: str = "prod",
    custom_domain: str | None = None,
) -> dict[str, Any]:
    """A REST API proxy-integration event (resource ``/{proxy+}``) for ``method path``."""
    domain = custom_domain or f"{API_ID}.execute-api.{REGION}.amazonaws.com"
    request_headers = _request_headers(domain, headers, body, lower=False)
    text, encoded = _body(body, base64_body)
    when, epoch_ms = _now()
    # The client's path: with the stage on the execute-api domain, as-is on a custom domain.
    client_path = path if custom_domain else f"/{stage}{path}"
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": request_headers,
        "multiValueHeaders": {k: [v] for k, v in request_headers.items()},
        "queryStringParameters": _single_values(query),
        "multiValueQueryStringParameters": _multi_values(query),
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": domain,
            "domainPrefix": domain.split(".", 1)[0],
            "extendedRequestId": "c6af9ac6-EXTENDED",
            "httpMethod": method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "sourceIp": SOURCE_IP,
                "user": None,
                "userAgent": USER_AGENT,
                "userArn": None,
            },
            "path": client_path,
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTime": when,
            "requestTimeEpoch": epoch_ms,
            "resourceId": "abc123",
            "resourcePath": "/{proxy+}",
            "stage": stage,
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def http_api_v1_event(
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    query: Query | None = None,
    body: Any = None,
    base64_body: bool = False,
    stage: str = "$default",
) -> dict[str, Any]:
    """An HTTP API event in payload format 1.0 (route ``$default``) for ``method path``."""
    domain = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
    request_headers = _request_headers(domain, headers, body, lower=True)
    text, encoded = _body(body, base64_body)
    when, epoch_ms = _now()
    client_path = path if stage == "$default" else f"/{stage}{path}"
    return {
        "version": "1.0",
        "resource": "$default",
        "path": client_path,
        "httpMethod": method,
        "headers": request_headers,
        "multiValueHeaders": {k: [v] for k, v in request_headers.items()},
        "queryStringParameters": _single_values(query),
        "multiValueQueryStringParameters": _multi_values(query),
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": domain,
            "domainPrefix": API_ID,
            "extendedRequestId": "JTHd9hT5IAMEVbA=",
            "httpMethod": method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": SOURCE_IP,
                "user": None,
                "userAgent": USER_AGENT,
                "userArn": None,
            },
            "path": client_path,
            "protocol": "HTTP/1.1",
            "requestId": "JTHd9hT5IAMEVbA=",
            "requestTime": when,
            "requestTimeEpoch": epoch_ms,
            "resourceId": "$default",
            "resourcePath": "$default",
            "stage": stage,
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def alb_event(
    method: str,
    path: str,
    *,
    headers: Mapping[str, str] | None = None,
    query: Query | None = None,
    body: Any = None,
    base64_body: bool = False,
    multi_value: bool = False,
) -> dict[str, Any]:
    """An ALB target event; ``multi_value`` as when the target group enables multi-value headers."""
    request_headers = _request_headers(
        "app-alb-1234567890.elb.amazonaws.com", headers, body, lower=True
    )
    text, encoded = _body(body, base64_body)
    # The load balancer passes query values URL-encoded, exactly as the client sent them.
    encoded_query = {
        quote(k): [quote(x) for x in v] if isinstance(v, list) else quote(v)
        for k, v in (query or {}).items()
    }
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": TARGET_GROUP_ARN}},
        "httpMethod": method,
        "path": path,
        "body": text or "",
        "isBase64Encoded": encoded,
    }
    if multi_value:
        event["multiValueHeaders"] = {k: [v] for k, v in request_headers.items()}
        event["multiValueQueryStringParameters"] = _multi_values(encoded_query) or {}
    else:
        event["headers"] = request_headers
        event["queryStringParameters"] = _single_values(encoded_query) or {}
    return event


def http_event(source: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    """The event ``source`` (one of :data:`SOURCES`) sends for ``method path``."""
    if source == HTTP_API:
        return http_api_event(method, path, **kwargs)
    if source == HTTP_API_V1:
        return http_api_v1_event(method, path, **kwargs)
    if source == HTTP_API_V1_STAGE:
        return http_api_v1_event(method, path, stage=NAMED_STAGE, **kwargs)
    if source == FUNCTION_URL:
        return function_url_event(method, path, **kwargs)
    if source == REST_API:
        return rest_api_event(method, path, **kwargs)
    if source in (ALB, ALB_MULTI):
        return alb_event(method, path, multi_value=source == ALB_MULTI, **kwargs)
    raise ValueError(f"unknown event source {source!r}; use one of {SOURCES}")


# --- reading results ----------------------------------------------------------------------


def result_headers(result: Mapping[str, Any]) -> dict[str, list[str]]:
    """Every response header, lower-cased, whichever of the result's fields carries it."""
    headers: dict[str, list[str]] = {}
    for name, value in (result.get("headers") or {}).items():
        headers.setdefault(name.lower(), []).append(value)
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.setdefault(name.lower(), []).extend(values)
    if result.get("cookies"):
        headers.setdefault("set-cookie", []).extend(result["cookies"])
    return headers


def result_header(result: Mapping[str, Any], name: str) -> str | None:
    """One response header's (first) value, or None."""
    values = result_headers(result).get(name.lower())
    return values[0] if values else None


def result_text(result: Mapping[str, Any]) -> str:
    """The response body as text, decoding base64 when the result says so."""
    body = result.get("body") or ""
    if result.get("isBase64Encoded"):
        return base64.b64decode(body).decode()
    return str(body)


def result_json(result: Mapping[str, Any]) -> Any:
    """The response body parsed as JSON."""
    return json.loads(result_text(result))


# --- events the function must refuse ------------------------------------------------------
#
# Written from AWS's documented formats: "Input to an API Gateway Lambda authorizer"
# (TOKEN and REQUEST, REST API), "Working with AWS Lambda authorizers for HTTP APIs"
# (payload 1.0 and 2.0), "WebSocket API ... $connect/$default" events, "Lambda
# functions as targets in VPC Lattice" (event structure 1.0 and 2.0), and the
# sample events of the Lambda developer guide for SQS, SNS, S3, EventBridge and
# DynamoDB Streams. Each carries the request it guards or the record it delivers,
# and none is an HTTP request this function serves.

AUTHORIZER_TOKEN = "allow-me-0123456789"


def _method_arn(method: str, path: str, stage: str = "prod") -> str:
    return f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{API_ID}/{stage}/{method}{path}"


def rest_token_authorizer_event() -> dict[str, Any]:
    """A REST API TOKEN authorizer's input: the token and the method ARN, nothing else."""
    return {
        "type": "TOKEN",
        "authorizationToken": AUTHORIZER_TOKEN,
        "methodArn": _method_arn("GET", "/api/v1/items"),
    }


def rest_request_authorizer_event(method: str, path: str) -> dict[str, Any]:
    """A REST API REQUEST authorizer's input: the proxy request's fields plus type/methodArn."""
    event = rest_api_event(method, path, headers={"Authorization": f"Bearer {AUTHORIZER_TOKEN}"})
    # The authorizer sees the request's parameters, never its body.
    event.pop("body")
    event.pop("isBase64Encoded")
    return {"type": "REQUEST", "methodArn": _method_arn(method, path), **event}


def http_api_v1_authorizer_event(method: str, path: str) -> dict[str, Any]:
    """An HTTP API authorizer's input in payload format 1.0 (``version: "1.0"``)."""
    event = http_api_v1_event(method, path, headers={"Authorization": AUTHORIZER_TOKEN})
    event.pop("body")
    event.pop("isBase64Encoded")
    return {
        "version": "1.0",
        "type": "REQUEST",
        "methodArn": _method_arn(method, path, stage="$default"),
        "identitySource": AUTHORIZER_TOKEN,
        "authorizationToken": AUTHORIZER_TOKEN,
        **event,
    }


def http_api_v2_authorizer_event(method: str, path: str) -> dict[str, Any]:
    """An HTTP API authorizer's input in payload format 2.0: ``routeArn``, ``identitySource``."""
    event = http_api_event(method, path, headers={"Authorization": AUTHORIZER_TOKEN})
    event.pop("body", None)
    event.pop("isBase64Encoded")
    return {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": _method_arn(method, path, stage="$default"),
        "identitySource": [AUTHORIZER_TOKEN],
        **{k: v for k, v in event.items() if k != "version"},
    }


def websocket_event(route_key: str = "$connect") -> dict[str, Any]:
    """A WebSocket API event: ``requestContext.connectionId``/``eventType``, no HTTP method."""
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route_key, "MESSAGE")
    when, epoch_ms = _now()
    event: dict[str, Any] = {
        "headers": {"Host": f"{API_ID}.execute-api.{REGION}.amazonaws.com"},
        "multiValueHeaders": {"Host": [f"{API_ID}.execute-api.{REGION}.amazonaws.com"]},
        "requestContext": {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": "L1m1nDcCoAMFtUA=",
            "requestTime": when,
            "messageDirection": "IN",
            "stage": "production",
            "connectedAt": epoch_ms,
            "requestTimeEpoch": epoch_ms,
            "identity": {"sourceIp": SOURCE_IP, "userAgent": USER_AGENT},
            "requestId": "L1m1nDcCoAMFtUA=",
            "domainName": f"{API_ID}.execute-api.{REGION}.amazonaws.com",
            "connectionId": "L1m1nc4eoAMCJDg=",
            "apiId": API_ID,
        },
        "isBase64Encoded": False,
    }
    if event_type == "MESSAGE":
        event["body"] = '{"action": "sendmessage"}'
    return event


def vpc_lattice_v1_event(method: str, path: str) -> dict[str, Any]:
    """A VPC Lattice event in structure version 1.0 (snake_case keys, no requestContext)."""
    return {
        "raw_path": path,
        "method": method,
        "headers": {"user-agent": [USER_AGENT], "accept": ["application/json"]},
        "query_string_parameters": {},
        "body": "",
        "is_base64_encoded": False,
    }


def vpc_lattice_v2_event(method: str, path: str) -> dict[str, Any]:
    """A VPC Lattice event in structure version 2.0: ``version``, ``method``, ``path``."""
    service_network = (
        f"arn:aws:vpc-lattice:{REGION}:{ACCOUNT_ID}:servicenetwork/sn-0bf3f2882e9cc805a"
    )
    return {
        "version": "2.0",
        "path": path,
        "method": method,
        "headers": {"user-agent": [USER_AGENT], "x-forwarded-for": [SOURCE_IP]},
        "queryStringParameters": {},
        "body": "",
        "isBase64Encoded": False,
        "requestContext": {
            "serviceNetworkArn": service_network,
            "serviceArn": (
                f"arn:aws:vpc-lattice:{REGION}:{ACCOUNT_ID}:service/svc-0a40eebed65f8d69c"
            ),
            "targetGroupArn": (
                f"arn:aws:vpc-lattice:{REGION}:{ACCOUNT_ID}:targetgroup/tg-6d0ecf831eec9f09"
            ),
            "identity": {
                "sourceVpcArn": f"arn:aws:ec2:{REGION}:{ACCOUNT_ID}:vpc/vpc-0b8276c84697e7339"
            },
            "region": REGION,
            "timeEpoch": str(int(time.time() * 1_000_000)),
        },
    }


def sqs_event() -> dict[str, Any]:
    """An SQS batch of one message."""
    return {
        "Records": [
            {
                "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
                "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a...",
                "body": "Test message.",
                "attributes": {"ApproximateReceiveCount": "1", "SenderId": ACCOUNT_ID},
                "messageAttributes": {},
                "md5OfBody": "e4e68fb7bd0e697a0ae8f1bb342846b3",
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:my-queue",
                "awsRegion": REGION,
            }
        ]
    }


def sns_event() -> dict[str, Any]:
    """An SNS notification (``EventSource``, capitalised, as SNS spells it)."""
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:sns-lambda"
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:21be56ed-a058-49f5-8c98-aedd2564c486",
                "EventSource": "aws:sns",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
                    "TopicArn": topic,
                    "Subject": "example subject",
                    "Message": "example message",
                    "Timestamp": "1970-01-01T00:00:00.000Z",
                    "MessageAttributes": {},
                },
            }
        ]
    }


def s3_event() -> dict[str, Any]:
    """An S3 ObjectCreated:Put notification."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": "2026-11-23T12:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "bucket": {"name": "example-bucket", "arn": "arn:aws:s3:::example-bucket"},
                    "object": {"key": "test/key", "size": 1024, "eTag": "0123456789abcdef"},
                },
            }
        ]
    }


def eventbridge_event() -> dict[str, Any]:
    """An EventBridge scheduled event."""
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": "2026-11-23T12:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/my-schedule"],
        "detail": {},
    }


def dynamodb_event() -> dict[str, Any]:
    """A DynamoDB Streams INSERT record."""
    return {
        "Records": [
            {
                "eventID": "1",
                "eventVersion": "1.0",
                "dynamodb": {
                    "Keys": {"Id": {"N": "101"}},
                    "NewImage": {"Id": {"N": "101"}, "Message": {"S": "New item!"}},
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                    "SequenceNumber": "111",
                    "SizeBytes": 26,
                },
                "awsRegion": REGION,
                "eventName": "INSERT",
                "eventSourceARN": (
                    f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/ExampleTable/stream/2026-11-23"
                ),
                "eventSource": "aws:dynamodb",
            }
        ]
    }
