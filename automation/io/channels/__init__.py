"""Sending notifications: the outbox folder, SMTP and the group robots (企业微信, 钉钉, 飞书).

Each channel takes one composed message and either delivers it or raises
:class:`ChannelError`; deciding what to send and the once-only queue live elsewhere
(``automation.core.notify``, ``automation.io.notify_queue``).
"""

from __future__ import annotations

from automation.errors import XietongError

E_NOTIFY_SEND = "E_NOTIFY_SEND"


class ChannelError(XietongError):
    """A channel refused or could not be reached; the message is retried later."""

    code = E_NOTIFY_SEND
    exit_code = 1
