# Copyright: mailops.postfix_multi contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Two small SMTP servers for the MULTI_INSTANCE_README walk-through (test_readme_walkthrough.py).

The test copies this file into a lab host and runs it there with the host's python3 (standard
library only), in one of two roles:

``filter``  the README's content filter: an SMTP proxy listening where postfix-in's
            ``default_transport`` sends mail (the README's 127.0.0.1:10025) that re-injects
            every message into postfix-out's listener (the README's 127.0.0.1:10026). It relays
            each command as it comes (MAIL, RCPT, end of DATA) and answers with the next hop's
            reply, so a refusal downstream is a refusal upstream and nothing is lost. It adds
            its own ``Received:`` header, offers 8BITMIME, DSN and XFORWARD (the ESMTP features
            the README asks of a proxy) and passes the MAIL/RCPT parameters and the XFORWARD
            attributes on when the next hop offers them; several messages per session work.
``sink``    the internal mail hub (the README's ``relayhost = [mailhub.example.com]``, and the
            inside destination of postfix-out): accepts every message, adds its own
            ``Received:`` header, and stores it with its envelope as ``SPOOL/<id>.json``
            (``mail_from``, ``rcpt_to``, ``helo``, ``peer``, ``message``).

    python3 readme_smtp.py filter --listen 127.0.9.2:10025 --relay 127.0.9.2:10026 --name filter.example
    python3 readme_smtp.py sink --listen 127.0.9.3:25 --name mailhub.example --spool /var/lib/mailhub

