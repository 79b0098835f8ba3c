"""A stand-in for the person at the browser during `keepwarm auth`: ``$BROWSER`` runs this
with the consent URL. It answers at once (Python's ``webbrowser`` waits for the command, and
the loopback server only starts listening for the redirect after that) and, in a detached
child, opens the URL, which the fake Google answers with a redirect back to the loopback
port that urllib follows, exactly as a browser would after the person clicked "Allow".

Usage: google_browser.py URL   (the child is run as: google_browser.py --now URL)
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request


def main(argv: list[str]) -> int:
    if argv[:1] == ["--now"]:
        with urllib.request.urlopen(argv[1], timeout=30) as answer:
            answer.read()
        return 0
    subprocess.Popen([sys.executable, __file__, "--now", argv[0]], start_new_session=True,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
