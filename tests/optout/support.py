"""Real files for the opt-out tests: XMP written by ExifTool, C2PA signed by c2pa-python.

Plain helpers rather than fixtures, so the tests run with `--noconftest` (no Django).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from PIL import Image

from registry.optout.iptc import EXIFTOOL_CONFIG
from tests.fingerprints.images import painting

VOCAB = "http://ns.useplus.org/ldf/vocab/"
PLUS = "http://ns.useplus.org/ldf/xmp/1.0/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "TIFF": "image/tiff"}


def image_bytes(fmt: str = "JPEG", seed: int = 1, **options: object) -> bytes:
    picture = painting(seed, size=(96, 72))
    out = io.BytesIO()
    picture.save(out, fmt, **options)
    return out.getvalue()


def exiftool(data: bytes, *arguments: str) -> bytes:
    """Run the real ExifTool over a file in memory, with the project's PLUS config."""
    tool = shutil.which("exiftool")
    assert tool, "exiftool missing: apt-get install libimage-exiftool-perl"
    command = [tool, "-config", str(EXIFTOOL_CONFIG), "-q", "-q", *arguments, "-o", "-", "-"]
    result = subprocess.run(command, input=data, capture_output=True, check=False, timeout=60)  # noqa: S603
    assert result.returncode == 0 and result.stdout, result.stderr.decode()
    return result.stdout


def with_data_mining(data: bytes, value: str) -> bytes:
    return exiftool(data, f"-XMP-plus:DataMining#={value}")


def exiftool_reads(data: bytes, tag: str = "XMP-plus:DataMining") -> str:
    """What ExifTool itself reads back: an independent check of a written file."""
    tool = shutil.which("exiftool")
    assert tool
    command = [tool, "-config", str(EXIFTOOL_CONFIG), "-s3", "-n", f"-{tag}", "-"]
    result = subprocess.run(command, input=data, capture_output=True, check=True, timeout=60)  # noqa: S603
    return result.stdout.decode().strip()


def xmp_packet(description: str, namespaces: str = f'xmlns:plus="{PLUS}"') -> bytes:
    return (
        "<?xpacket begin='\ufeff' id='W5M0MpCehiHzreSzNTczkc9d'?>"
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        f'<rdf:RDF xmlns:rdf="{RDF}">'
        f'<rdf:Description rdf:about="" {namespaces}>{description}</rdf:Description>'
        "</rdf:RDF></x:xmpmeta><?xpacket end='w'?>"
    ).encode()


def with_xmp_packet(data: bytes, packet: bytes) -> bytes:
    """Replace a file's XMP with `packet`, through ExifTool's XMP block writer."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "packet.xmp"
        path.write_bytes(packet)
        return exiftool(data, f"-XMP<={path}")


# --- C2PA ---------------------------------------------------------------------------


@cache
def test_signer_pem() -> tuple[bytes, bytes]:
    """A throwaway CA and an ES256 signing certificate under it: (chain PEM, key PEM).

    c2pa-rs refuses self-signed signing certificates, so the chain has two links; the
    signer needs digitalSignature and an extended key usage C2PA accepts.
    """
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Consentry Test CA")
    ca = (
        _certificate(ca_name, ca_name, ca_key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        _certificate(_name("Consentry Test Signer"), ca_name, key.public_key(), now)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    chain = leaf.public_bytes(pem) + ca.public_bytes(pem)
    private = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return chain, private


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Consentry tests"),
        ]
    )


def _certificate(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    now: dt.datetime,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


CREATED = {
    "label": "c2pa.actions",
    "data": {
        "actions": [
            {
                "action": "c2pa.created",
                "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCreation",
            }
        ]
    },
}


def training_mining(label: str = "c2pa.training-mining", **uses: str) -> dict[str, object]:
    """A training-mining assertion: training_mining(ai_training="notAllowed", ...)."""
    prefix = label.split(".")[0]
    entries = {f"{prefix}.{purpose}": {"use": use} for purpose, use in uses.items()}
    return {"label": label, "data": {"entries": entries}}


def signed_image(
    assertions: Sequence[Mapping[str, object]],
    *,
    fmt: str = "JPEG",
    source: bytes | None = None,
    remote_url: str | None = None,
) -> bytes:
    """An image signed in the test with c2pa-python's Builder and the test certificate."""
    chain, key = test_signer_pem()
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, key, None))
    manifest = {
        "claim_generator_info": [{"name": "consentry-tests", "version": "1"}],
        "title": "test work",
        "assertions": [CREATED, *assertions],
    }
    builder = c2pa.Builder(json.loads(json.dumps(manifest)))
    if remote_url:
        builder.set_no_embed()
        builder.set_remote_url(remote_url)
    out = io.BytesIO()
    builder.sign(signer, MIME[fmt], io.BytesIO(source or image_bytes(fmt)), out)
    return out.getvalue()


def gif_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("P", (16, 16), 3).save(out, "GIF")
    return out.getvalue()
