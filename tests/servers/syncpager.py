"""An HTTP proxy in front of a CalDAV server that truncates every sync-collection answer to
one member per page (RFC 6578 section 3.6), as servers with a result limit do.

Radicale never truncates, so this plays the server that does. The continuation token it
hands out names the page and the token the client sent, so following the pages yields
exactly the real answer, split up; the last page carries the server's real new token.
With ``refuse``, it plays a server that lists sync-tokens but refuses the REPORT (403
DAV:supported-report). Everything else is forwarded untouched.
"""

from __future__ import annotations

import re
import threading
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

PREFIX = "urn:test:page:"
_TOKEN = re.compile(rb"(<(?:\w+:)?sync-token>)([^<]*)(</)")
# hop-by-hop headers, and Accept-Encoding so that answers come uncompressed to be rewritten
_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive", "host",
        "accept-encoding"}


class SyncPager:
    """``with SyncPager(server_url) as pager``: talk to ``pager.url`` instead."""

    def __init__(self, target: str, refuse: bool = False) -> None:
        self.target = target.rstrip("/")
        self.refuse = refuse
        self.truncated = 0  # truncated answers handed out
        pager = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def handle_one_request(self) -> None:
                self.raw_requestline = self.rfile.readline(65537)
                if not self.raw_requestline or not self.parse_request():
                    self.close_connection = True
                    return
                pager.forward(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> SyncPager:
        self.thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        page, sent = 0, b""
        syncing = handler.command == "REPORT" and b"sync-collection" in body
        if syncing:
            found = _TOKEN.search(body)
            sent = found.group(2) if found else b""
            if sent.startswith(PREFIX.encode()):
                number, _, sent = sent[len(PREFIX):].partition(b"|")
                page = int(number)
            body = _TOKEN.sub(lambda m: m.group(1) + sent + m.group(3), body, count=1)
        if syncing and self.refuse:
            refusal = b'<?xml version="1.0"?><error xmlns="DAV:"><supported-report/></error>'
            handler.send_response(403)
            handler.send_header("Content-Type", "application/xml; charset=utf-8")
            handler.send_header("Content-Length", str(len(refusal)))
            handler.end_headers()
            handler.wfile.write(refusal)
            return
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP}
        request = urllib.request.Request(self.target + handler.path, data=body or None,
                                         method=handler.command, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                status, answer_headers, data = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as error:
            status, answer_headers, data = error.code, error.headers, error.read()
        if syncing and status == 207:
            data = self._page(data, page, sent.decode(), handler.path)
        handler.send_response(status)
        for key, value in answer_headers.items():
            if key.lower() not in _HOP:
                handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def _page(self, data: bytes, page: int, sent: str, path: str) -> bytes:
        """Member ``page`` of the real answer, a 507 for the collection and a token for the
        next page; or, for the last member, it with the server's real token."""
        root = ET.fromstring(data)
        members = root.findall("{DAV:}response")
        token = root.find("{DAV:}sync-token")
        for member in members:
            root.remove(member)
        last = page + 1 >= len(members)
        for member in members[page:page + 1]:
            root.append(member)
        if not last:
            self.truncated += 1
            marker = ET.SubElement(root, "{DAV:}response")
            ET.SubElement(marker, "{DAV:}href").text = path
            ET.SubElement(marker, "{DAV:}status").text = "HTTP/1.1 507 Insufficient Storage"
            if token is not None:
                token.text = f"{PREFIX}{page + 1}|{sent}"
        return ET.tostring(root, xml_declaration=True, encoding="utf-8")
