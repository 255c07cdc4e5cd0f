"""The IANA "Authentication Method Reference Values" registry (RFC 8176).

RFC 8176 registered 20 values; OpenID Foundation's EAP ACR Values 1.0 added ``pop``.
Values are case-sensitive: ``OTP`` is not ``otp``.

Example:
    >>> from mfa_amr import rfc8176
    >>> rfc8176.is_registered("otp"), rfc8176.is_registered("OTP")
    (True, False)
    >>> rfc8176.REGISTRY["hwk"]
    'proof of possession of a hardware-secured key'
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = [
    "FACE",
    "FPT",
    "GEO",
    "HWK",
    "IRIS",
    "KBA",
    "MCA",
    "MFA",
    "OTP",
    "PIN",
    "POP",
    "PWD",
    "RBA",
    "REGISTRY",
    "RETINA",
    "SC",
    "SMS",
    "SWK",
    "TEL",
    "USER",
    "VBM",
    "WIA",
    "is_registered",
]

FACE: Final = "face"
FPT: Final = "fpt"
GEO: Final = "geo"
HWK: Final = "hwk"
IRIS: Final = "iris"
KBA: Final = "kba"
MCA: Final = "mca"
MFA: Final = "mfa"
OTP: Final = "otp"
PIN: Final = "pin"
POP: Final = "pop"
PWD: Final = "pwd"
RBA: Final = "rba"
RETINA: Final = "retina"
SC: Final = "sc"
SMS: Final = "sms"
SWK: Final = "swk"
TEL: Final = "tel"
USER: Final = "user"
VBM: Final = "vbm"
WIA: Final = "wia"

REGISTRY: Final[Mapping[str, str]] = MappingProxyType(
    {
        FACE: "facial recognition biometric",
        FPT: "fingerprint biometric",
        GEO: "geolocation used for authentication",
        HWK: "proof of possession of a hardware-secured key",
        IRIS: "iris scan biometric",
        KBA: "knowledge-based authentication",
        MCA: "multiple-channel authentication (more than one distinct channel)",
        MFA: "multiple-factor authentication; the individual methods may also be listed",
        OTP: "one-time password (HOTP RFC 4226, TOTP RFC 6238)",
        PIN: "PIN or pattern that unlocks a key on the device",
        POP: "proof of possession of a key, hardware or software not specified",
        PWD: "password-based authentication",
        RBA: "risk-based authentication",
        RETINA: "retina scan biometric",
        SC: "smart card",
        SMS: "confirmation by SMS to a registered number",
        SWK: "proof of possession of a software-secured key",
        TEL: "confirmation by telephone call to a registered number",
        USER: "user presence test",
        VBM: "voice biometric",
        WIA: "Windows integrated authentication",
    }
)
"""Every registered value mapped to its meaning."""


def is_registered(value: object) -> bool:
    """Tell whether ``value`` is exactly (case-sensitively) a registered value."""
    return type(value) is str and value in REGISTRY
