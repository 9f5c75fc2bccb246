"""Email over SMTP with STARTTLS and a verified TLS context (never silently plaintext).

The server must offer STARTTLS; the certificate is verified against the system trust store or
the CA file named by `ca_file_env` (hostname checked). 4xx replies are transient (retried), 5xx
permanent. One email per batch, with a Message-ID derived from the batch id so a retried send
can be recognised as the same message.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from aimatrix_pipeline.alerts.channels.base import Channel, SendResult, iso


def render(batch, sender: str, to: list[str]) -> EmailMessage:
    payloads = batch.payloads
    first = payloads[0]
    label = first["action"].upper()
    msg = EmailMessage()
    subject = f"[{label}] {first['title']} ({first['project']})"
    if len(payloads) > 1:
        subject = f"[{label}] {len(payloads)} alerts on {first['project']}"
    msg["Subject"] = subject.replace("\n", " ")[:200]
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Message-ID"] = f"<{batch.batch_id}@aimatrix-pipeline>"
    lines = []
    for p in payloads:
        lines += [f"[{p['action'].upper()}] {p['title']} - severity {p['severity']}",
                  f"  project: {p['project']}   check: {p['check']}",
                  f"  detected: {iso(p['detected_at'])}   alert id: {p['alert_id']}",
                  f"  {p['message']}", ""]
    msg.set_content("\n".join(lines))
    return msg


class EmailChannel(Channel):
    def context(self) -> ssl.SSLContext:
        cafile = self.env("ca_file_env", required=False)
        return ssl.create_default_context(cafile=cafile or None)

    def send(self, batch) -> SendResult:
        host = self.env("host_env")
        port = int(self.cfg.options.get("port", 587))
        user = self.env("username_env", required=False)
        password = self.env("password_env", required=False)
        msg = render(batch, self.cfg.options["from"], list(self.cfg.options["to"]))
        try:
            with smtplib.SMTP(host, port, timeout=self.timeout_s) as smtp:
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    return SendResult(False, None, "server does not offer STARTTLS; refusing plaintext",
                                      permanent=True)
                smtp.starttls(context=self.context())
                smtp.ehlo()
                if user:
                    smtp.login(user, password or "")
                refused = smtp.send_message(msg)
                if refused:
                    codes = [c for c, _ in refused.values()]
                    return SendResult(False, codes[0], f"recipients refused: {sorted(refused)}",
                                      permanent=all(c >= 500 for c in codes))
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [c for c, _ in exc.recipients.values()]
            return SendResult(False, codes[0] if codes else None, "all recipients refused",
                              permanent=all(c >= 500 for c in codes))
        except smtplib.SMTPResponseException as exc:
            return SendResult(False, exc.smtp_code, f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"[:200],
                              permanent=exc.smtp_code >= 500)
        except ssl.SSLCertVerificationError as exc:
            return SendResult(False, None, f"TLS certificate not trusted: {exc.verify_message}", permanent=True)
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            return SendResult(False, None, f"SMTP connection error: {type(exc).__name__}: {exc}"[:200])
        return SendResult(True, 250)
