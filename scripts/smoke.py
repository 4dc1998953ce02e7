"""Smoke test of a deployed service, end to end: ``make smoke URL=https://…``.

Checks, one line each, in this order: ``/health`` and ``/health/ready`` answer
200; ``X-Request-ID`` is echoed; the security headers are set (and HSTS when
the URL is HTTPS); an unknown route answers the error envelope; an item named
uniquely for this run is created, read, updated and deleted (and deleted
anyway, in a ``finally``, when a step in between fails); plain ``http://``
redirects to HTTPS when the URL is HTTPS and the ALB serves it (API Gateway
has no port 80, so for the Lambda shape that check says it does not apply).
Every line carries the response time, printed and never judged. The last line
is ``N passed, N failed``; the exit status is 1 when anything failed.

The bearer token comes from the environment only, never from the command
line (``make`` echoes its recipes and ``ps`` shows argv): ``SMOKE_TOKEN``, or
``SMOKE_TOKEN_PARAMETER`` naming the SSM SecureString to read with boto3. It
is never printed: every line is scrubbed of it before it is written.

Usage::

    SMOKE_TOKEN=dev-token python -m scripts.smoke http://127.0.0.1:8000
    SMOKE_TOKEN_PARAMETER=/fastapi-on-aws/dev/api-token python -m scripts.smoke \\
        "$(pulumi stack output url)" --shape "$(pulumi stack output compute)"
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO

TOKEN_ENV = "SMOKE_TOKEN"  # noqa: S105 - the variable's name, not a token
TOKEN_PARAMETER_ENV = "SMOKE_TOKEN_PARAMETER"  # noqa: S105 - the variable's name
ITEMS = "/api/v1/items"
# docs/contracts.md: what every response carries.
SECURITY_HEADERS: Mapping[str, str] = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}
HSTS = "strict-transport-security"
REDACTED = "***"
Shape = Literal["auto", "fargate", "lambda"]
Status = Literal["PASS", "FAIL", "N/A"]


class UsageError(Exception):
    """The command was called wrongly (no URL, no token): exit status 2."""


@dataclass(frozen=True)
class Response:
    """One HTTP response: status, lowercased headers, body and how long it took."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    elapsed_ms: float

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


