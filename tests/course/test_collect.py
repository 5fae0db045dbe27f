"""Collection never mixes students: one test per attack on folders and LMS zips."""

from __future__ import annotations

import io
import json
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from mytorch_course import collect
from mytorch_course.collect import (
    Collected,
    CollectError,
    add_collection_notes,
    collect_submissions,
    safe_student_id,
)
from mytorch_course.reports import SubmissionResult

TOY = Path(__file__).resolve().parent / "fixtures" / "toy"
NB = TOY / "solutions" / "00-toy" / "00-toy.ipynb"
AID = "00-toy"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    for folder in ("solutions", "assignments"):
        (root / folder / AID).mkdir(parents=True)
        shutil.copy(NB, root / folder / AID / f"{AID}.ipynb")
    return root


def notebook(tag: str) -> bytes:
    """The toy notebook marked with ``tag``, so a filed copy tells whose it is."""
    nb = json.loads(NB.read_text())
    nb["metadata"]["owner_tag"] = tag
    return json.dumps(nb).encode()


def tag_of(work: Path, student: str) -> str:
    nb = json.loads((work / "submitted" / student / AID / f"{AID}.ipynb").read_text())
    return nb["metadata"]["owner_tag"]


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def make_folder(path: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_bytes(data)
    return path


def test_a_file_is_filed_under_its_folder_not_a_name_inside_it(root: Path, tmp_path: Path) -> None:
    # s2 names a file after s1: it stays s2's, and s1 keeps their own notebook.
    archive = make_zip(
        tmp_path / "lms.zip",
        {f"s1/{AID}.ipynb": notebook("by s1"), f"s2/s1_x_{AID}.ipynb": notebook("by s2")},
    )
    work = tmp_path / "work"
    got = collect_submissions(archive, root, work)
    assert got.jobs == [("s1", AID), ("s2", AID)]
    assert (tag_of(work, "s1"), tag_of(work, "s2")) == ("by s1", "by s2")
    assert got.notes == {}


def test_students_with_alike_names_stay_apart(root: Path, tmp_path: Path) -> None:
    # Canvas: same sortable name, different user ids; plain flat files: same first word.
    archive = make_zip(
        tmp_path / "canvas.zip",
        {
            f"smithjohn_101_9001_{AID}.ipynb": notebook("john 101"),
            f"smithjohn_LATE_102_9002_{AID}.ipynb": notebook("john 102"),
            f"john_smith_{AID}.ipynb": notebook("john smith"),
            f"john_doe_{AID}.ipynb": notebook("john doe"),
            f"Ann Lee_77_assignsubmission_file_{AID}.ipynb": notebook("moodle ann"),
        },
    )
    work = tmp_path / "work"
    got = collect_submissions(archive, root, work)
    students = [s for s, _ in got.jobs]
    assert len(students) == 5
    tags = {tag_of(work, s) for s in students}
    assert tags == {"john 101", "john 102", "john smith", "john doe", "moodle ann"}
    assert {"smithjohn_101", "smithjohn_102", "john_smith", "john_doe"} <= set(students)


def test_accepted_layouts(root: Path, tmp_path: Path) -> None:
    src = make_folder(
        tmp_path / "in" / "submissions",  # one enclosing folder, as when a folder is zipped
        {
            f"alice/{AID}/{AID}.ipynb": notebook("alice"),  # nbgrader
            f"bob/{AID}.ipynb": notebook("bob"),  # a folder per student
            f"carol/{AID}-Copy1.ipynb": notebook("carol"),  # renamed copy, still carol's
            f"Dan Ek_42_assignsubmission_file/{AID}.ipynb": notebook("dan"),  # Moodle folders
            "erin/notes.ipynb": notebook("not graded"),  # not a notebook of the course
        },
    )
    work = tmp_path / "work"
    got = collect_submissions(tmp_path / "in", root, work)
    owners = {s: tag_of(work, s) for s, _ in got.jobs}
    dan = safe_student_id("Dan Ek_42")
    assert owners == {"alice": "alice", "bob": "bob", "carol": "carol", dan: "dan"}
    assert (work / "submitted" / "alice" / AID / "timestamp.txt").is_file()
    assert any("erin/notes.ipynb" in s for s in got.skipped)
    assert src.is_dir()


def test_a_flat_file_without_an_owner_is_skipped_with_a_reason(root: Path, tmp_path: Path) -> None:
    src = make_folder(tmp_path / "in", {f"{AID}.ipynb": notebook("?")})
    got = collect_submissions(src, root, tmp_path / "work")
    assert got.jobs == []
    assert "without an owner" in got.skipped[0]


def test_two_different_files_for_one_notebook_are_reported_not_picked(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = make_folder(
        tmp_path / "in",
        {
            f"alice/{AID}.ipynb": notebook("first"),
            f"alice/{AID} (1).ipynb": notebook("second"),
            f"bob/{AID}.ipynb": notebook("bob"),
            f"bob/old/{AID}.ipynb": notebook("bob"),  # byte-identical copy: graded once
        },
    )
    work = tmp_path / "work"
    got = collect_submissions(src, root, work)
    assert got.jobs == [("bob", AID)]
    assert not (work / "submitted" / "alice").exists()
    (alice_note,) = got.notes[("alice", AID)]
    assert f"'alice/{AID}.ipynb'" in alice_note and f"'alice/{AID} (1).ipynb'" in alice_note
    assert "not graded" in alice_note
    assert "identical copies" in got.notes[("bob", AID)][0]
    assert f"alice/{AID} (1).ipynb" in capsys.readouterr().err  # the instructor sees it too


def test_the_reported_student_gets_a_result_with_the_reason(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    filled: list[SubmissionResult] = []

    def fake_fill(work: Path, results: list[SubmissionResult]) -> None:
        filled.extend(results)

    monkeypatch.setattr(collect, "fill_scores", fake_fill)
    monkeypatch.setattr("mytorch_course.autograde.prepare_course", lambda work, aids: None)
    got = Collected(notes={("alice", AID): ["00-toy: not graded: two files"]})
    graded = [SubmissionResult("bob", AID)]
    results = add_collection_notes(tmp_path, graded, got)
    assert [(r.student, r.notes) for r in results] == [
        ("alice", ["00-toy: not graded: two files"]),
        ("bob", []),
    ]
    assert [r.student for r in filled] == ["alice"]  # scored (0) with the note as reason


def test_zip_path_traversal_and_absolute_paths_are_refused(root: Path, tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "evil.zip",
        {
            f"../../escaped_{AID}.ipynb": notebook("traversal"),
            f"bob/../../../up_{AID}.ipynb": notebook("traversal"),
            f"/tmp/abs_{AID}.ipynb": notebook("absolute"),
            f"C:\\Users\\x\\win_{AID}.ipynb": notebook("drive"),
            f"ok/{AID}.ipynb": notebook("ok"),
        },
    )
    work = tmp_path / "sub" / "work"
    got = collect_submissions(archive, root, work)
    assert got.jobs == [("ok", AID)]
    assert len([s for s in got.skipped if "absolute or '..'" in s]) == 4
    leaked = [p for p in tmp_path.rglob("*.ipynb") if "escaped" in p.name or "up_" in p.name]
    assert leaked == []
    assert not Path(f"/tmp/abs_{AID}.ipynb").exists()


def test_symlinks_are_refused_in_zips_and_folders(root: Path, tmp_path: Path) -> None:
    secret = tmp_path / "instructor" / f"{AID}.ipynb"
    make_folder(secret.parent, {secret.name: notebook("instructor's solution")})
    info = zipfile.ZipInfo(f"mallory/{AID}.ipynb")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    buf = tmp_path / "link.zip"
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(info, str(secret))
        zf.writestr(f"bob/{AID}.ipynb", notebook("bob"))
    got = collect_submissions(buf, root, tmp_path / "w1")
    assert got.jobs == [("bob", AID)]
    assert any("symbolic link" in s for s in got.skipped)

    src = make_folder(tmp_path / "in", {f"bob/{AID}.ipynb": notebook("bob")})
    (src / "mallory").mkdir()
    (src / "mallory" / f"{AID}.ipynb").symlink_to(secret)
    (src / "eve").symlink_to(secret.parent, target_is_directory=True)
    got = collect_submissions(src, root, tmp_path / "w2")
    assert got.jobs == [("bob", AID)]
    assert any("mallory" in s and "symbolic link" in s for s in got.skipped)
    assert any("eve" in s and "symbolic link" in s for s in got.skipped)


def test_a_zip_bomb_is_bounded(root: Path, tmp_path: Path) -> None:
    # One huge member: refused by size, with a note for its student; the others are graded.
    huge = tmp_path / "huge.zip"
    with zipfile.ZipFile(huge, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open(f"mallory/{AID}.ipynb", "w") as fh:
            chunk = b"0" * 2**20
            for _ in range(101):  # 101 MB of zeros, a few hundred kB compressed
                fh.write(chunk)
        zf.writestr(f"bob/{AID}.ipynb", notebook("bob"))
    assert huge.stat().st_size < 2**20
    work = tmp_path / "w1"
    got = collect_submissions(huge, root, work)
    assert got.jobs == [("bob", AID)]
    assert "over the 100 MB limit" in got.notes[("mallory", AID)][0]
    assert sum(p.stat().st_size for p in (work / "extracted").iterdir()) < 2**20

    # Many members that together expand past the total bound: nothing is graded.
    many = make_zip(tmp_path / "many.zip", {f"s{i}/{AID}.ipynb": b"1" * 400_000 for i in range(5)})
    with pytest.raises(CollectError, match="expands to more than 1 MB.*zip bomb"):
        collect_submissions(many, root, tmp_path / "w2", max_total_bytes=2**20)


def test_a_member_whose_header_understates_its_size_is_cut(root: Path, tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "lie.zip", {f"mallory/{AID}.ipynb": b"2" * 50_000})
    data = bytearray(archive.read_bytes())
    # Rewrite the recorded uncompressed size (local header and central directory) to 10 bytes.
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(sig)
        data[at + offset : at + offset + 4] = (10).to_bytes(4, "little")
    archive.write_bytes(bytes(data))
    work = tmp_path / "work"
    try:  # zipfile notices the lie (CRC), or our own count cuts the member
        got = collect_submissions(archive, root, work, max_notebook_bytes=1000)
        assert "over the" in got.notes[("mallory", AID)][0]
    except CollectError as exc:
        assert "not a readable zip file" in str(exc)
    assert all(p.stat().st_size <= 1000 for p in (work / "extracted").iterdir())


def test_a_corrupt_zip_gives_a_clear_message(root: Path, tmp_path: Path) -> None:
    good = make_zip(tmp_path / "good.zip", {f"bob/{AID}.ipynb": notebook("bob") * 50})
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CollectError, match="neither a folder nor a readable zip"):
        collect_submissions(truncated, root, tmp_path / "w1")

    data = bytearray(good.read_bytes())
    start = data.find(b"PK\x03\x04") + 30 + len(f"bob/{AID}.ipynb") + 20
    data[start : start + 40] = bytes(40)  # damage the compressed stream, keep the directory
    damaged = tmp_path / "damaged.zip"
    damaged.write_bytes(bytes(data))
    with pytest.raises(CollectError, match="not a readable zip file"):
        collect_submissions(damaged, root, tmp_path / "w2")

    with pytest.raises(CollectError, match="does not exist"):
        collect_submissions(tmp_path / "nowhere.zip", root, tmp_path / "w3")


def test_unsafe_student_ids_are_cleaned_without_merging(root: Path, tmp_path: Path) -> None:
    raws = ["José", "Jos_", "Alice", "alice", "a:b", "-rf", "a b", "a_b", "x" * 200]
    src = make_folder(tmp_path / "in", {f"{r}/{AID}.ipynb": notebook(r) for r in raws})
    work = tmp_path / "work"
    got = collect_submissions(src, root, work)
    students = [s for s, _ in got.jobs]
    assert len(students) == len(raws)  # nobody merged
    assert len({s.casefold() for s in students}) == len(raws)  # not even on macOS
    for s in students:
        assert collect.SAFE_ID.match(s) or s[0].isalnum() and "/" not in s and len(s) < 60
    assert {tag_of(work, s) for s in students} == set(raws)
    assert "Jos_" in students and "a_b" in students  # safe ids are kept as they are
    assert safe_student_id("José") != "Jos_"
    assert sorted(p.name for p in (work / "submitted").iterdir()) == sorted(students)


def test_the_zip_never_extracts_by_member_name(root: Path, tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"bob/{AID}.ipynb", notebook("bob"))
    (tmp_path / "b.zip").write_bytes(buf.getvalue())
    work = tmp_path / "work"
    collect_submissions(tmp_path / "b.zip", root, work)
    assert [p.name for p in (work / "extracted").iterdir()] == ["0.ipynb"]
