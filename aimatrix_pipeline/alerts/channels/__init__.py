"""Notification channels: each turns a batch of alerts into one request in its wire format.

A channel never decides whether to retry: it reports what the receiver said (`SendResult`) and the
delivery loop records it. Credentials come from environment variables named in the rules file,
read through `dagster.EnvVar` at send time, and never appear in errors or logs.
"""

from __future__ import annotations

from aimatrix_pipeline.alerts.channels.base import Channel, SendResult
from aimatrix_pipeline.shared.rules import ChannelConfig


def build_channel(cfg: ChannelConfig, timeout_s: float, clock, environ=None) -> Channel:
    from aimatrix_pipeline.alerts.channels.email import EmailChannel
    from aimatrix_pipeline.alerts.channels.pagerduty import PagerDutyChannel
    from aimatrix_pipeline.alerts.channels.slack import SlackChannel
    from aimatrix_pipeline.alerts.channels.webhook import WebhookChannel

    cls = {"slack": SlackChannel, "webhook": WebhookChannel, "pagerduty": PagerDutyChannel,
           "email": EmailChannel}[cfg.type]
    return cls(cfg, timeout_s=timeout_s, clock=clock, environ=environ)


__all__ = ["Channel", "SendResult", "build_channel"]