Each command and reply is logged on stderr. SIGTERM stops the server.
"""

from __future__ import annotations

import argparse
import email.utils
import json
import os
import secrets
import signal
import smtplib
import socketserver
import sys
import threading

SOFTWARE = {"filter": "readme-walkthrough content filter", "sink": "readme-walkthrough mail hub"}
# The XFORWARD attributes Postfix sends (XFORWARD_README).
XFORWARD_ATTRIBUTES = ("NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE")
MAX_LINE = 8192


def split_address(arg: str) -> tuple[str, list[str]]:
    """``FROM:<a@b> BODY=8BITMIME`` -> ("a@b", ["BODY=8BITMIME"]); ValueError when it is not <...>."""
    _keyword, _colon, rest = arg.partition(":")
    rest = rest.strip()
    if not rest.startswith("<") or ">" not in rest:
        raise ValueError(arg)
    address, _gt, params = rest[1:].partition(">")
    return address, params.split()


def received(helo: str, peer: str, name: str, role: str, protocol: str, queue_id: str, rcpt_to: list[str]) -> bytes:
    """A Received: header in the layout Postfix writes (folded, ``for`` with one recipient)."""
    text = f"Received: from {helo or 'unknown'} ([{peer}])\r\n\tby {name} ({SOFTWARE[role]}) with {protocol} id {queue_id}"
    if len(rcpt_to) == 1:
        text += f"\r\n\tfor <{rcpt_to[0]}>"
    return (text + f"; {email.utils.formatdate(localtime=True)}\r\n").encode()


class Session(socketserver.StreamRequestHandler):
    server: Server

    def log(self, text: str) -> None:
        print(f"{self.client_address[0]}:{self.client_address[1]} {text}", file=sys.stderr, flush=True)

    def reply(self, code: int, text: str | bytes, extra: list[str] | None = None) -> None:
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        lines = [*(extra or []), *text.splitlines()] or [""]
        out = "".join(f"{code}{'-' if i < len(lines) - 1 else ' '}{line}\r\n" for i, line in enumerate(lines))
        self.log(f"<<< {out.strip()}")
        self.wfile.write(out.encode())
        self.wfile.flush()

    def reset(self) -> None:
        if self.upstream is not None:
            try:
                self.upstream.rset()
            except smtplib.SMTPException:
                self.close_upstream()
        self.mail_from: str | None = None
        self.rcpt_to: list[str] = []
        self.xforward: dict[str, str] = {}

    def close_upstream(self) -> None:
        if self.upstream is not None:
            try:
                self.upstream.quit()
            except (smtplib.SMTPException, OSError):
                self.upstream.close()
        self.upstream = None

    def handle(self) -> None:
        self.helo = ""
        self.protocol = "SMTP"
        self.xforward: dict[str, str] = {}
        self.upstream: smtplib.SMTP | None = None
        self.mail_from = None
        self.rcpt_to = []
        cfg = self.server.cfg
        self.reply(220, f"{cfg.name} ESMTP {SOFTWARE[cfg.role]}")
        try:
            while True:
                raw = self.rfile.readline(MAX_LINE)
                if not raw:
                    return
                line = raw.decode(errors="replace").rstrip("\r\n")
                self.log(f">>> {line}")
                verb, _sp, arg = line.partition(" ")
                handler = getattr(self, "smtp_" + verb.upper(), None)
                if handler is None:
                    self.reply(502, "5.5.2 Error: command not recognized")
                elif handler(arg.strip()) is False:
                    return
        except ConnectionError as exc:  # the client went away (a probe, or a dropped session)
            self.log(f"--- {exc}")
        finally:
            self.close_upstream()

    # -- commands ----------------------------------------------------------------------------
    def smtp_EHLO(self, arg: str) -> None:
        self.helo, self.protocol = arg, "ESMTP"
        self.reset()
        features = ["8BITMIME", "DSN", "ENHANCEDSTATUSCODES"]
        if self.server.cfg.role == "filter":
            features.append("XFORWARD " + " ".join(XFORWARD_ATTRIBUTES))
        self.reply(250, features[-1], [self.server.cfg.name, *features[:-1]])

    def smtp_HELO(self, arg: str) -> None:
        self.helo, self.protocol = arg, "SMTP"
        self.reset()
        self.reply(250, self.server.cfg.name)

    def smtp_XFORWARD(self, arg: str) -> None:
        if self.server.cfg.role != "filter":
            self.reply(502, "5.5.2 Error: command not recognized")
            return
        for item in arg.split():
            key, _eq, value = item.partition("=")
            if key.upper() not in XFORWARD_ATTRIBUTES:
                self.reply(501, f"5.5.4 Bad XFORWARD attribute name: {key}")
                return
            self.xforward[key.upper()] = value
        self.reply(250, "2.0.0 Ok")

    def smtp_MAIL(self, arg: str) -> None:
        if not self.helo:
            self.reply(503, "5.5.1 Error: send HELO/EHLO first")
            return
        if self.mail_from is not None:
            self.reply(503, "5.5.1 Error: nested MAIL command")
            return
        try:
            address, params = split_address(arg)
        except ValueError:
            self.reply(501, "5.5.4 Syntax: MAIL FROM:<address>")
            return
        if self.server.cfg.role == "filter":
            try:
                upstream = self.open_upstream()
                if self.xforward and upstream.has_extn("xforward"):
                    # before every MAIL: Postfix forgets the attributes at the end of a transaction
                    offered = set(upstream.esmtp_features["xforward"].upper().split())
                    attributes = " ".join(f"{k}={v}" for k, v in self.xforward.items() if k in offered)
                    code, text = upstream.docmd("XFORWARD", attributes)
                    self.log(f"next hop >>> XFORWARD {attributes} <<< {code} {text.decode(errors='replace')}")
                    if code != 250:
                        raise smtplib.SMTPResponseException(code, text)
                code, text = upstream.mail(address, params)
            except (smtplib.SMTPException, OSError) as exc:
                self.close_upstream()
                self.reply(451, f"4.4.0 next hop {self.server.cfg.relay} not available: {exc}")
                return
            if code != 250:
                self.reply(code, text)
                return
        self.mail_from = address
        self.reply(250, "2.1.0 Ok")

    def smtp_RCPT(self, arg: str) -> None:
        if self.mail_from is None:
            self.reply(503, "5.5.1 Error: need MAIL command")
            return
        try:
            address, params = split_address(arg)
        except ValueError:
            self.reply(501, "5.5.4 Syntax: RCPT TO:<address>")
            return
        if self.upstream is not None:
            code, text = self.upstream.rcpt(address, params)
            if code not in (250, 251):
                self.reply(code, text)
                return
        self.rcpt_to.append(address)
        self.reply(250, "2.1.5 Ok")

    def smtp_DATA(self, arg: str) -> None:  # noqa: ARG002  (every command takes its argument)
        if not self.rcpt_to:
            self.reply(503, "5.5.1 Error: need RCPT command")
            return
        self.reply(354, "End data with <CR><LF>.<CR><LF>")
        lines = []
        while True:
            raw = self.rfile.readline(MAX_LINE)
            if not raw:
                raise ConnectionError("connection lost in DATA")
            if raw in (b".\r\n", b".\n"):
                break
            lines.append(raw[1:] if raw.startswith(b".") else raw)
        queue_id = secrets.token_hex(5).upper()
        cfg = self.server.cfg
        message = received(self.helo, self.client_address[0], cfg.name, cfg.role, self.protocol, queue_id, self.rcpt_to) + b"".join(lines)
        if cfg.role == "filter":
            self.relay(message)
        else:
            self.store(queue_id, message)
            self.reply(250, f"2.0.0 Ok: queued as {queue_id}")
        self.mail_from, self.rcpt_to, self.xforward = None, [], {}

    def smtp_RSET(self, arg: str) -> None:  # noqa: ARG002
        self.reset()
        self.reply(250, "2.0.0 Ok")

    def smtp_NOOP(self, arg: str) -> None:  # noqa: ARG002
        self.reply(250, "2.0.0 Ok")

    def smtp_QUIT(self, arg: str) -> bool:  # noqa: ARG002
        self.reply(221, "2.0.0 Bye")
        return False

    # -- the filter's next hop, the sink's spool --------------------------------------------
    def open_upstream(self) -> smtplib.SMTP:
        if self.upstream is None:
            cfg = self.server.cfg
            host, _colon, port = cfg.relay.rpartition(":")
            upstream = smtplib.SMTP(host, int(port), local_hostname=cfg.name, timeout=120)
            upstream.ehlo()
            self.upstream = upstream
        return self.upstream

    def relay(self, message: bytes) -> None:
        if self.upstream is None:
            raise RuntimeError("no next hop open at DATA")
        try:
            code, text = self.upstream.data(message)
        except smtplib.SMTPResponseException as exc:
            code, text = exc.smtp_code, exc.smtp_error
        except (smtplib.SMTPException, OSError) as exc:
            self.close_upstream()
            code, text = 451, f"4.4.0 next hop {self.server.cfg.relay} failed: {exc}".encode()
        self.reply(code, text)

    def store(self, queue_id: str, message: bytes) -> None:
        record = {
            "id": queue_id,
            "mail_from": self.mail_from,
            "rcpt_to": self.rcpt_to,
            "helo": self.helo,
            "peer": self.client_address[0],
            "message": message.decode(errors="replace"),
        }
        spool = self.server.cfg.spool
        tmp = os.path.join(spool, f".{queue_id}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(record, fh, indent=1)
        os.rename(tmp, os.path.join(spool, f"{queue_id}.json"))


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, cfg: argparse.Namespace) -> None:
        self.cfg = cfg
        host, _colon, port = cfg.listen.rpartition(":")
        super().__init__((host, int(port)), Session)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=sorted(SOFTWARE))
    parser.add_argument("--listen", required=True, help="ADDRESS:PORT")
    parser.add_argument("--name", required=True, help="the name in the greeting and in the Received: header")
    parser.add_argument("--relay", help="filter: the next hop, ADDRESS:PORT")
    parser.add_argument("--spool", help="sink: where the messages go")
    cfg = parser.parse_args(argv)
    if (cfg.role == "filter") != bool(cfg.relay) or (cfg.role == "sink") != bool(cfg.spool):
        parser.error("filter needs --relay, sink needs --spool (and only they)")
    if cfg.spool:
        os.makedirs(cfg.spool, exist_ok=True)
    server = Server(cfg)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: threading.Thread(target=server.shutdown).start())
    print(f"{cfg.role} {cfg.name} listening on {cfg.listen}", file=sys.stderr, flush=True)
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
