"""E-mail over STARTTLS and implicit TLS with login, against a real local aiosmtpd server
with a self-signed certificate trusted through ``smtp_ca_file``."""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import ssl
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.ops.conftest import _Collect, free_port, ops_settings
from tracker.alerts.channels import send_email
from tracker.ops.doctor import run_checks


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return d / "cert.pem", d / "key.pem"


def _auth(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"tracker"
        and auth_data.password == b"s3cret-smtp"
    )
    return AuthResult(success=ok, handled=False)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_modes_with_login(cert, mode: str, caplog: pytest.LogCaptureFixture) -> None:
    certfile, keyfile = cert
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certfile, keyfile)
    handler = _Collect()
    port = free_port()
    kwargs = dict(hostname="127.0.0.1", port=port, authenticator=_auth, auth_required=True)
    if mode == "ssl":
        # Implicit TLS: aiosmtpd cannot tell the socket is TLS, so it must not hide AUTH.
        controller = Controller(handler, ssl_context=ctx, auth_require_tls=False, **kwargs)
    else:
        controller = Controller(handler, tls_context=ctx, require_starttls=True, **kwargs)
    controller.start()
    try:
        good = ops_settings(
            port,
            TRACKER_SMTP_TLS=mode,
            TRACKER_SMTP_USER="tracker",
            TRACKER_SMTP_PASSWORD="s3cret-smtp",
            TRACKER_SMTP_CA_FILE=str(certfile),
        )
        send_email(good, "kari@example.test", "Over TLS", "Hei", "mid-1")
        assert [m["Subject"] for m in handler.messages] == ["Over TLS"]
        # A wrong password is refused; the password is in no log line.
        wrong = ops_settings(
            port,
            TRACKER_SMTP_TLS=mode,
            TRACKER_SMTP_USER="tracker",
            TRACKER_SMTP_PASSWORD="wrong-pw",
            TRACKER_SMTP_CA_FILE=str(certfile),
        )
        with caplog.at_level(logging.DEBUG):
            checks = run_checks(wrong, None)
        smtp = next(c for c in checks if c.name == "smtp")
        assert smtp.status == "fail" and "SMTPAuthenticationError" in smtp.message
        assert "wrong-pw" not in smtp.message and "wrong-pw" not in caplog.text
        # Without trusting the certificate the connection is refused, not downgraded.
        untrusted = ops_settings(
            port,
            TRACKER_SMTP_TLS=mode,
            TRACKER_SMTP_USER="tracker",
            TRACKER_SMTP_PASSWORD="s3cret-smtp",
        )
        with pytest.raises(ssl.SSLError):
            send_email(untrusted, "kari@example.test", "No", "No")
        assert len(handler.messages) == 1
    finally:
        controller.stop()
