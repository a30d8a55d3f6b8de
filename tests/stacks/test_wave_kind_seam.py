"""Every wave kind plugs in at one seam per room, and nothing is missing for any kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.contracts import WaveKind

ROOT = Path(__file__).resolve().parents[2]


def missing_parts(
    kind: WaveKind, *, kinds=None, builders=None, seeders=None, docs: Path | None = None
) -> list[str]:
    """The parts a wave kind lacks, each as `<kind>: no <part> (<where it belongs>)`."""
    from stacks.workflows import BUILDERS
    from wavectl.kinds import KINDS
    from wavectl.local.seeders import SEEDERS

    kinds = KINDS if kinds is None else kinds
    builders = BUILDERS if builders is None else builders
    seeders = SEEDERS if seeders is None else seeders
    docs = ROOT / "docs" / "waves" if docs is None else docs
    module = kind.value.replace("-", "_")
    missing = []
    spec = kinds.get(kind)
    if spec is None or spec.model.model_fields["kind"].annotation.__args__ != (kind.value,):
        missing.append(f"{kind}: no runbook section model (wavectl/kinds/{module}.py, registered in KINDS)")
    if spec is None or not callable(spec.describe):
        missing.append(f"{kind}: no plan description (wavectl/kinds/{module}.py describe)")
    if kind not in builders:
        missing.append(f"{kind}: no workflow builder (stacks/workflows/{module}.py, registered in BUILDERS)")
    if kind not in seeders:
        missing.append(f"{kind}: no estate seeder (wavectl/local/seeders/{module}.py, registered in SEEDERS)")
    if not (docs / f"{kind.value}.md").is_file():
        missing.append(f"{kind}: no documentation page (docs/waves/{kind.value}.md)")
    return missing


@pytest.mark.parametrize("kind", list(WaveKind), ids=str)
def test_wave_kind_has_every_part(kind: WaveKind):
    # Given a wave kind of tasks.contracts.WaveKind
    # When its parts are looked up in each room's registry
    # Then none is missing
    assert missing_parts(kind) == []


def test_wave_kind_seam_names_the_kind_and_the_part_it_lacks(tmp_path: Path):
    # Given registries from which one kind's builder and seeder registrations were removed, and no docs
    from stacks.workflows import BUILDERS
    from wavectl.local.seeders import SEEDERS

    builders = {k: v for k, v in BUILDERS.items() if k != WaveKind.DNS_CUTOVER}
    seeders = {k: v for k, v in SEEDERS.items() if k != WaveKind.DNS_CUTOVER}

    # When the kind is checked
    missing = missing_parts(WaveKind.DNS_CUTOVER, builders=builders, seeders=seeders, docs=tmp_path)

    # Then the failure names the kind and each missing part with where it belongs
    assert missing == [
        "dns-cutover: no workflow builder (stacks/workflows/dns_cutover.py, registered in BUILDERS)",
        "dns-cutover: no estate seeder (wavectl/local/seeders/dns_cutover.py, registered in SEEDERS)",
        "dns-cutover: no documentation page (docs/waves/dns-cutover.md)",
    ]


def test_wave_kind_seam_reports_a_missing_model():
    # Given the wavectl/ registry without the database kind
    from wavectl.kinds import KINDS

    kinds = {k: v for k, v in KINDS.items() if k != WaveKind.DB_SNAPSHOT_COPY}

    # Then the model and the description are reported missing for that kind
    assert missing_parts(WaveKind.DB_SNAPSHOT_COPY, kinds=kinds)[:2] == [
        "db-snapshot-copy: no runbook section model (wavectl/kinds/db_snapshot_copy.py, registered in KINDS)",
        "db-snapshot-copy: no plan description (wavectl/kinds/db_snapshot_copy.py describe)",
    ]


# The orders-db definition as recorded at the last deliberate change of the database workflow; a
# refactoring that moves code between rooms must not change a byte of the ASL. A deliberate change
# updates this digest in the same commit, saying why. Changed by issue 14 (each database in its own
# child execution, compensation that waits for every child and ends as Wavectl.CompensationFailed,
# Catch on Record evidence and Clean up, max_concurrency 16) and issue 15 (the frame's `Resolve
# requester` step, the gate payload's requester fields), and issue 13 (one Slack thread per execution:
# `Tell Slack: started` after the requester is known, and a `Tell Slack: <step>` note after preflight,
# after every database is copied and after clean-up). Changed again by issue 14 at 500 databases: the
# Map is a Distributed Map reading preflight's item list from the evidence bucket (ItemReader) and
# writing its results there (ResultWriter), and `Summarise the copies` (a task, with a Catch to
# compensation) replaces the Pass that listed every result from the state.
ORDERS_DB_DEFINITION_SHA256 = "c9bef81f912ba69e1dace689100fdb9e98a10cde6bb95ff61083ba508e29265d"


def test_orders_db_definition_is_byte_identical_to_the_recorded_digest(cloud_assembly: Path):
    from tests.stacks.test_wave_stacks import version_descriptions

    # Given the synthesised orders-db stack
    description = version_descriptions(cloud_assembly)["Wave-orders-db"]

    # Then its version's definition digest is the recorded one
    assert description.endswith(f"sha256:{ORDERS_DB_DEFINITION_SHA256}")
