"""The shop's own TLS: a certificate authority made on the box, and the server's
certificate it signs (``laneserver tls init``; docs/operations.md, "TLS").

Files, in the data folder's ``tls/``:

  shop-ca.pem          the CA's certificate: what each till and PDA is told to trust
  shop-ca-key.pem      its private key (0600): signs server certificates, nothing else
  server.pem           the server's certificate (the CA's, appended: the full chain)
  server-key.pem       its private key (0600)

The server's certificate names the box as the tills reach it: its host name (short,
full and ``.local``), ``localhost``, 127.0.0.1, ::1, every non-loopback address the
machine has now, and what store IT adds (``--name``, ``--ip``). ECDSA P-256 keys:
every browser a till runs (Chromium, Android's Chrome, Windows' Edge) takes them.

An existing CA is never replaced without ``--force`` (every till trusting it would have
to trust the new one); ``--server-only`` signs a new server certificate with the CA
already there (a new address, a renewal).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from laneserver.files import PRIVATE, write_atomically
from laneserver.store.schema import DATA_FOLDER_MODE

TLS_FOLDER = "tls"
CA_CERT = "shop-ca.pem"
CA_KEY = "shop-ca-key.pem"
SERVER_CERT = "server.pem"
SERVER_KEY = "server-key.pem"
PUBLIC = 0o644
CA_DAYS = 20 * 365
# Apple's devices refuse a server certificate valid longer than 825 days, even from a
# private CA; the others accept it. Renew with ``tls init --server-only``.
SERVER_DAYS = 825
SIOCGIFADDR = 0x8915


class TlsError(Exception):
    """``tls init`` refused, or the files ``[server] tls`` needs are missing."""


@dataclass(frozen=True)
class TlsFiles:
    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / CA_CERT

    @property
    def ca_key(self) -> Path:
        return self.folder / CA_KEY

    @property
    def cert(self) -> Path:
        return self.folder / SERVER_CERT

    @property
    def key(self) -> Path:
        return self.folder / SERVER_KEY


def files_of(data: Path) -> TlsFiles:
    return TlsFiles(data / TLS_FOLDER)


@dataclass(frozen=True)
class Issued:
    files: TlsFiles
    names: tuple[str, ...]
    addresses: tuple[str, ...]
    new_ca: bool
    not_after: dt.datetime


# --- the box's names and addresses --------------------------------------------------------

def machine_names() -> list[str]:
    """The names a till may use for this box: localhost, the host name, short and ``.local``."""
    names = ["localhost"]
    host = socket.gethostname().strip().lower().rstrip(".")
    if host:
        short = host.split(".")[0]
        names += [host, short, f"{short}.local"]
    return list(dict.fromkeys(names))


def machine_addresses() -> list[str]:
    """127.0.0.1, ::1 and the machine's other addresses now (IPv4 of every interface,
    IPv6 but link-local ones, which a URL cannot carry without a zone)."""
    found = ["127.0.0.1", "::1"]
    for _, name in socket.if_nameindex():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                packed = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
            except OSError:
                continue  # no IPv4 address on it
        found.append(socket.inet_ntoa(packed[20:24]))
    try:
        with open("/proc/net/if_inet6", encoding="ascii") as lines:
            for line in lines:
                address = ipaddress.IPv6Address(int(line.split()[0], 16))
                if not (address.is_link_local or address.is_loopback):
                    found.append(str(address))
    except OSError:
        pass  # no IPv6 here
    return list(dict.fromkeys(found))


# --- making them ----------------------------------------------------------------------------

def init(data: Path, *, names: list[str] = (), addresses: list[str] = (), force: bool = False,
         server_only: bool = False, now: dt.datetime | None = None, shop: str = "laneserver") -> Issued:
    """Make the CA (unless ``server_only``) and a server certificate in ``data/tls``.

    Raises:
        TlsError: a CA exists and neither ``force`` nor ``server_only`` was given;
            ``server_only`` without a CA; an address that is not an IP address.
    """
    files = files_of(data)
    now = now or dt.datetime.now(dt.timezone.utc)
    try:
        extra_ips = [str(ipaddress.ip_address(a.strip())) for a in addresses]
    except ValueError as error:
        raise TlsError(f"--ip: {error}") from None
    has_ca = files.ca_cert.exists() or files.ca_key.exists()
    if server_only:
        if not has_ca:
            raise TlsError(f"no shop CA in {files.folder}: run `laneserver tls init` first")
        ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
        ca_cert = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    elif has_ca and not force:
        raise TlsError(
            f"a shop CA exists already in {files.folder}: every till and PDA trusting it would have to be "
            "set up again with a new one. `laneserver tls init --server-only` signs a new server certificate "
            "with it (new names or addresses, a renewal); `--force` replaces the CA itself")
    else:
        data.mkdir(mode=DATA_FOLDER_MODE, parents=True, exist_ok=True)
        files.folder.mkdir(mode=0o700, exist_ok=True)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_cert = _ca_certificate(ca_key, shop, now)
        write_atomically(files.ca_key, _pem_key(ca_key), PRIVATE)
        write_atomically(files.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM), PUBLIC)
    all_names = tuple(dict.fromkeys([*machine_names(), *(n.strip().lower().rstrip(".") for n in names if n.strip())]))
    all_ips = tuple(dict.fromkeys([*machine_addresses(), *extra_ips]))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _server_certificate(key, ca_key, ca_cert, all_names, all_ips, now)
    write_atomically(files.key, _pem_key(key), PRIVATE)
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM)
    write_atomically(files.cert, chain, PUBLIC)
    return Issued(files, all_names, all_ips, new_ca=not server_only, not_after=cert.not_valid_after_utc)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _ca_certificate(key: ec.EllipticCurvePrivateKey, shop: str, now: dt.datetime) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{shop[:40]} shop CA ({now:%Y-%m-%d})"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, shop[:64] or "laneserver")])
    public = key.public_key()
    return (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256()))


def _server_certificate(key: ec.EllipticCurvePrivateKey, ca_key, ca_cert: x509.Certificate, names: tuple[str, ...],
                        ips: tuple[str, ...], now: dt.datetime) -> x509.Certificate:
    public = key.public_key()
    alt = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[-1])]))
            .issuer_name(ca_cert.subject).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))


# --- serving --------------------------------------------------------------------------------

def server_files(data: Path, cert: str = "", key: str = "") -> tuple[Path, Path]:
    """The certificate and key ``[server] tls = true`` serves with: ``tls_cert`` /
    ``tls_key`` when set (relative to the data folder), else ``tls/server.pem`` and
    ``tls/server-key.pem``.

    Raises:
        TlsError: one of them is missing (the message says what to run).
    """
    files = files_of(data)
    chosen = (data / cert if cert else files.cert, data / key if key else files.key)
    for path in chosen:
        if not path.is_file():
            raise TlsError(f"[server] tls = true but there is no {path}: run `laneserver tls init --data {data}` "
                           "(docs/operations.md, \"TLS\"), or set [server] tls_cert and tls_key")
    return chosen
