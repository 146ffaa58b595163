"""aiosmtpd with AUTH required (the aiosmtpd CLI cannot configure an authenticator).

Usage: smtp_auth.py PORT MAILDIR USER PASSWORD. Stores messages in MAILDIR (Maildir format);
accepts AUTH PLAIN/LOGIN only for USER/PASSWORD; runs until killed.
"""
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

port, maildir, user, password = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]


def authenticate(server, session, envelope, mechanism, data):
    ok = (
        isinstance(data, LoginPassword)
        and data.login == user.encode()
        and data.password == password.encode()
    )
    # handled=False: aiosmtpd answers a failure with 535 itself (True would mean we did).
    return AuthResult(success=ok, handled=False)


controller = Controller(
    Mailbox(maildir),
    hostname="127.0.0.1",
    port=int(port),
    authenticator=authenticate,
    auth_required=True,
    # Loopback test peer; production relays use STARTTLS, tested separately.
    auth_require_tls=False,
)
controller.start()
while True:
    time.sleep(3600)