# (method, absolute URL, headers, body) -> response. Redirects are never followed.
Transport = Callable[[str, str, Mapping[str, str], bytes | None], Response]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Return 3xx responses as they are: the redirect check must see the 301 itself."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def urllib_transport(timeout: float = 10.0) -> Transport:
    """A stdlib HTTP(S) transport (no dependency beyond Python)."""
    opener = urllib.request.build_opener(_NoRedirect())

    def send(method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> Response:
        request = urllib.request.Request(url, data=body, method=method, headers=dict(headers))  # noqa: S310 - http(s) only, checked in main
        started = time.perf_counter()
        try:
            with opener.open(request, timeout=timeout) as reply:
                status, raw_headers, content = reply.status, reply.headers, reply.read()
        except urllib.error.HTTPError as error:
            status, raw_headers, content = error.code, error.headers, error.read()
        elapsed = (time.perf_counter() - started) * 1000
        return Response(
            status=status,
            headers={name.lower(): value for name, value in raw_headers.items()},
            body=content,
            elapsed_ms=elapsed,
        )

    return send


@dataclass
class Result:
    """One check's outcome, as printed."""

    name: str
    status: Status
    detail: str
    elapsed_ms: float | None = None


class CheckFailedError(Exception):
    """A check's expectation did not hold; the message says what was seen."""


@dataclass
class Smoke:
    """Run every check against ``base_url`` through ``transport`` and report."""

    base_url: str
    token: str
    transport: Transport
    shape: Shape = "auto"
    out: TextIO = field(default_factory=lambda: sys.stdout)
    results: list[Result] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    # ------------------------------------------------------------------ plumbing

    def url(self, path: str, *, scheme: str | None = None) -> str:
        """``path`` on the service (``scheme`` overrides the URL's, for the redirect)."""
        base = urllib.parse.urlsplit(self.base_url)
        root = base.path.rstrip("/")
        netloc = base.netloc if scheme is None else (base.hostname or "")
        route, _, query = path.partition("?")
        return urllib.parse.urlunsplit((scheme or base.scheme, netloc, root + route, query, ""))

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        auth: bool = False,
        headers: Mapping[str, str] | None = None,
        scheme: str | None = None,
    ) -> Response:
        """One request; JSON bodies and the bearer token are added here."""
        sent = {"Accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        if auth:
            sent["Authorization"] = f"Bearer {self.token}"
        return self.transport(method, self.url(path, scheme=scheme), sent, data)

    def redact(self, text: str) -> str:
        """``text`` without the token (a server could echo it in an error)."""
        return text.replace(self.token, REDACTED) if self.token else text

    def record(self, result: Result) -> None:
        """Keep and print one result line."""
        self.results.append(result)
        timing = "" if result.elapsed_ms is None else f" ({result.elapsed_ms:.1f} ms)"
        line = f"{result.status:<4} {result.name}: {result.detail}{timing}"
        print(self.redact(line), file=self.out, flush=True)

    @contextmanager
    def check(self, name: str) -> Iterator[list[float]]:
        """Run one check: PASS unless it raises; the yielded list collects its timings."""
        timings: list[float] = []
        try:
            yield timings
        except CheckFailedError as failure:
            self.record(Result(name, "FAIL", str(failure), sum(timings) if timings else None))
        except Exception as error:
            self.record(Result(name, "FAIL", f"{type(error).__name__}: {error}", None))
        else:
            self.record(Result(name, "PASS", "ok", sum(timings) if timings else None))

    def timed(self, timings: list[float], response: Response) -> Response:
        """Note a response's time for the check that made it."""
        timings.append(response.elapsed_ms)
        return response

    @staticmethod
    def expect_status(response: Response, expected: int, what: str) -> None:
        """Fail unless ``response`` has the ``expected`` status."""
        if response.status != expected:
            snippet = response.body[:200].decode("utf-8", "replace")
            raise CheckFailedError(
                f"{what} returned {response.status}, expected {expected}: {snippet}"
            )

    @property
    def https(self) -> bool:
        """Whether the service URL is HTTPS."""
        return urllib.parse.urlsplit(self.base_url).scheme == "https"

    def served_by(self) -> Shape:
        """The compute shape behind the URL: ``--shape``, else guessed from the host."""
        if self.shape != "auto":
            return self.shape
        host = urllib.parse.urlsplit(self.base_url).hostname or ""
        if host.endswith(".elb.amazonaws.com"):
            return "fargate"
        if ".execute-api." in host:
            return "lambda"
        return "auto"

    # -------------------------------------------------------------------- checks

    def run(self) -> int:
        """Every check in order; the exit status (0 when nothing failed)."""
        self.check_health()
        self.check_ready()
        self.check_request_id()
        self.check_security_headers()
        self.check_error_envelope()
        self.check_items()
        self.check_https_redirect()
        passed = sum(1 for r in self.results if r.status == "PASS")
        failed = sum(1 for r in self.results if r.status == "FAIL")
        skipped = sum(1 for r in self.results if r.status == "N/A")
        tail = f" ({skipped} not applicable)" if skipped else ""
        print(f"{passed} passed, {failed} failed{tail}", file=self.out, flush=True)
        return 1 if failed else 0

    def check_health(self) -> None:
        """Liveness: ``GET /health`` is 200."""
        with self.check("health") as timings:
            self.expect_status(self.timed(timings, self.call("GET", "/health")), 200, "GET /health")

    def check_ready(self) -> None:
        """Readiness (database and cache reachable): ``GET /health/ready`` is 200."""
        with self.check("ready") as timings:
            response = self.timed(timings, self.call("GET", "/health/ready"))
            self.expect_status(response, 200, "GET /health/ready")

    def check_request_id(self) -> None:
        """The caller's ``X-Request-ID`` comes back unchanged."""
        with self.check("request-id") as timings:
            sent = f"smoke-{self.run_id}-rid"
            response = self.timed(
                timings, self.call("GET", "/health", headers={"X-Request-ID": sent})
            )
            echoed = response.headers.get("x-request-id")
            if echoed != sent:
                raise CheckFailedError(f"X-Request-ID {sent!r} came back as {echoed!r}")

    def check_security_headers(self) -> None:
        """nosniff, frame denial, referrer policy; HSTS too when the URL is HTTPS.

        Read from an API route (the headers are set on every response).
        """
        with self.check("security-headers") as timings:
            response = self.timed(timings, self.call("GET", f"{ITEMS}?limit=1"))
            wrong = [
                f"{name}: {response.headers.get(name)!r} (expected {value!r})"
                for name, value in SECURITY_HEADERS.items()
                if response.headers.get(name) != value
            ]
            if self.https and "max-age=" not in response.headers.get(HSTS, ""):
                wrong.append(f"{HSTS}: {response.headers.get(HSTS)!r} (expected max-age=…)")
            if wrong:
                raise CheckFailedError("; ".join(wrong))

    def check_error_envelope(self) -> None:
        """An unknown route is a 404 with ``{"error": {code, message, request_id}}``."""
        with self.check("error-envelope") as timings:
            sent = f"smoke-{self.run_id}-404"
            response = self.timed(
                timings,
                self.call(
                    "GET", f"/smoke-{self.run_id}-no-such-route", headers={"X-Request-ID": sent}
                ),
            )
            self.expect_status(response, 404, "an unknown route")
            body = response.json()
            error = body.get("error") if isinstance(body, dict) else None
            if not isinstance(error, dict):
                raise CheckFailedError(f"no error envelope: {response.body[:200]!r}")
            if error.get("code") != "not_found" or not error.get("message"):
                raise CheckFailedError(f"envelope code/message: {error!r}")
            if error.get("request_id") != sent:
                raise CheckFailedError(
                    f"envelope request_id {error.get('request_id')!r}, sent {sent!r}"
                )

    def check_items(self) -> None:
        """Create, read, update and delete one item; delete it anyway if a step failed."""
        name = f"smoke-{self.run_id}"
        # A list, not a local: a check's context swallows its failure, so what was
        # created is known here whether the create check passed or not.
        created_ids: list[int] = []
        item_id: int | None = None
        deleted = False
        try:
            with self.check("create") as timings:
                response = self.timed(
                    timings,
                    self.call(
                        "POST",
                        ITEMS,
                        auth=True,
                        body={
                            "name": name,
                            "description": "created by scripts/smoke.py; safe to delete",
                            "price": "1.00",
                        },
                    ),
                )
                created = response.json()
                created = created if isinstance(created, dict) else {}
                # The id first: whatever else is wrong, the item must be deleted.
                if isinstance(created.get("id"), int):
                    created_ids.append(created["id"])
                self.expect_status(response, 201, f"POST {ITEMS}")
                if not created_ids:
                    raise CheckFailedError(f"no item id in {response.body[:200]!r}")
                if created.get("name") != name:
                    raise CheckFailedError(f"created name {created.get('name')!r}, sent {name!r}")
            if not created_ids:
                self.record(Result("read", "FAIL", "skipped: nothing was created"))
                self.record(Result("update", "FAIL", "skipped: nothing was created"))
                self.record(Result("delete", "FAIL", "skipped: nothing was created"))
                return
            item_id = created_ids[0]
            path = f"{ITEMS}/{item_id}"
            with self.check("read") as timings:
                response = self.timed(timings, self.call("GET", path))
                self.expect_status(response, 200, f"GET {path}")
                if (response.json() or {}).get("name") != name:
                    raise CheckFailedError(f"read back {response.body[:200]!r}")
            with self.check("update") as timings:
                response = self.timed(
                    timings, self.call("PATCH", path, auth=True, body={"price": "2.50"})
                )
                self.expect_status(response, 200, f"PATCH {path}")
                if (response.json() or {}).get("price") != "2.50":
                    raise CheckFailedError(f"price after PATCH: {response.body[:200]!r}")
            with self.check("delete") as timings:
                response = self.timed(timings, self.call("DELETE", path, auth=True))
                self.expect_status(response, 204, f"DELETE {path}")
                deleted = True
                response = self.timed(timings, self.call("GET", path))
                self.expect_status(response, 404, f"GET {path} after DELETE")
        finally:
            if item_id is not None and not deleted:
                self.clean_up(item_id)

    def clean_up(self, item_id: int) -> None:
        """Delete the run's item after a failed step, so no smoke data stays behind."""
        try:
            response = self.call("DELETE", f"{ITEMS}/{item_id}", auth=True)
        except Exception as error:
            self.record(Result("cleanup", "FAIL", f"item {item_id}: {type(error).__name__}"))
            return
        if response.status in (204, 404):
            detail = f"item {item_id} removed after a failed step ({response.status})"
            print(self.redact(f"     cleanup: {detail}"), file=self.out, flush=True)
        else:
            self.record(
                Result("cleanup", "FAIL", f"DELETE item {item_id} returned {response.status}")
            )

    def check_https_redirect(self) -> None:
        """``http://`` answers 301 to the same path on ``https://`` (ALB only)."""
        shape = self.served_by()
        if not self.https:
            self.record(Result("https-redirect", "N/A", "the URL is plain HTTP"))
            return
        if shape == "lambda":
            self.record(
                Result(
                    "https-redirect",
                    "N/A",
                    "the Lambda shape is served by API Gateway, which has no port 80",
                )
            )
            return
        if shape == "auto":
            self.record(
                Result("https-redirect", "N/A", "unknown compute shape: pass --shape fargate")
            )
            return
        with self.check("https-redirect") as timings:
            response = self.timed(timings, self.call("GET", "/health", scheme="http"))
            self.expect_status(response, 301, "GET http://…/health")
            location = response.headers.get("location", "")
            target = urllib.parse.urlsplit(location)
            expected = urllib.parse.urlsplit(self.url("/health"))
            # The ALB's redirect may spell the default port (:443) out.
            same = (
                target.scheme == "https"
                and target.hostname == expected.hostname
                and target.port in (None, 443, expected.port)
                and target.path == expected.path
            )
            if not same:
                raise CheckFailedError(
                    f"redirects to {location!r}, expected {self.url('/health')!r}"
                )


def token_from_environment(environ: Mapping[str, str]) -> str:
    """``SMOKE_TOKEN``, else the SSM SecureString ``SMOKE_TOKEN_PARAMETER`` names."""
    token = environ.get(TOKEN_ENV, "")
    if token:
        return token
    parameter = environ.get(TOKEN_PARAMETER_ENV, "")
    if not parameter:
        raise UsageError(
            f"set {TOKEN_ENV} (the API bearer token) or {TOKEN_PARAMETER_ENV} (its SSM "
            "parameter name) in the environment; never pass the token as an argument"
        )
    import boto3  # only here: local runs with SMOKE_TOKEN need no AWS SDK

    reply = boto3.client("ssm").get_parameter(Name=parameter, WithDecryption=True)
    return str(reply["Parameter"]["Value"])


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Parse the arguments, read the token from the environment, run the checks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the service's base URL (the stack output url)")
    parser.add_argument(
        "--shape",
        choices=("auto", "fargate", "lambda"),
        default="auto",
        help="compute shape behind the URL (stack output compute); auto guesses from the host",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    options = parser.parse_args(argv)
    url = str(options.url).strip()
    if (
        urllib.parse.urlsplit(url).scheme not in ("http", "https")
        or not urllib.parse.urlsplit(url).hostname
    ):
        print(f"smoke: {url!r} is not an http(s) URL (make smoke URL=https://…)", file=sys.stderr)
        return 2
    try:
        token = token_from_environment(os.environ if environ is None else environ)
    except UsageError as error:
        print(f"smoke: {error}", file=sys.stderr)
        return 2
    smoke = Smoke(url, token, urllib_transport(options.timeout), shape=options.shape)
    print(f"smoke test of {url} (run {smoke.run_id})", flush=True)
    return smoke.run()


if __name__ == "__main__":
    sys.exit(main())
