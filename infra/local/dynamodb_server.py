"""moto's DynamoDB (and Streams) server on a local port, with a fault switch in front of it.

The same WSGI application ``moto_server`` runs, so the AWS CLI and any SDK can look inside;
the wrapper only answers a write with ProvisionedThroughputExceededException while a
throttle fault is armed, in the exact wire format DynamoDB uses, so boto3 retries it the way
it retries a real throttle.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from infra.local import moto_scale
from infra.local.faults import Faults

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
THROTTLE_BODY = json.dumps(
    {
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API.",
    }
).encode()


def with_write_throttle(app: WSGIApplication, faults: Faults) -> WSGIApplication:
    def throttling(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        operation = target.rpartition(".")[2]
        if (
            target.startswith("DynamoDB_")
            and operation in WRITE_OPERATIONS
            and faults.take_write_throttle(operation)
        ):
            start_response(
                "400 Bad Request",
                [("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(THROTTLE_BODY)))],
            )
            return [THROTTLE_BODY]
        return app(environ, start_response)

    return throttling


class DynamoDBServer:
    def __init__(
        self,
        host: str,
        port: int,
        faults: Faults,
        wrap: Callable[[WSGIApplication], WSGIApplication] | None = None,
    ) -> None:
        """``wrap`` goes around moto's application, inside the throttle: a throttled request
        never reaches moto, so it is never journaled either."""
        self._host, self._port, self._faults = host, port, faults
        self._wrap = wrap
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Serve in a background thread; returns the endpoint URL."""
        # Transactions that copy what they touch, not whole tables (the runner grew to 10 GB
        # scoring SMS events without it), scans that cost a page, iterators that expire.
        moto_scale.install()
        app: Any = DomainDispatcherApplication(create_backend_app)
        if self._wrap is not None:
            app = self._wrap(app)
        self._server = make_server(
            self._host,
            self._port,
            with_write_throttle(app, self._faults),
            threaded=True,
            request_handler=MotoRequestHandler,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="dynamodb", daemon=True)
        self._thread.start()
        return f"http://{self._host}:{self._server.server_port}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
