"""SNS topics of the topology, delivered to their subscribed functions as SNS would."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from engagement.domain.timefmt import rfc3339
from infra.local.lambdas import ACCOUNT, REGION


def topic_arn(key: str) -> str:
    return f"arn:aws:sns:{REGION}:{ACCOUNT}:engagement-{key}"


def sns_event(key: str, message: str, now: datetime) -> dict[str, Any]:
    """The event a Lambda subscription receives for one published message."""
    arn = topic_arn(key)
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{arn}:{uuid.uuid4()}",
                "Sns": {
                    "Type": "Notification",
                    "MessageId": str(uuid.uuid4()),
                    "TopicArn": arn,
                    "Subject": None,
                    "Message": message,
                    "Timestamp": rfc3339(now),
                    "SignatureVersion": "1",
                    "Signature": "local",
                    "SigningCertUrl": "https://sns.local/cert.pem",
                    "UnsubscribeUrl": "https://sns.local/unsubscribe",
                    "MessageAttributes": {},
                },
            }
        ]
    }
