"""docs/security.md lists every cdk-nag acknowledgement the program's stacks carry, per pack."""

from __future__ import annotations

from pathlib import Path

from stacks.nag_report import markdown, section_of

ROOT = Path(__file__).resolve().parents[2]


def test_security_page_lists_every_cdk_nag_acknowledgement_of_the_program(cloud_assembly: Path):
    # Given the example program synthesised (every pack ran; acknowledgements are in its metadata)
    generated = markdown(cloud_assembly)

    # Then each pack has acknowledgements with reasons, and the security page shows exactly these
    for pack in ("AwsSolutions", "PCI DSS 3.2.1", "NIST 800-53 rev 5"):
        assert f"#### {pack}: " in generated
    assert "|  |" not in generated  # no acknowledgement without its reason
    page = (ROOT / "docs" / "security.md").read_text()
    assert section_of(page) == generated, "regenerate it: python -m stacks.nag_report cdk.out"
