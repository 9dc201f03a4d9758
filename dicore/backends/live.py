"""The live client of each vendor (the same code for the vendor's endpoint or a local
`dicore serve`)."""

from __future__ import annotations

from dicore.backends.base import Backend


def live_client(vendor: str, **options) -> Backend:
    if vendor == "aws":
        from dicore.backends.aws import AwsBackend

        return AwsBackend(**options)
    if vendor == "azure":
        from dicore.backends.azure import AzureBackend

        return AzureBackend(**options)
    from dicore.backends.naver import NaverBackend

    return NaverBackend(**options)
