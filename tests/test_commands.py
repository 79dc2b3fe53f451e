"""The management commands operators and later tooling rely on."""

import json

from django.core.management import call_command

from registry.demo_art import artwork_bytes
from registry.models import Artist, Organization, OrganizationAPIKey, Purpose, Work
from registry.selectors.terms import effective_terms


def test_create_artist_makes_an_admin_login(db, capsys):
    call_command("create_artist", "mei", "--password", "long-enough-pw", "--display-name", "Mei 梅")

    artist = Artist.objects.get(user__username="mei")
    assert artist.display_name == "Mei 梅" and artist.user.is_staff and not artist.user.is_superuser
    assert artist.user.check_password("long-enough-pw")


def test_create_organization_and_api_key_prints_a_working_key_once(db, capsys):
    call_command("create_organization", "Acme AI")
    capsys.readouterr()

    call_command("create_api_key", "--organization", "Acme AI")

    key = capsys.readouterr().out.strip()
    stored = OrganizationAPIKey.objects.get(pk=OrganizationAPIKey.objects.get_from_key(key).pk)
    assert stored.organization == Organization.objects.get(name="Acme AI")
    assert key.split(".", 1)[1] not in stored.hashed_key  # only a hash of the secret is kept


def test_import_works_skips_bad_files_and_imports_the_rest(alice, tmp_path, capsys):
    (tmp_path / "a.jpg").write_bytes(artwork_bytes(501))
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "b.png").write_bytes(artwork_bytes(502, fmt="PNG"))
    (tmp_path / "truncated.jpg").write_bytes(artwork_bytes(503)[:2000])
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.jpg").write_text("not an image")
    (tmp_path / "caption.txt").write_text("a sidecar file, not reported")

    call_command(
        "import_works",
        str(tmp_path),
        "--artist",
        "alice",
        "--allow",
        "ai_training",
        "--license",
        "CC-BY-4.0",
    )

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_name = {line["path"].rsplit("/", 1)[-1]: line for line in lines}
    assert set(by_name) == {"a.jpg", "b.png", "truncated.jpg", "empty.png", "notes.jpg"}
    assert {name for name, line in by_name.items() if "work_id" in line} == {"a.jpg", "b.png"}
    assert all(by_name[name]["error"] for name in ("truncated.jpg", "empty.png", "notes.jpg"))
    works = Work.objects.filter(artist=alice)
    assert works.count() == 2
    terms = effective_terms(list(works.values_list("pk", flat=True)), Purpose.AI_TRAINING)
    assert {(t.permission, t.license) for t in terms.values()} == {("allowed", "CC-BY-4.0")}


def test_import_works_without_allow_keeps_works_consent_first(alice, tmp_path, capsys):
    (tmp_path / "a.jpg").write_bytes(artwork_bytes(504))

    call_command("import_works", str(tmp_path / "a.jpg"), "--artist", "alice")

    (work_id,) = Work.objects.values_list("pk", flat=True)
    for purpose in Purpose.values:
        assert effective_terms([work_id], purpose)[work_id].permission == "not_allowed"


def test_import_works_says_which_works_match_exact_copies_only(alice, tmp_path, capsys):
    from tests.api.test_upload_tasks import plain_png

    (tmp_path / "sky.png").write_bytes(plain_png())
    (tmp_path / "art.jpg").write_bytes(artwork_bytes(504))

    call_command("import_works", str(tmp_path), "--artist", "alice")

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_name = {line["path"].rsplit("/", 1)[-1]: line for line in lines}
    assert "exact copies only" in by_name["sky.png"]["notice"]
    assert "notice" not in by_name["art.jpg"] and "work_id" in by_name["art.jpg"]
